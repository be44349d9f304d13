// parse_command(), start_command(), resolved_config() and command_line() (options.h): the
// command line first, then the INI file of --config (its top-level keys, the subcommand's own
// section and sections of dotted option names), every Boost error turned into one ConfigError.
#include "core/options.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/log.h"

namespace ds2 {

bool parse_command(int argc, char** argv, const std::string& usage, po::options_description& desc,
                   po::variables_map& vm, CommonOptions& common,
                   const po::positional_options_description* positional) {
  po::options_description all(100, 50);
  po::options_description common_desc("Common options", 100, 50);
  common_desc.add_options()("help,h", po::bool_switch(&common.help), "print this help and exit")(
      "config", po::value(&common.config), "INI file with options (command line wins)")(
      "verbose,v", po::value(&common.verbose)->default_value(common.verbose),
      "log level: 0 warnings, 1 info, 2 debug, 3 trace");
  all.add(desc).add(common_desc);
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help") && vm["help"].as<bool>()) {
      std::cout << "usage: " << usage << "\n\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      DS2_REQUIRE(in, IoError, "{}: cannot open config file", path);
      try {
        // One INI file can configure several subcommands: keys before any section, keys in the
        // section named after this subcommand ([prep]) and sections whose dotted names are
        // registered options ([model] -> model.*) apply; other sections are skipped.
        auto parsed = po::parse_config_file(in, all, true);
        const std::string section = std::string(argv[0]) + ".";
        std::vector<po::option> kept;
        for (auto& opt : parsed.options) {
          std::string key = opt.string_key;
          if (all.find_nothrow(key, false)) {
            // a registered dotted name, e.g. [model] rnn_layers -> model.rnn_layers
          } else if (key.rfind(section, 0) == 0) {
            key = key.substr(section.size());
          } else if (key.find('.') != std::string::npos) {
            continue;  // another subcommand's section
          }
          DS2_REQUIRE(all.find_nothrow(key, false), ConfigError, "{}: unknown option '{}'", path,
                      opt.string_key);
          opt.string_key = key;
          opt.unregistered = false;
          kept.push_back(opt);
        }
        parsed.options = kept;
        po::store(parsed, vm);
      } catch (const po::error& e) {
        DS2_THROW(ConfigError, "{}: {}", path, e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    DS2_THROW(ConfigError, "{} (see --help)", e.what());
  }
  return true;
}

namespace {
std::string value_text(const boost::any& v) {
  if (v.empty()) return "";
  if (auto p = boost::any_cast<std::string>(&v)) return *p;
  if (auto p = boost::any_cast<int>(&v)) return std::to_string(*p);
  if (auto p = boost::any_cast<int64_t>(&v)) return std::to_string(*p);
  if (auto p = boost::any_cast<uint64_t>(&v)) return std::to_string(*p);
  if (auto p = boost::any_cast<double>(&v)) return fmt::format("{}", *p);
  if (auto p = boost::any_cast<float>(&v)) return fmt::format("{}", *p);
  if (auto p = boost::any_cast<bool>(&v)) return *p ? "true" : "false";
  if (auto p = boost::any_cast<std::vector<std::string>>(&v)) {
    std::string s;
    for (const auto& x : *p) s += (s.empty() ? "" : " ") + x;
    return s;
  }
  return "?";
}
}  // namespace

bool start_command(int argc, char** argv, const std::string& usage, po::options_description& desc,
                   CommandArgs* args, const po::positional_options_description* positional) {
  if (!parse_command(argc, argv, usage, desc, args->vm, args->common, positional)) return false;
  set_log_verbosity(args->common.verbose);
  return true;
}

std::string resolved_config(const po::variables_map& vm) {
  std::ostringstream out;
  for (const auto& [name, val] : vm) {
    if (name == "help" || name == "config") continue;
    out << name << " = " << value_text(val.value()) << "\n";
  }
  return out.str();
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool plain = !a.empty() && a.find_first_of(" \t\"'$\\;&|<>*?()") == std::string::npos;
    if (!s.empty()) s += ' ';
    if (plain) {
      s += a;
    } else {
      s += '\'';
      for (char c : a) s += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      s += '\'';
    }
  }
  return s;
}

}  // namespace ds2
