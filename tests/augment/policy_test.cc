// Policy spec parsing: good specs, round trip, and errors that name the key.
#include "augment/policy.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"

namespace ds2::augment {
namespace {

// The message of the ConfigError thrown by parse(spec), or "" when none is thrown.
std::string parse_error(const std::string& spec) {
  try {
    AugmentPolicy::parse(spec);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Policy, ParsesIssueExample) {
  auto p = AugmentPolicy::parse(
      "copies=2,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1,tempo=0.95:1.05,pitch_cents=-300:300");
  EXPECT_EQ(p.copies, 2);
  EXPECT_DOUBLE_EQ(p.noise_prob, 0.4);
  EXPECT_EQ(p.snr_db, (Range{0, 15}));
  EXPECT_EQ(p.speed, (Range{0.9, 1.1}));
  EXPECT_EQ(p.tempo, (Range{0.95, 1.05}));
  EXPECT_EQ(p.pitch_cents, (Range{-300, 300}));
  EXPECT_EQ(p.babble, 0);
  EXPECT_EQ(p.seed, 1u);
}

TEST(Policy, DefaultsSingleValuesAndSpaces) {
  auto d = AugmentPolicy::parse("");
  EXPECT_EQ(d, AugmentPolicy{});
  EXPECT_EQ(d.copies, 0);
  auto p = AugmentPolicy::parse(" copies = 1 , speed=1.05, pitch_cents=-100:-50 ,");
  EXPECT_EQ(p.speed, (Range{1.05, 1.05}));
  EXPECT_EQ(p.pitch_cents, (Range{-100, -50}));
}

TEST(Policy, ToStringRoundTrips) {
  auto p = AugmentPolicy::parse(
      "copies=3,noise_prob=0.25,snr_db=-2.5:17.125,speed=0.9:1.1,tempo=1,pitch_cents=-300:300,"
      "babble=4,babble_prob=0.3,tempo_quick=1,seed=18446744073709551615");
  EXPECT_TRUE(p.tempo_quick);
  EXPECT_EQ(p.seed, 18446744073709551615ULL);
  EXPECT_EQ(AugmentPolicy::parse(p.to_string()), p);
  EXPECT_EQ(AugmentPolicy::parse(AugmentPolicy{}.to_string()), AugmentPolicy{});
}

TEST(Policy, ErrorsNameTheKey) {
  EXPECT_NE(parse_error("snr_db=0-15").find("--augment: key 'snr_db': expected lo:hi, got '0-15'"),
            std::string::npos)
      << parse_error("snr_db=0-15");
  EXPECT_NE(parse_error("colour=red").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(parse_error("speed=0:1.1").find("key 'speed'"), std::string::npos);
  EXPECT_NE(parse_error("speed=1.2:1.1").find("key 'speed': lo > hi"), std::string::npos);
  EXPECT_NE(parse_error("tempo=3").find("key 'tempo'"), std::string::npos);
  EXPECT_NE(parse_error("pitch_cents=-2000:0").find("key 'pitch_cents'"), std::string::npos);
  EXPECT_NE(parse_error("noise_prob=1.5").find("key 'noise_prob'"), std::string::npos);
  EXPECT_NE(parse_error("babble_prob=-0.1").find("key 'babble_prob'"), std::string::npos);
  EXPECT_NE(parse_error("copies=1.5").find("key 'copies': expected an integer"), std::string::npos);
  EXPECT_NE(parse_error("copies=-1").find("key 'copies'"), std::string::npos);
  EXPECT_NE(parse_error("copies=x").find("key 'copies': expected a number, got 'x'"),
            std::string::npos);
  EXPECT_NE(parse_error("tempo_quick=yes").find("key 'tempo_quick'"), std::string::npos);
  EXPECT_NE(parse_error("seed=-3").find("key 'seed'"), std::string::npos);
  EXPECT_NE(parse_error("snr_db=nan").find("key 'snr_db'"), std::string::npos);
  EXPECT_NE(parse_error("copies").find("not key=value"), std::string::npos);
  EXPECT_NE(parse_error("copies=1,copies=2").find("key 'copies' given twice"), std::string::npos);
}

TEST(Policy, NoiseSourcesChecked) {
  auto p = AugmentPolicy::parse("copies=1,noise_prob=0.4");
  EXPECT_THROW(p.check_noise_sources(0), ConfigError);
  EXPECT_NO_THROW(p.check_noise_sources(2));
  p.babble = 3;
  EXPECT_NO_THROW(p.check_noise_sources(0));
  EXPECT_NO_THROW(AugmentPolicy::parse("copies=1,noise_prob=0").check_noise_sources(0));
}

TEST(Policy, OptionsFromCommandLineAndFlags) {
  po::options_description desc;
  AugmentOptions o;
  o.add_to(desc);
  const char* argv[] = {"prep",
                        "--augment",
                        "copies=2,speed=0.9:1.1",
                        "--noise-manifest",
                        "n.tsv",
                        "--babble",
                        "3",
                        "--augment-seed",
                        "42"};
  po::variables_map vm;
  po::store(po::parse_command_line(9, argv, desc), vm);
  po::notify(vm);
  EXPECT_EQ(o.noise_manifest, "n.tsv");
  auto p = o.policy();
  EXPECT_EQ(p.copies, 2);
  EXPECT_EQ(p.babble, 3);
  EXPECT_EQ(p.seed, 42u);
  o.spec = "copies=2,babble=2";
  EXPECT_THROW(o.policy(), ConfigError);  // --babble 3 contradicts babble=2
  o.spec = "copies=2,babble=3,seed=42";
  EXPECT_NO_THROW(o.policy());
}

TEST(Policy, OptionsFromIniFile) {
  // The spec holds '=' and ',': an INI line splits at its first '=' only.
  po::options_description desc;
  AugmentOptions o;
  o.add_to(desc);
  std::istringstream ini(
      "augment = copies=1,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1\nbabble = 2\n");
  po::variables_map vm;
  po::store(po::parse_config_file(ini, desc, true), vm);
  po::notify(vm);
  auto p = o.policy();
  EXPECT_EQ(p.copies, 1);
  EXPECT_EQ(p.speed, (Range{0.9, 1.1}));
  EXPECT_EQ(p.babble, 2);
}

}  // namespace
}  // namespace ds2::augment
