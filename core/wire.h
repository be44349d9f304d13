// Length-prefixed byte messages between ranks: fixed-size values in host byte order (the ranks
// of one job share an ABI) and strings as a 64-bit length plus their bytes. Reader checks every
// length against what was received and throws CommError naming `origin` on a cut or padded
// message, never reading past its end.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace ds2::wire {

class Writer {
 public:
  template <typename T>
  void pod(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    out_ += s;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const std::string& b, const std::string& origin) : b_(b), origin_(origin) {}
  template <typename T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = pod<uint64_t>();
    need(n);
    std::string s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  uint64_t count(size_t min_bytes_each) {
    const uint64_t n = pod<uint64_t>();
    DS2_REQUIRE(n <= (b_.size() - at_) / std::max<size_t>(min_bytes_each, 1), CommError,
                "{}: a count of {} does not fit the {} bytes received", origin_, n, b_.size());
    return n;
  }
  bool at_end() const { return at_ == b_.size(); }
  void done() const {
    DS2_REQUIRE(at_ == b_.size(), CommError, "{}: {} bytes left over after the last field", origin_,
                b_.size() - at_);
  }

 private:
  void need(uint64_t n) const {
    DS2_REQUIRE(n <= b_.size() - at_, CommError, "{}: message ends {} bytes early", origin_,
                n - (b_.size() - at_));
  }
  const std::string& b_;
  const std::string& origin_;
  size_t at_ = 0;
};

}  // namespace ds2::wire
