// The evaluation history: an SQLite file that `ds2 sweep` appends one row per (checkpoint,
// grid point) to, and that the HTML report (eval/report.h) is drawn from.
//
// Schema version 2 (PRAGMA user_version = 2), one table:
//   results(id INTEGER PRIMARY KEY, time TEXT (UTC ISO-8601, "2026-11-24T22:45:00Z"),
//           git_commit TEXT (`git describe --always --dirty` of the ds2 source, baked in at
//           configure time: the code that computed the row), host TEXT, checkpoint TEXT,
//           step INTEGER NULL, epoch INTEGER NULL (the checkpoint's trainer extras: steps done,
//           epoch of the next batch), dataset TEXT, utterances INTEGER, decoder TEXT ("greedy" |
//           "beam"), beam INTEGER NULL (greedy: NULL), alpha REAL NULL, beta REAL NULL (NULL
//           without an LM), lm TEXT NULL, wer REAL, cer REAL (fractions; NULL when undefined),
//           sub INTEGER, del INTEGER, ins INTEGER, words INTEGER, chars INTEGER, rtf REAL,
//           ranks INTEGER,
//           -- version 2: what the result is OF, by content (eval/digest.h), not by path --
//           ckpt_digest TEXT, data_digest TEXT, lm_digest TEXT NULL (no LM), settings TEXT)
//   and an index results_key on (ckpt_digest, data_digest, lm_digest, settings);
//   file_digests(path TEXT PRIMARY KEY, size, mtime_ns, inode, digest): a cache of checkpoint
//   digests, so that a nightly sweep over a run's 100 checkpoints reads only the files that
//   changed. A cached digest is used only while the file's size, modification time (ns) and
//   inode are all unchanged (the trainer writes a checkpoint to a temporary name and renames
//   it: a new inode); otherwise the file is read again and the entry replaced.
// `settings` is the canonical text of everything else that changes the numbers (decoder, beam,
// alpha, beta, the pruning options, the lexicon option, the normalization; sweep.cc
// point_settings). Two rows with equal (ckpt_digest, data_digest, lm_digest, settings) are the
// same measurement, so `ds2 sweep` skips a point whose key the history already holds: a
// checkpoint overwritten in place (ckpt-last.h5) or a re-prepared dev set gets a new digest and
// is scored again, a copy or link of a scored checkpoint is not. Not in the key: the device
// (cpu/cuda results may differ in the last float bits, rarely in a decoded word), the batch
// size and the rank count (which change neither the frames nor the arithmetic of a batch's
// utterances beyond summation order); --rescore measures again under those.
//
// Migration: a version 1 file is upgraded in place when opened (one IMMEDIATE transaction:
// ALTER TABLE ADD COLUMN for the four columns, the index, file_digests, user_version = 2). Its
// old rows keep NULL digests: they stay in the report but never match a key, so the first v2
// sweep scores their points again (a path cannot tell whether the file behind it changed).
//
// Concurrency: every append is one IMMEDIATE transaction, and the connection waits up to
// `busy_timeout_ms` for another writer's lock (e.g. the tasks of a Slurm job array appending
// to one file) instead of failing. The default rollback journal is kept (not WAL), so the file
// works on any file system with POSIX locks. Every error names the database file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace ds2::eval {

struct HistoryRow {
  int64_t id = 0;  // assigned by the database (0 before append)
  std::string time, git_commit, host, checkpoint;
  std::optional<int64_t> step, epoch;
  std::string dataset;
  int64_t utterances = 0;
  std::string decoder;
  std::optional<int64_t> beam;
  std::optional<double> alpha, beta;
  std::string lm;           // "" = none (stored as NULL)
  double wer = 0, cer = 0;  // non-finite values are stored as NULL and read back as NaN
  int64_t sub = 0, del = 0, ins = 0, words = 0, chars = 0;
  double rtf = 0;
  int64_t ranks = 1;
  // Schema version 2 ("" = NULL: a row migrated from version 1, or no LM for lm_digest).
  std::string ckpt_digest, data_digest, lm_digest, settings;
  // The skip key: "" when the row has no digests (never matches).
  std::string key() const;
};

// The skip key of a measurement (HistoryRow::key() of the row it would make).
std::string result_key(const std::string& ckpt_digest, const std::string& data_digest,
                       const std::string& lm_digest, const std::string& settings);

// What identifies a file's contents cheaply (stat): see file_digests above.
struct FileStamp {
  std::string path;  // as given (absolute in ds2 sweep)
  int64_t size = 0, mtime_ns = 0, inode = 0;
};
// stat() of `path`; IoError naming it when it cannot be read.
FileStamp file_stamp(const std::string& path);

class History {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens `path`; with `create`, creates the file and the schema when missing. A version 1
  // file is migrated to version 2 (above). Throws IoError ("PATH: ...") when the file cannot be
  // opened or written, FormatError when its schema version is newer than kSchemaVersion.
  explicit History(const std::string& path, bool create = true, int busy_timeout_ms = 600000);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  const std::string& path() const { return path_; }
  // Appends rows in one transaction (all or none); returns their ids.
  std::vector<int64_t> append(const std::vector<HistoryRow>& rows);
  // Every row, by id.
  std::vector<HistoryRow> rows() const;
  // The keys (HistoryRow::key()) of every row that has digests, sorted, without duplicates.
  std::vector<std::string> keys() const;
  // The cached digest of a file whose stamp is exactly `f`, or nullopt.
  std::optional<std::string> cached_digest(const FileStamp& f) const;
  // Caches `digest` for `f` (replacing any entry for f.path); not in a transaction of its own
  // beyond SQLite's implicit one.
  void store_digest(const FileStamp& f, const std::string& digest);

 private:
  void exec(const char* sql) const;
  std::string path_;
  sqlite3* db_ = nullptr;
};

// Current time as UTC ISO-8601 with seconds ("2026-11-24T22:45:00Z").
std::string utc_now_iso8601();
// This host's name ("unknown" when it cannot be read).
std::string host_name();
// The ds2 source version stamped at build time (git_describe(), core/version.h; "unknown"
// outside git).
std::string build_git_commit();

}  // namespace ds2::eval
