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
