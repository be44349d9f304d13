// One option style for the benchmarks: Boost.Program_options (core/options.h) with a "help"
// switch, parsed the same way by every bench_* program.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/options.h"

namespace ds2::bench {

// Parses argv into `desc` (notify included, so bound variables are set); `desc` declares
// "help" (or "help,h") itself. Returns false when --help was given, after printing the options
// when `print` (pass false on ranks other than 0). A bad option or value prints one line naming
// it (when `print`) and exits with status 2, as a usage error.
inline bool parse_options(int argc, char** argv, const po::options_description& desc,
                          bool print = true) {
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    if (print) {
      const std::string prog = argv[0];
      std::fprintf(stderr, "%s: %s (see --help)\n", prog.substr(prog.rfind('/') + 1).c_str(),
                   e.what());
    }
    std::exit(2);
  }
  if (!vm.count("help")) return true;
  if (print) std::cout << desc << "\n";
  return false;
}

// The items of a comma-separated option value ("16,64,256"), empty items dropped.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string t; std::getline(in, t, ',');)
    if (!t.empty()) out.push_back(t);
  return out;
}

}  // namespace ds2::bench
