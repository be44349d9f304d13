// Helpers shared by tests and benchmarks: scratch directories, test data paths, running ds2.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

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

}  // namespace ds2::test
