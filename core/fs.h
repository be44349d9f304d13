// Files written atomically: contents go to "<path>.tmp.<pid>" and are renamed over <path> only
// when complete, so a killed job never leaves a half file that looks whole.
#pragma once

#include <cstdio>
#include <string>

namespace ds2 {

// The temporary name used while writing `path` (same directory, so rename is atomic).
std::string temp_path_for(const std::string& path);
// Renames tmp to path (atomic on POSIX); throws IoError naming both on failure.
void commit_file(const std::string& tmp, const std::string& path);
// Writes text to path atomically.
void write_file_atomic(const std::string& path, const std::string& text);
// The same for output written piece by piece: appends go to the temporary file, commit()
// renames it over `path`; destroyed uncommitted, the temporary file is removed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void append(const std::string& text);
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
// Creates a directory and its parents; throws IoError on failure.
void make_dirs(const std::string& path);
// For an error message after a failed write of `path`: " (no space left: N KiB free on the file
// system of DIR)" when that file system has less than 16 MiB free -- the usual cause, which
// HDF5's and iostreams' own errors do not name -- else "".
std::string disk_full_note(const std::string& path);

}  // namespace ds2
