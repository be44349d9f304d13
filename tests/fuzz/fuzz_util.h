// Seeded mutation fuzzing for the parsers of outside input (fuzz_test.cc).
//
// Mutator: starts from valid seed inputs of a format and applies 1-4 random edits per input:
// bit flips, byte sets to boundary values, random byte inserts, range deletes, dictionary tokens
// (tabs, quotes, braces, NUL, invalid UTF-8, huge and special numbers, format keywords) inserted
// or overwriting, splices from another seed, truncation, repeated chunks, digit runs replaced by
// huge numbers, and 32-bit boundary values written into the first 64 bytes (binary headers).
// With probability 1/3 it keeps editing its previous output, so edits accumulate. Everything
// comes from one std::mt19937_64 seeded by (DS2_FUZZ_SEED or 1, parser name): input k of a run
// is the same on every machine, so a failure reproduces by rerunning the test.
//
// run_fuzz: feeds inputs to one parser for DS2_FUZZ_SECONDS (default 3) seconds of wall time
// and at least kMinInputs inputs. The parser callback returns normally (input accepted) or
// throws; a ds2::Error must pass the caller's message check, and any other exception fails the
// test. Each input is written to `input_file` before the parser runs (the callback reads that
// file), so after a crash the input that caused it is on disk (the test prints its work dir,
// which a crash does not remove). A watchdog aborts the process when one input takes longer
// than kHangSeconds (a hang), naming that file.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace ds2::fuzz {

constexpr size_t kMaxInput = 1 << 16;  // bytes; longer mutants are cut
constexpr int64_t kMinInputs = 200;    // even on a slow machine
constexpr double kHangSeconds = 20;    // one input

