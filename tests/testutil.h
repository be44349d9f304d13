// Helpers shared by tests and benchmarks: scratch directories, test data paths, running ds2.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ds2::test {

// A fresh directory under $TMPDIR (or /tmp) removed on destruction (kept when DS2_KEEP_TMP=1).
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "ds2") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/" + tag + "-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    const char* keep = std::getenv("DS2_KEEP_TMP");
    if (!path_.empty() && !(keep && std::string(keep) == "1")) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string data_path(const std::string& name) {
  return std::string(DS2_TEST_DATA_DIR) + "/" + name;
}

inline std::string ds2_binary() { return DS2_BINARY; }

// Bytes this process has read through read()/pread() so far (rchar of /proc/self/io: page-cache
// hits included, i.e. what a parallel file system would serve); -1 where that file is missing.
inline int64_t bytes_read() {
  std::ifstream in("/proc/self/io");
  std::string key;
  int64_t v = 0;
  while (in >> key >> v)
    if (key == "rchar:") return v;
  return -1;
}

// "1,16,64" -> {1, 16, 64} (benchmark size lists).
inline std::vector<int> parse_int_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::atoi(item.c_str()));
  return v;
}

}  // namespace ds2::test
