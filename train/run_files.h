// The files of a training run folder RUN/ (written by rank 0 only; layout in trainer.h):
// train.ini, the CSV logs metrics.csv and dev.csv, and the checkpoints ckpt-step<N>.h5 with
// ckpt-last.h5 / ckpt-best.h5 as hard links to one of them (a copy where links are unsupported).
//
// On a fresh run the CSV logs are removed; on --resume they are cut back to the rows of steps
// up to the checkpoint's, since the rows written after it would otherwise appear twice. Every
// file is replaced atomically (temporary name + rename); the CSV logs are appended row by row
// and flushed after each.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace ds2::train {

class RunFiles {
 public:
  // `metrics` overrides RUN/metrics.csv when not empty.
  RunFiles(std::string run_dir, const std::string& metrics);

  const std::string& dir() const { return dir_; }
  const std::string& metrics_path() const { return metrics_; }
  std::string dev_path() const { return dir_ + "/dev.csv"; }
  std::string last_path() const { return dir_ + "/ckpt-last.h5"; }
  std::string best_path() const { return dir_ + "/ckpt-best.h5"; }
  std::string step_path(int64_t step) const;

  // Creates RUN/, writes train.ini, and removes the CSV logs (fresh run) or keeps their rows of
  // steps <= `resumed_step` (resume: resumed_step >= 0).
  void prepare(const std::string& train_ini, int64_t resumed_step) const;

  // After the checkpoint `step_path(step)` is written: ckpt-last (and ckpt-best when `best`)
  // point to it, and only the newest `keep` (at least 1) ckpt-step files remain.
  void commit_checkpoint(int64_t step, bool best, int keep) const;

 private:
  std::string dir_, metrics_;
};

// A CSV log appended one row per call and flushed after each (RUN/metrics.csv, RUN/dev.csv);
// rows are written by core/csv.h.
class CsvLog {
 public:
  // Opens `path` for appending; writes the header of `columns` first when the file is new or
  // empty. IoError naming the file when it cannot be opened.
  CsvLog(const std::string& path, const std::vector<std::string>& columns);
  // One row: each value as fmt's "{}" formats it.
  template <typename... A>
  void row(const A&... a) {
    write({fmt::format("{}", a)...});
  }

 private:
  void write(const std::vector<std::string>& fields);
  std::ofstream out_;
};

// Keeps only the rows of the CSV file `path` (header kept) whose field `step_column` (0-based)
// is an integer <= last_step; nothing happens when the file does not exist.
void truncate_csv(const std::string& path, int64_t last_step, size_t step_column);

// Deletes all but the newest `keep` (at least 1) RUN/ckpt-step<N>.h5 files, by N.
void prune_step_checkpoints(const std::string& dir, int keep);

}  // namespace ds2::train