inline uint64_t fuzz_seed() {
  const char* s = std::getenv("DS2_FUZZ_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 1;
}

inline double fuzz_seconds() {
  const char* s = std::getenv("DS2_FUZZ_SECONDS");
  return s ? std::atof(s) : 3.0;
}

// Tokens that parsers of text formats tend to mishandle.
inline std::vector<std::string> common_tokens() {
  return {"\t",
          "\"",
          "'",
          "\\",
          "{",
          "}",
          "[",
          "]",
          ",",
          ":",
          "=",
          "(",
          ")",
          " ",
          "\n",
          "\r\n",
          "\r",
          std::string(1, '\0'),
          "\xff",
          "\xc3",
          "\xed\xa0\x80",
          "\xf4\x90\x80\x80",
          "\xc0\xaf",
          "\xe2\x80\xa8",
          "1e308",
          "-1e308",
          "1e999",
          "-1e-400",
          "nan",
          "-nan",
          "inf",
          "-inf",
          "-0",
          "0x1p-1074",
          "99999999999999999999",
          "-2147483648",
          "2147483648",
          "4294967296",
          "9223372036854775808",
          "-9223372036854775809",
          "null",
          "true",
          "#",
          ";",
          "~",
          "/",
          "..",
          "-",
          "."};
}

class Mutator {
 public:
  Mutator(uint64_t seed, std::vector<std::string> seeds, std::vector<std::string> dict)
      : rng_(seed), seeds_(std::move(seeds)), dict_(std::move(dict)) {}

  std::string next() {
    std::string s = (!last_.empty() && pick(3) == 0) ? last_ : seeds_[pick(seeds_.size())];
    const size_t edits = 1 + pick(4);
    for (size_t e = 0; e < edits; ++e) edit(&s);
    if (s.size() > kMaxInput) s.resize(kMaxInput);
    last_ = s;
    return s;
  }

 private:
  size_t pick(size_t n) { return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng_) : 0; }
  size_t pos(const std::string& s) { return pick(s.size() + 1); }  // 0..size
  const std::string& token() { return dict_[pick(dict_.size())]; }

  void edit(std::string* s) {
    switch (pick(11)) {
      case 0:  // bit flip
        if (!s->empty()) (*s)[pick(s->size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1: {  // boundary byte
        static const char kBytes[] = {0, 1, 0x7f, static_cast<char>(0x80), static_cast<char>(0xff)};
        if (!s->empty()) (*s)[pick(s->size())] = kBytes[pick(5)];
        break;
      }
      case 2: {  // random bytes
        std::string r(1 + pick(4), '\0');
        for (char& c : r) c = static_cast<char>(pick(256));
        s->insert(pos(*s), r);
        break;
      }
      case 3: {  // delete a range
        if (s->empty()) break;
        const size_t at = pick(s->size());
        s->erase(at, 1 + pick(16));
        break;
      }
      case 4:  // dictionary token inserted
        s->insert(pos(*s), token());
        break;
      case 5: {  // dictionary token overwrites
        const std::string& t = token();
        const size_t at = pos(*s);
        s->replace(at, std::min(t.size(), s->size() - at), t);
        break;
      }
      case 6: {  // splice from another seed
        const std::string& o = seeds_[pick(seeds_.size())];
        if (o.empty()) break;
        const size_t from = pick(o.size());
        const std::string chunk = o.substr(from, 1 + pick(o.size() - from));
        if (pick(2))
          s->insert(pos(*s), chunk);
        else
          s->replace(pos(*s), chunk.size(), chunk);
        break;
      }
      case 7:  // truncate
        s->resize(pos(*s));
        break;
      case 8: {  // repeat a chunk (a line twice, a nested bracket...)
        if (s->empty()) break;
        const size_t at = pick(s->size());
        const std::string chunk = s->substr(at, 1 + pick(64));
        s->insert(at, chunk);
        break;
      }
      case 9: {  // a digit run becomes a huge or special number
        std::vector<size_t> digits;
        for (size_t i = 0; i < s->size(); ++i)
          if (std::isdigit(static_cast<unsigned char>((*s)[i])) &&
              (i == 0 || !std::isdigit(static_cast<unsigned char>((*s)[i - 1]))))
            digits.push_back(i);
        if (digits.empty()) break;
        const size_t at = digits[pick(digits.size())];
        size_t end = at;
        while (end < s->size() && std::isdigit(static_cast<unsigned char>((*s)[end]))) ++end;
        static const char* kNums[] = {"0",
                                      "-1",
                                      "99999999999999999999",
                                      "2147483647",
                                      "2147483648",
                                      "-2147483649",
                                      "1e308",
                                      "1e-320",
                                      "nan",
                                      ""};
        s->replace(at, end - at, kNums[pick(10)]);
        break;
      }
      default: {  // 32-bit boundary value in the first 64 bytes (binary headers)
        if (s->size() < 4) break;
        static const uint32_t kWords[] = {0,          1,          2,     0x7fffffff, 0x80000000,
                                          0xffffffff, 0xfffffffe, 65535, 65536,      16};
        const uint32_t w = kWords[pick(10)];
        const size_t at = pick(std::min<size_t>(s->size() - 3, 61));
        for (int b = 0; b < 4; ++b) (*s)[at + b] = static_cast<char>((w >> (8 * b)) & 0xff);
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  std::vector<std::string> seeds_, dict_;
  std::string last_;
};

// Thrown by a parse callback when an accepted input fails the independent check.
struct CheckFailed : std::logic_error {
  using std::logic_error::logic_error;
};

// Writes `bytes` over `path` in place (open, write, ftruncate). Truncating a file to zero costs
// about 3 ms on this CI's file system; overwriting costs microseconds.
inline void overwrite(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) throw std::runtime_error("fuzz: cannot open " + path);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == bytes.size() && ::ftruncate(fd, static_cast<off_t>(bytes.size())) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("fuzz: cannot write " + path);
}

struct FuzzStats {
  int64_t inputs = 0, accepted = 0, errors = 0;
  double seconds = 0;
};

// Aborts the process when no input finishes within kHangSeconds.
class HangWatchdog {
 public:
  explicit HangWatchdog(std::string current) : current_(std::move(current)) {
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!done_) {
        const auto since = std::chrono::steady_clock::now() - last_.load();
        if (std::chrono::duration<double>(since).count() > kHangSeconds) {
          std::fprintf(stderr, "fuzz: HANG: one input ran over %.0f s; it is in %s\n", kHangSeconds,
                       current_.c_str());
          std::abort();
        }
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        lock.lock();
      }
    });
  }
  ~HangWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    thread_.join();
  }
  void tick() { last_ = std::chrono::steady_clock::now(); }

 private:
  std::string current_;
  std::atomic<std::chrono::steady_clock::time_point> last_{std::chrono::steady_clock::now()};
  std::mutex mu_;
  bool done_ = false;
  std::thread thread_;
};

