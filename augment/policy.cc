// Parsing the --augment spec (policy.h): key=value pairs, strict numbers, lo:hi ranges; an
// unknown key or a bad value is a ConfigError naming the key.
#include "augment/policy.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "core/error.h"

namespace ds2::augment {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Strict number parse: the whole text must be one finite number.
bool parse_double(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size() && std::isfinite(out);
}

double number(const std::string& key, const std::string& value) {
  double v = 0;
  DS2_REQUIRE(parse_double(value, v), ConfigError,
              "--augment: key '{}': expected a number, got '{}'", key, value);
  return v;
}

int64_t integer(const std::string& key, const std::string& value) {
  double v = number(key, value);
  DS2_REQUIRE(v == std::floor(v) && std::fabs(v) < 9.0e15, ConfigError,
              "--augment: key '{}': expected an integer, got '{}'", key, value);
  return static_cast<int64_t>(v);
}

Range range(const std::string& key, const std::string& value) {
  // A leading '-' is a sign, so split at the first ':' only.
  size_t colon = value.find(':');
  Range r;
  bool ok;
  if (colon == std::string::npos) {
    ok = parse_double(value, r.lo);
    r.hi = r.lo;
  } else {
    ok = parse_double(value.substr(0, colon), r.lo) && parse_double(value.substr(colon + 1), r.hi);
  }
  DS2_REQUIRE(ok, ConfigError, "--augment: key '{}': expected lo:hi, got '{}'", key, value);
  DS2_REQUIRE(r.lo <= r.hi, ConfigError, "--augment: key '{}': lo > hi in '{}'", key, value);
  return r;
}

void check_range(const char* key, const Range& r, double min, double max) {
  DS2_REQUIRE(r.lo >= min && r.hi <= max && r.lo <= r.hi, ConfigError,
              "--augment: key '{}': {}:{} is outside {}..{}", key, r.lo, r.hi, min, max);
}

std::string range_text(const Range& r) { return fmt::format("{}:{}", r.lo, r.hi); }

}  // namespace

AugmentPolicy AugmentPolicy::parse(const std::string& spec) {
  AugmentPolicy p;
  std::set<std::string> seen;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    DS2_REQUIRE(eq != std::string::npos, ConfigError, "--augment: '{}' is not key=value (in '{}')",
                item, spec);
    const std::string key = trim(item.substr(0, eq));
    const std::string value = trim(item.substr(eq + 1));
    DS2_REQUIRE(seen.insert(key).second, ConfigError, "--augment: key '{}' given twice", key);
    if (key == "copies") {
      int64_t v = integer(key, value);
      DS2_REQUIRE(v >= 0 && v <= 100, ConfigError, "--augment: key 'copies': {} is outside 0..100",
                  value);
      p.copies = static_cast<int>(v);
    } else if (key == "noise_prob") {
      p.noise_prob = number(key, value);
    } else if (key == "snr_db") {
      p.snr_db = range(key, value);
    } else if (key == "speed") {
      p.speed = range(key, value);
    } else if (key == "tempo") {
      p.tempo = range(key, value);
    } else if (key == "pitch_cents") {
      p.pitch_cents = range(key, value);
    } else if (key == "babble") {
      int64_t v = integer(key, value);
      DS2_REQUIRE(v >= 0 && v <= 64, ConfigError, "--augment: key 'babble': {} is outside 0..64",
                  value);
      p.babble = static_cast<int>(v);
    } else if (key == "babble_prob") {
      p.babble_prob = number(key, value);
    } else if (key == "tempo_quick") {
      DS2_REQUIRE(value == "0" || value == "1", ConfigError,
                  "--augment: key 'tempo_quick': expected 0 or 1, got '{}'", value);
      p.tempo_quick = value == "1";
    } else if (key == "seed") {
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      DS2_REQUIRE(
          !value.empty() && value[0] != '-' && errno == 0 && end == value.c_str() + value.size(),
          ConfigError, "--augment: key 'seed': expected an unsigned integer, got '{}'", value);
      p.seed = v;
    } else {
      DS2_THROW(ConfigError,
                "--augment: unknown key '{}' (known: copies, noise_prob, snr_db, speed, tempo, "
                "pitch_cents, babble, babble_prob, tempo_quick, seed)",
                key);
    }
  }
  p.validate();
  return p;
}

