// Atomic file writes (fs.h): "<path>.tmp.<pid>" then rename(2), which is atomic within one file
// system; directories, whole-file reads and the disk-full note for write errors.
#include "core/fs.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ds2 {

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void commit_file(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    DS2_THROW(IoError, "{}: cannot rename from {}: {}", path, tmp, std::strerror(errno));
}

void write_file_atomic(const std::string& path, const std::string& text) {
  std::string tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary);
    DS2_REQUIRE(out, IoError, "{}: cannot open for writing", tmp);
    out << text;
    out.flush();
    DS2_REQUIRE(out, IoError, "{}: write failed{}", tmp, disk_full_note(tmp));
  }
  commit_file(tmp, path);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(temp_path_for(path_)) {
  f_ = std::fopen(tmp_.c_str(), "wb");
  DS2_REQUIRE(f_, IoError, "{}: cannot open for writing", tmp_);
}

AtomicFile::~AtomicFile() {
  if (!f_) return;
  std::fclose(f_);
  std::remove(tmp_.c_str());
}

void AtomicFile::append(const std::string& text) {
  DS2_REQUIRE(f_, IoError, "{}: append after commit", path_);
  DS2_REQUIRE(std::fwrite(text.data(), 1, text.size(), f_) == text.size(), IoError,
              "{}: write failed{}", tmp_, disk_full_note(tmp_));
}

void AtomicFile::commit() {
  DS2_REQUIRE(f_, IoError, "{}: committed twice", path_);
  const bool ok = std::fflush(f_) == 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed) {
    std::remove(tmp_.c_str());
    DS2_THROW(IoError, "{}: write failed{}", tmp_, disk_full_note(tmp_));
  }
  commit_file(tmp_, path_);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DS2_REQUIRE(in, IoError, "{}: cannot open", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  DS2_REQUIRE(!ec, IoError, "{}: cannot create directory: {}", path, ec.message());
}

std::string disk_full_note(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  const std::filesystem::space_info sp = std::filesystem::space(dir, ec);
  if (ec || sp.available >= (std::uintmax_t(16) << 20)) return "";
  return fmt::format(" (no space left: {} KiB free on the file system of {})", sp.available / 1024,
                     dir.string());
}

}  // namespace ds2
