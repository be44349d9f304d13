// Command-line + INI-file options on Boost.Program_options.
//
// Each component keeps an option struct with its defaults that registers itself:
//   struct PrepOptions { int shards = 16; void add_to(po::options_description& d); };
// A subcommand collects the structs into one description and calls parse_command(), which adds
// the common options (--help, --config FILE, --verbose N), reads the INI file (command line
// wins over the file), and reports any bad value as a one-line ConfigError naming the option.
#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace ds2 {

namespace po = boost::program_options;

struct CommonOptions {
  std::string config;  // INI file with the same option names (sections allowed: [prep] shards=16)
  int verbose = 1;     // 0 warnings, 1 info, 2 debug, 3 trace
  bool help = false;
};

// Parses argv[first..] against `desc`. Returns false (after printing usage) when --help was
// given. `usage` is the first help line, e.g. "ds2 prep --manifest FILE --out DIR [options]".
bool parse_command(int argc, char** argv, const std::string& usage, po::options_description& desc,
                   po::variables_map& vm, CommonOptions& common,
                   const po::positional_options_description* positional = nullptr);

// What start_command() parsed.
struct CommandArgs {
  po::variables_map vm;  // every option with its value (resolved_config(vm) writes them out)
  CommonOptions common;
};

// The start every ds2 subcommand shares (`*_main(argc, argv)`, argv[0] the subcommand's name):
// parse_command() on argv, then the log level of --verbose (ds2's main set up logging with
// this process's rank and size; they are kept). Returns false, after printing usage, when
// --help was given: the subcommand then returns 0. A bad option or value: ConfigError naming it.
bool start_command(int argc, char** argv, const std::string& usage, po::options_description& desc,
                   CommandArgs* args,
                   const po::positional_options_description* positional = nullptr);

// The resolved options as INI text (every option with a value, defaulted or not), for writing
// next to the outputs so a run can be reproduced.
std::string resolved_config(const po::variables_map& vm);

// The command line as one shell-quoted string.
std::string command_line(int argc, char** argv);

}  // namespace ds2
