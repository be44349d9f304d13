// One option style for the benchmarks: Boost.Program_options (core/options.h) with a "help"
// switch, parsed the same way by every bench_* program.
#pragma once

#include <iostream>

#include "core/options.h"

namespace ds2::bench {

// Parses argv into `desc` (notify included, so bound variables are set). Returns false when
// --help was given, after printing the options when `print` (pass false on ranks other than 0).
inline bool parse_options(int argc, char** argv, const po::options_description& desc,
                          bool print = true) {
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (!vm.count("help")) return true;
  if (print) std::cout << desc << "\n";
  return false;
}

}  // namespace ds2::bench
