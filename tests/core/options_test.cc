// core/options.h: INI file vs command line precedence, one-line errors naming the option,
// start_command's log level, shell quoting of the command line (expected values by hand).
#include "core/options.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "tests/testutil.h"

namespace ds2 {
namespace {

struct Opts {
  int shards = 16;
  int layers = 1;
  std::string out;
  void add_to(po::options_description& d) {
    d.add_options()("shards", po::value(&shards)->default_value(shards), "shard count")(
        "out", po::value(&out)->required(), "output dir")(
        "model.layers", po::value(&layers)->default_value(layers), "a dotted option");
  }
};

TEST(Options, CommandLineOverridesIniFile) {
  test::TempDir dir;
  write_file_atomic(
      dir / "c.ini",
      "out = from_file\n[other]\nunknown = 1\n[prep]\nshards = 4\n[model]\nlayers = 3\n");
  Opts o;
  po::options_description d("prep");
  o.add_to(d);
  po::variables_map vm;
  CommonOptions common;
  std::string cfg = dir / "c.ini";
  const char* argv[] = {"prep", "--config", cfg.c_str(), "--out", "cli"};
  ASSERT_TRUE(parse_command(5, const_cast<char**>(argv), "prep", d, vm, common));
  EXPECT_EQ(o.shards, 4);
  EXPECT_EQ(o.layers, 3);
  EXPECT_EQ(o.out, "cli");
  EXPECT_NE(resolved_config(vm).find("shards = 4"), std::string::npos);
}

TEST(Options, UnknownKeyInOwnSectionIsNamed) {
  test::TempDir dir;
  write_file_atomic(dir / "c.ini", "[prep]\nshardz = 4\n");
  Opts o;
  po::options_description d("prep");
  o.add_to(d);
  po::variables_map vm;
  CommonOptions common;
  std::string cfg = dir / "c.ini";
  const char* argv[] = {"prep", "--config", cfg.c_str(), "--out", "x"};
  try {
    parse_command(5, const_cast<char**>(argv), "prep", d, vm, common);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("prep.shardz"), std::string::npos) << e.what();
  }
}

TEST(Options, BadValueIsOneLineConfigError) {
  Opts o;
  po::options_description d("prep");
  o.add_to(d);
  po::variables_map vm;
  CommonOptions common;
  const char* argv[] = {"prep", "--shards", "many", "--out", "x"};
  try {
    parse_command(5, const_cast<char**>(argv), "prep", d, vm, common);
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("shards"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  const char* argv2[] = {"prep"};
  po::variables_map vm2;
  EXPECT_THROW(parse_command(1, const_cast<char**>(argv2), "prep", d, vm2, common), ConfigError);
}

TEST(Options, StartCommandSetsTheLogLevelOfVerboseAndKeepsRankAndSize) {
  // The oracle: log.h's level table (2 = debug, 0 = warnings only) and init_logging's rank/size.
  init_logging(3, 4, 1);
  Opts o;
  po::options_description d("prep");
  o.add_to(d);
  CommandArgs args;
  const char* argv[] = {"prep", "--out", "x", "--verbose", "2"};
  ASSERT_TRUE(start_command(5, const_cast<char**>(argv), "prep", d, &args));
  EXPECT_EQ(o.out, "x");
  EXPECT_EQ(args.common.verbose, 2);
  EXPECT_EQ(args.vm["out"].as<std::string>(), "x");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_EQ(log_rank(), 3);
  const char* quiet[] = {"prep", "--out", "x", "-v", "0"};
  CommandArgs args2;
  ASSERT_TRUE(start_command(5, const_cast<char**>(quiet), "prep", d, &args2));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  const char* help[] = {"prep", "--help"};
  CommandArgs args3;
  EXPECT_FALSE(start_command(2, const_cast<char**>(help), "prep", d, &args3));
  init_logging(0, 1, 1);
}

TEST(Options, CommandLineQuoting) {
  const char* argv[] = {"ds2", "prep", "--out", "a b", "it's"};
  EXPECT_EQ(command_line(5, const_cast<char**>(argv)), "ds2 prep --out 'a b' 'it'\\''s'");
}

TEST(Progress, FormatDuration) {
  EXPECT_EQ(Progress::format_duration(3723), "1:02:03");
  EXPECT_EQ(Progress::format_duration(-1), "--:--");
}

}  // namespace
}  // namespace ds2