// Runs `parse` on mutants of `seeds`. `error_ok(input, message)` returns "" when a ds2::Error
// message is acceptable, else what is wrong with it. Prints the counts; fails the test (with the
// input, written to $TMPDIR/ds2-fuzz-failures/<name>-<k>.bin) on any bad message, foreign
// exception or failed check of an accepted input.
inline FuzzStats run_fuzz(const std::string& name, const std::string& input_file,
                          std::vector<std::string> seeds, std::vector<std::string> dict,
                          const std::function<void(const std::string&)>& parse,
                          const std::function<std::string(const std::string&)>& error_ok) {
  const uint64_t seed = fuzz_seed() ^ std::hash<std::string>{}(name);
  Mutator mut(seed, std::move(seeds), std::move(dict));
  FuzzStats st;
  HangWatchdog dog(input_file);
  const auto t0 = std::chrono::steady_clock::now();
  const double budget = fuzz_seconds();
  int failures = 0;
  auto keep = [&](const std::string& in) {  // outside workdir, which the test removes
    const char* tmp = std::getenv("TMPDIR");
    const std::string dir = std::string(tmp ? tmp : "/tmp") + "/ds2-fuzz-failures";
    ::mkdir(dir.c_str(), 0755);
    std::string file = name + "-" + std::to_string(st.inputs) + ".bin";
    std::replace(file.begin(), file.end(), ' ', '_');
    const std::string p = dir + "/" + file;
    std::ofstream(p, std::ios::binary) << in;
    return p;
  };
  for (;;) {
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if ((st.seconds >= budget && st.inputs >= kMinInputs) || failures >= 5) break;
    const std::string in = mut.next();
    overwrite(input_file, in);
    dog.tick();
    ++st.inputs;
    try {
      parse(in);
      ++st.accepted;
    } catch (const Error& e) {
      ++st.errors;
      const std::string bad = error_ok(e.what());
      if (!bad.empty()) {
        ADD_FAILURE() << name << " input " << st.inputs << " (" << keep(in) << "): " << bad
                      << "\n  message: " << e.what();
        ++failures;
      }
    } catch (const CheckFailed& e) {
      ADD_FAILURE() << name << " input " << st.inputs << " (" << keep(in)
                    << "): accepted, but the check failed: " << e.what();
      ++failures;
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " input " << st.inputs << " (" << keep(in)
                    << "): not a ds2::Error: " << typeid(e).name() << ": " << e.what();
      ++failures;
    }
  }
  std::printf("fuzz %-12s %7lld inputs in %.1f s (%lld accepted, %lld errors), seed %llu\n",
              name.c_str(), static_cast<long long>(st.inputs), st.seconds,
              static_cast<long long>(st.accepted), static_cast<long long>(st.errors),
              static_cast<unsigned long long>(fuzz_seed()));
  ::testing::Test::RecordProperty("inputs", std::to_string(st.inputs));
  return st;
}

// "" when `msg` starts with "file:" (and "file:LINE:" when `need_line`), else the complaint.
inline std::string names_file(const std::string& msg, const std::string& file, bool need_line) {
  if (msg.rfind(file + ":", 0) != 0) return "message does not start with '" + file + ":'";
  if (need_line) {
    size_t i = file.size() + 1, j = i;
    while (j < msg.size() && std::isdigit(static_cast<unsigned char>(msg[j]))) ++j;
    if (j == i || j >= msg.size() || msg[j] != ':') return "message names no line ('FILE:LINE:')";
  }
  return "";
}

}  // namespace ds2::fuzz
