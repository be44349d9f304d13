// SQLite history of evaluation results (schema in history.h).
#include "eval/history.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include "core/error.h"
#include "core/fs.h"
#include "core/version.h"

namespace ds2::eval {

namespace {

constexpr const char* kCreate =
    "CREATE TABLE IF NOT EXISTS results ("
    "id INTEGER PRIMARY KEY, time TEXT NOT NULL, git_commit TEXT, host TEXT, "
    "checkpoint TEXT NOT NULL, step INTEGER, epoch INTEGER, dataset TEXT NOT NULL, "
    "utterances INTEGER, decoder TEXT NOT NULL, beam INTEGER, alpha REAL, beta REAL, lm TEXT, "
    "wer REAL, cer REAL, sub INTEGER, del INTEGER, ins INTEGER, words INTEGER, chars INTEGER, "
    "rtf REAL, ranks INTEGER, ckpt_digest TEXT, data_digest TEXT, lm_digest TEXT, "
    "settings TEXT)";

// Version 1 -> 2: the content digests and the settings (NULL in the old rows).
constexpr const char* kMigrate1to2[] = {"ALTER TABLE results ADD COLUMN ckpt_digest TEXT",
                                        "ALTER TABLE results ADD COLUMN data_digest TEXT",
                                        "ALTER TABLE results ADD COLUMN lm_digest TEXT",
                                        "ALTER TABLE results ADD COLUMN settings TEXT"};
constexpr const char* kIndex =
    "CREATE INDEX IF NOT EXISTS results_key ON results "
    "(ckpt_digest, data_digest, lm_digest, settings)";
constexpr const char* kFileDigests =
    "CREATE TABLE IF NOT EXISTS file_digests (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
    "mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, digest TEXT NOT NULL)";

constexpr const char* kColumns =
    "time, git_commit, host, checkpoint, step, epoch, dataset, utterances, decoder, beam, alpha, "
    "beta, lm, wer, cer, sub, del, ins, words, chars, rtf, ranks, ckpt_digest, data_digest, "
    "lm_digest, settings";

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const std::string& sql) : path_(path) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr);
    DS2_REQUIRE(rc == SQLITE_OK, IoError, "{}: {} (preparing '{}')", path, sqlite3_errmsg(db),
                sql.substr(0, 40));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() { return st_; }

  void text(int i, const std::string& v, bool null_if_empty = false) {
    if (null_if_empty && v.empty())
      sqlite3_bind_null(st_, i);
    else
      sqlite3_bind_text(st_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::optional<int64_t> v) {
    if (v)
      sqlite3_bind_int64(st_, i, *v);
    else
      sqlite3_bind_null(st_, i);
  }
  void real(int i, std::optional<double> v) {
    if (v && std::isfinite(*v))
      sqlite3_bind_double(st_, i, *v);
    else
      sqlite3_bind_null(st_, i);
  }

  std::string col_text(int i) {
    const unsigned char* t = sqlite3_column_text(st_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  std::optional<int64_t> col_int(int i) {
    if (sqlite3_column_type(st_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(st_, i);
  }
  std::optional<double> col_real(int i) {
    if (sqlite3_column_type(st_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(st_, i);
  }

 private:
  std::string path_;
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

History::History(const std::string& path, bool create, int busy_timeout_ms) : path_(path) {
  DS2_REQUIRE(create || file_exists(path), IoError, "{}: no such history database", path);
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    DS2_THROW(IoError, "{}: cannot open the history database: {}", path, msg);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  try {
    auto version = [&] {
      Stmt st(db_, path_, "PRAGMA user_version");
      const int rc = sqlite3_step(st.get());
      DS2_REQUIRE(rc == SQLITE_ROW, IoError, "{}: {}", path_, sqlite3_errmsg(db_));
      return sqlite3_column_int(st.get(), 0);
    };
    int v = version();
    if (v < kSchemaVersion) {
      // Create under the write lock, re-reading the version, so two processes creating the
      // same file at once do not race.
      exec("BEGIN IMMEDIATE");
      v = version();
      if (v == 0) {
        exec(kCreate);
      } else if (v == 1) {
        for (const char* sql : kMigrate1to2) exec(sql);
      }
      if (v < kSchemaVersion) {
        exec(kIndex);
        exec(kFileDigests);
        exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
        v = kSchemaVersion;
      }
      exec("COMMIT");
    }
    DS2_REQUIRE(v <= kSchemaVersion, FormatError,
                "{}: history schema version {} is newer than this ds2's {}", path, v,
                kSchemaVersion);
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

History::~History() {
  if (db_) sqlite3_close(db_);
}

void History::exec(const char* sql) const {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    DS2_THROW(IoError, "{}: {} (in '{}')", path_, msg, std::string(sql).substr(0, 40));
  }
}

std::vector<int64_t> History::append(const std::vector<HistoryRow>& rows) {
  std::vector<int64_t> ids;
  exec("BEGIN IMMEDIATE");
  try {
    Stmt st(db_, path_,
            std::string("INSERT INTO results (") + kColumns +
                ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (const HistoryRow& r : rows) {
      sqlite3_reset(st.get());
      st.text(1, r.time);
      st.text(2, r.git_commit);
      st.text(3, r.host);
      st.text(4, r.checkpoint);
      st.integer(5, r.step);
      st.integer(6, r.epoch);
      st.text(7, r.dataset);
      st.integer(8, r.utterances);
      st.text(9, r.decoder);
      st.integer(10, r.beam);
      st.real(11, r.alpha);
      st.real(12, r.beta);
      st.text(13, r.lm, /*null_if_empty=*/true);
      st.real(14, r.wer);
      st.real(15, r.cer);
      st.integer(16, r.sub);
      st.integer(17, r.del);
      st.integer(18, r.ins);
      st.integer(19, r.words);
      st.integer(20, r.chars);
      st.real(21, r.rtf);
      st.integer(22, r.ranks);
      st.text(23, r.ckpt_digest, true);
      st.text(24, r.data_digest, true);
      st.text(25, r.lm_digest, true);
      st.text(26, r.settings, true);
      const int rc = sqlite3_step(st.get());
      DS2_REQUIRE(rc == SQLITE_DONE, IoError, "{}: appending a result: {}", path_,
                  sqlite3_errmsg(db_));
      ids.push_back(sqlite3_last_insert_rowid(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return ids;
}

std::vector<HistoryRow> History::rows() const {
  Stmt st(db_, path_, std::string("SELECT id, ") + kColumns + " FROM results ORDER BY id");
  std::vector<HistoryRow> out;
  int rc;
  const double nan = std::nan("");
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    HistoryRow r;
    r.id = st.col_int(0).value_or(0);
    r.time = st.col_text(1);
    r.git_commit = st.col_text(2);
    r.host = st.col_text(3);
    r.checkpoint = st.col_text(4);
    r.step = st.col_int(5);
    r.epoch = st.col_int(6);
    r.dataset = st.col_text(7);
    r.utterances = st.col_int(8).value_or(0);
    r.decoder = st.col_text(9);
    r.beam = st.col_int(10);
    r.alpha = st.col_real(11);
    r.beta = st.col_real(12);
    r.lm = st.col_text(13);
    r.wer = st.col_real(14).value_or(nan);
    r.cer = st.col_real(15).value_or(nan);
    r.sub = st.col_int(16).value_or(0);
    r.del = st.col_int(17).value_or(0);
    r.ins = st.col_int(18).value_or(0);
    r.words = st.col_int(19).value_or(0);
    r.chars = st.col_int(20).value_or(0);
    r.rtf = st.col_real(21).value_or(nan);
    r.ranks = st.col_int(22).value_or(1);
    r.ckpt_digest = st.col_text(23);
    r.data_digest = st.col_text(24);
    r.lm_digest = st.col_text(25);
    r.settings = st.col_text(26);
    out.push_back(std::move(r));
  }
  DS2_REQUIRE(rc == SQLITE_DONE, IoError, "{}: reading results: {}", path_, sqlite3_errmsg(db_));
  return out;
}

std::vector<std::string> History::keys() const {
  Stmt st(db_, path_,
          "SELECT DISTINCT ckpt_digest, data_digest, lm_digest, settings FROM results "
          "WHERE ckpt_digest IS NOT NULL AND data_digest IS NOT NULL AND settings IS NOT NULL");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW)
    out.push_back(result_key(st.col_text(0), st.col_text(1), st.col_text(2), st.col_text(3)));
  DS2_REQUIRE(rc == SQLITE_DONE, IoError, "{}: reading result keys: {}", path_,
              sqlite3_errmsg(db_));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {
// Parameters 1-4 of the file_digests statements: path, size, mtime_ns, inode.
void bind_stamp(Stmt& st, const FileStamp& f) {
  st.text(1, f.path);
  st.integer(2, f.size);
  st.integer(3, f.mtime_ns);
  st.integer(4, f.inode);
}
}  // namespace

std::optional<std::string> History::cached_digest(const FileStamp& f) const {
  Stmt st(db_, path_,
          "SELECT digest FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ? AND "
          "inode = ?");
  bind_stamp(st, f);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return st.col_text(0);
  DS2_REQUIRE(rc == SQLITE_DONE, IoError, "{}: reading file digests: {}", path_,
              sqlite3_errmsg(db_));
  return std::nullopt;
}

void History::store_digest(const FileStamp& f, const std::string& digest) {
  Stmt st(db_, path_,
          "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, inode, digest) "
          "VALUES (?,?,?,?,?)");
  bind_stamp(st, f);
  st.text(5, digest);
  const int rc = sqlite3_step(st.get());
  DS2_REQUIRE(rc == SQLITE_DONE, IoError, "{}: storing a file digest: {}", path_,
              sqlite3_errmsg(db_));
}

FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  DS2_REQUIRE(::stat(path.c_str(), &st) == 0, IoError, "{}: cannot stat: {}", path,
              std::strerror(errno));
  FileStamp f;
  f.path = path;
  f.size = static_cast<int64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.inode = static_cast<int64_t>(st.st_ino);
  return f;
}

std::string result_key(const std::string& ckpt_digest, const std::string& data_digest,
                       const std::string& lm_digest, const std::string& settings) {
  if (ckpt_digest.empty() || data_digest.empty() || settings.empty()) return "";
  return ckpt_digest + '|' + data_digest + '|' + (lm_digest.empty() ? "-" : lm_digest) + '|' +
         settings;
}

std::string HistoryRow::key() const {
  return result_key(ckpt_digest, data_digest, lm_digest, settings);
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown";
  return buf;
}

std::string build_git_commit() { return git_describe(); }

}  // namespace ds2::eval