void AugmentPolicy::validate() const {
  DS2_REQUIRE(copies >= 0 && copies <= 100, ConfigError,
              "--augment: key 'copies': {} is outside 0..100", copies);
  DS2_REQUIRE(noise_prob >= 0 && noise_prob <= 1, ConfigError,
              "--augment: key 'noise_prob': {} is outside 0..1", noise_prob);
  DS2_REQUIRE(babble_prob >= 0 && babble_prob <= 1, ConfigError,
              "--augment: key 'babble_prob': {} is outside 0..1", babble_prob);
  DS2_REQUIRE(babble >= 0 && babble <= 64, ConfigError,
              "--augment: key 'babble': {} is outside 0..64", babble);
  check_range("snr_db", snr_db, -30, 100);
  // Speed, tempo and pitch together stay inside what sox's tempo (0.1..100) and rate accept.
  check_range("speed", speed, 0.5, 2);
  check_range("tempo", tempo, 0.5, 2);
  check_range("pitch_cents", pitch_cents, -1200, 1200);
}

std::string AugmentPolicy::to_string() const {
  return fmt::format(
      "copies={},noise_prob={},snr_db={},speed={},tempo={},pitch_cents={},babble={},"
      "babble_prob={},tempo_quick={},seed={}",
      copies, noise_prob, range_text(snr_db), range_text(speed), range_text(tempo),
      range_text(pitch_cents), babble, babble_prob, tempo_quick ? 1 : 0, seed);
}

void AugmentPolicy::check_noise_sources(size_t n_noise_files) const {
  DS2_REQUIRE(copies == 0 || noise_prob == 0 || n_noise_files > 0 || babble > 0, ConfigError,
              "--augment: noise_prob={} but there is no noise: give --noise-manifest or "
              "--babble N, or set noise_prob=0",
              noise_prob);
}

bool AugmentPolicy::operator==(const AugmentPolicy& o) const {
  return copies == o.copies && noise_prob == o.noise_prob && snr_db == o.snr_db &&
         speed == o.speed && tempo == o.tempo && pitch_cents == o.pitch_cents &&
         babble == o.babble && babble_prob == o.babble_prob && tempo_quick == o.tempo_quick &&
         seed == o.seed;
}

void AugmentOptions::add_to(po::options_description& desc) {
  // clang-format off
  desc.add_options()
      ("augment", po::value(&spec)->default_value(spec),
       "augmentation policy, e.g. copies=2,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1,"
       "tempo=0.95:1.05,pitch_cents=-300:300 (empty: none)")
      ("noise-manifest", po::value(&noise_manifest)->default_value(noise_manifest),
       "noise audio files for --augment, one path per line (relative to this file)")
      ("babble", po::value(&babble)->default_value(babble),
       "babble noise: sum of N other utterances of the corpus (0: none)")
      ("augment-seed", po::value(&seed)->default_value(seed),
       "seed of all augmentation draws (with utt_id and copy)");
  // clang-format on
}

AugmentPolicy AugmentOptions::policy() const {
  AugmentPolicy p = AugmentPolicy::parse(spec);
  const AugmentPolicy defaults;
  if (babble != 0) {
    DS2_REQUIRE(p.babble == defaults.babble || p.babble == babble, ConfigError,
                "--babble {} contradicts babble={} in --augment", babble, p.babble);
    p.babble = babble;
  }
  if (seed != defaults.seed) {
    DS2_REQUIRE(p.seed == defaults.seed || p.seed == seed, ConfigError,
                "--augment-seed {} contradicts seed={} in --augment", seed, p.seed);
    p.seed = seed;
  }
  p.validate();
  return p;
}

}  // namespace ds2::augment
