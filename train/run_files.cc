// The run folder's files (see run_files.h).
#include "train/run_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "core/csv.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace ds2::train {
namespace fs = std::filesystem;

namespace {

// dst becomes a hard link to src (atomically replaced); a copy where links are not supported.
void link_or_copy(const std::string& src, const std::string& dst) {
  const std::string tmp = temp_path_for(dst);
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(src, tmp, ec);
  if (ec) fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, dst);
}

}  // namespace

RunFiles::RunFiles(std::string run_dir, const std::string& metrics)
    : dir_(std::move(run_dir)), metrics_(metrics.empty() ? dir_ + "/metrics.csv" : metrics) {}

std::string RunFiles::step_path(int64_t step) const {
  return fmt::format("{}/ckpt-step{}.h5", dir_, step);
}

void RunFiles::prepare(const std::string& train_ini, int64_t resumed_step) const {
  make_dirs(dir_);
  write_file_atomic(dir_ + "/train.ini", train_ini);
  if (resumed_step >= 0) {
    truncate_csv(metrics_, resumed_step, 0);
    truncate_csv(dev_path(), resumed_step, 1);
  } else {
    std::error_code ec;
    fs::remove(metrics_, ec);
    fs::remove(dev_path(), ec);
  }
}

void RunFiles::commit_checkpoint(int64_t step, bool best, int keep) const {
  const std::string path = step_path(step);
  link_or_copy(path, last_path());
  if (best) link_or_copy(path, best_path());
  prune_step_checkpoints(dir_, keep);
}

CsvLog::CsvLog(const std::string& path, const std::vector<std::string>& columns) {
  const bool fresh = !fs::exists(path) || fs::file_size(path) == 0;
  out_.open(path, std::ios::app);
  DS2_REQUIRE(out_, IoError, "{}: cannot open for appending", path);
  if (fresh) write(columns);
}

void CsvLog::write(const std::vector<std::string>& fields) {
  out_ << csv_record(fields) << "\n" << std::flush;
}

void prune_step_checkpoints(const std::string& dir, int keep) {
  std::vector<std::pair<int64_t, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-step", 0) == 0 && name.size() > 12 &&
        name.compare(name.size() - 3, 3, ".h5") == 0) {
      try {
        found.emplace_back(std::stoll(name.substr(9, name.size() - 12)), e.path());
      } catch (const std::exception&) {
      }
    }
  }
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < found.size(); ++i)
    fs::remove(found[i].second);
}

void truncate_csv(const std::string& path, int64_t last_step, size_t step_column) {
  std::ifstream in(path);
  if (!in) return;
  CsvReader reader(in);
  CsvRecord r;
  std::string kept;
  if (reader.next(&r)) kept += csv_record(r.fields) + "\n";  // the header
  while (reader.next(&r)) {
    if (!r.error.empty() || step_column >= r.fields.size()) continue;
    try {
      if (std::stoll(r.fields[step_column]) <= last_step) kept += csv_record(r.fields) + "\n";
    } catch (const std::exception&) {
    }
  }
  write_file_atomic(path, kept);
}

}  // namespace ds2::train
