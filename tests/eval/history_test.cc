// The SQLite history. Oracle: the sqlite3 C API reading the file directly (schema version,
// column names and types, stored values, NULLs), independent of History::rows(); for the
// migration, a version 1 file made here with the C API and version 1's exact CREATE statement.
#include "eval/history.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/error.h"
#include "tests/testutil.h"

namespace ds2::eval {
namespace {

HistoryRow sample(int i) {
  HistoryRow r;
  r.time = "2026-11-24T22:45:0" + std::to_string(i) + "Z";
  r.git_commit = "abc1234";
  r.host = "node01";
  r.checkpoint = "/runs/a/ckpt-step" + std::to_string(10 * i) + ".h5";
  r.step = 10 * i;
  r.epoch = i;
  r.dataset = "/data/dev";
  r.utterances = 40;
  r.decoder = i % 2 ? "beam" : "greedy";
  if (i % 2) {
    r.beam = 16;
    r.alpha = 0.5 * i;
    r.beta = 1.25;
    r.lm = "/lm/3gram.arpa";
  }
  r.wer = 0.125 * i;
  r.cer = 0.0625;
  r.sub = 3;
  r.del = 1;
  r.ins = i;
  r.words = 32;
  r.chars = 160;
  r.rtf = 0.01;
  r.ranks = 3;
  r.ckpt_digest = "c" + std::to_string(i);
  r.data_digest = "d";
  r.lm_digest = i % 2 ? "l" : "";
  r.settings = "s" + std::to_string(i);
  return r;
}

// Runs a query with the C API; returns the rows as strings ("NULL" for NULL).
std::vector<std::vector<std::string>> query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  std::vector<std::vector<std::string>> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out.emplace_back();
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* t = sqlite3_column_text(st, c);
      out.back().push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(History, SchemaVersionAndColumns) {
  test::TempDir tmp("ds2-history");
  const std::string path = tmp / "h.sqlite";
  { History h(path); }
  EXPECT_EQ(query(path, "PRAGMA user_version"),
            (std::vector<std::vector<std::string>>{{std::to_string(History::kSchemaVersion)}}));
  std::vector<std::string> names;
  for (const auto& r : query(path, "PRAGMA table_info(results)")) names.push_back(r.at(1));
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "id",      "time",       "git_commit",  "host",        "checkpoint", "step",    "epoch",
          "dataset", "utterances", "decoder",     "beam",        "alpha",      "beta",    "lm",
          "wer",     "cer",        "sub",         "del",         "ins",        "words",   "chars",
          "rtf",     "ranks",      "ckpt_digest", "data_digest", "lm_digest",  "settings"}));
  EXPECT_EQ(query(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"),
            (std::vector<std::vector<std::string>>{{"results_key"}}));
  EXPECT_EQ(query(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            (std::vector<std::vector<std::string>>{{"file_digests"}, {"results"}}));
}

// The digest cache: a hit only while size, mtime and inode are all the stat() values of now.
TEST(History, DigestCacheFollowsTheFileStamp) {
  test::TempDir tmp("ds2-history");
  History h(tmp / "h.sqlite");
  const std::string f = tmp / "ckpt.h5";
  std::ofstream(f) << "12345678";
  const FileStamp a = file_stamp(f);
  EXPECT_EQ(a.size, 8);
  EXPECT_FALSE(h.cached_digest(a));
  h.store_digest(a, "d1");
  EXPECT_EQ(h.cached_digest(file_stamp(f)), std::optional<std::string>("d1"));
  // Rewritten in place, same size and inode, another mtime: a miss.
  std::ofstream(f) << "abcdefgh";
  timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 5}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  EXPECT_FALSE(h.cached_digest(file_stamp(f)));
  // Replaced by rename (what the trainer does): another inode, same size and mtime: a miss.
  h.store_digest(file_stamp(f), "d2");
  std::ofstream(f + ".tmp") << "ABCDEFGH";
  ASSERT_EQ(utimensat(AT_FDCWD, (f + ".tmp").c_str(), times, 0), 0);
  const FileStamp before = file_stamp(f);
  std::filesystem::rename(f + ".tmp", f);
  const FileStamp after = file_stamp(f);
  EXPECT_EQ(std::make_pair(before.size, before.mtime_ns),
            std::make_pair(after.size, after.mtime_ns));
  EXPECT_NE(before.inode, after.inode);
  EXPECT_FALSE(h.cached_digest(after));
  // One entry per path (replaced), stored as given.
  h.store_digest(after, "d3");
  EXPECT_EQ(query(tmp / "h.sqlite", "SELECT path, size, digest FROM file_digests"),
            (std::vector<std::vector<std::string>>{{f, "8", "d3"}}));
  try {
    file_stamp(tmp / "missing.h5");
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }
}

// Opens `path` with the C API and runs `sql` (several statements).
void exec_c(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(History, Version1FileIsMigratedInPlace) {
  test::TempDir tmp("ds2-history");
  const std::string path = tmp / "v1.sqlite";
  // Version 1 exactly as ds2 wrote it (history.cc before schema 2), with two rows.
  exec_c(path,
         "CREATE TABLE results (id INTEGER PRIMARY KEY, time TEXT NOT NULL, git_commit TEXT, "
         "host TEXT, checkpoint TEXT NOT NULL, step INTEGER, epoch INTEGER, dataset TEXT NOT "
         "NULL, utterances INTEGER, decoder TEXT NOT NULL, beam INTEGER, alpha REAL, beta REAL, "
         "lm TEXT, wer REAL, cer REAL, sub INTEGER, del INTEGER, ins INTEGER, words INTEGER, "
         "chars INTEGER, rtf REAL, ranks INTEGER);"
         "INSERT INTO results VALUES (1, '2026-11-01T02:00:00Z', 'old', 'h', '/r/ckpt-last.h5', "
         "100, 1, '/d/dev', 12, 'greedy', NULL, NULL, NULL, NULL, 0.5, 0.25, 1, 2, 3, 10, 40, "
         "0.1, 2);"
         "INSERT INTO results VALUES (2, '2026-11-01T02:00:00Z', 'old', 'h', '/r/ckpt-last.h5', "
         "100, 1, '/d/dev', 12, 'beam', 8, 0.5, 1.0, '/lm.arpa', 0.4, 0.2, 1, 1, 2, 10, 40, "
         "0.2, 2);"
         "PRAGMA user_version = 1;");
  {
    History h(path);
    const auto rows = h.rows();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].checkpoint, "/r/ckpt-last.h5");
    EXPECT_EQ(rows[1].beam, 8);
    EXPECT_EQ(rows[1].lm, "/lm.arpa");
    EXPECT_EQ(rows[1].wer, 0.4);
    for (const HistoryRow& r : rows) {
      EXPECT_EQ(r.ckpt_digest, "");
      EXPECT_EQ(r.key(), "");  // never matches: a path cannot say whether the file changed
    }
    EXPECT_TRUE(h.keys().empty());
    h.append({sample(1)});
    EXPECT_EQ(h.keys(), (std::vector<std::string>{sample(1).key()}));
  }
  EXPECT_EQ(query(path, "PRAGMA user_version"), (std::vector<std::vector<std::string>>{{"2"}}));
  // The old rows unchanged, their new columns NULL; the new row has its digests.
  EXPECT_EQ(query(path,
                  "SELECT id, checkpoint, wer, ckpt_digest, data_digest, lm_digest, "
                  "settings FROM results ORDER BY id"),
            (std::vector<std::vector<std::string>>{
                {"1", "/r/ckpt-last.h5", "0.5", "NULL", "NULL", "NULL", "NULL"},
                {"2", "/r/ckpt-last.h5", "0.4", "NULL", "NULL", "NULL", "NULL"},
                {"3", "/runs/a/ckpt-step10.h5", "0.125", "c1", "d", "l", "s1"}}));
  EXPECT_EQ(query(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'file_digests'"),
            (std::vector<std::vector<std::string>>{{"1"}}));
  // Opening it again changes nothing.
  { History h(path); }
  EXPECT_EQ(query(path, "SELECT COUNT(*) FROM results"),
            (std::vector<std::vector<std::string>>{{"3"}}));
}

TEST(History, KeysAreDistinctAndNeedDigests) {
  test::TempDir tmp("ds2-history");
  History h(tmp / "h.sqlite");
  HistoryRow no_lm = sample(2), again = sample(2), bare = sample(3);
  again.wer = 0.9;  // the same measurement scored twice (--rescore): one key
  bare.data_digest.clear();
  h.append({sample(1), no_lm, again, bare});
  // Keys written out by hand: ckpt|data|lm ("-" for none)|settings.
  EXPECT_EQ(h.keys(), (std::vector<std::string>{"c1|d|l|s1", "c2|d|-|s2"}));
  EXPECT_EQ(result_key("c", "d", "", "s"), "c|d|-|s");
  EXPECT_EQ(result_key("", "d", "", "s"), "");
}

TEST(History, AppendedRowsReadBackAsStored) {
  test::TempDir tmp("ds2-history");
  const std::string path = tmp / "h.sqlite";
  std::vector<int64_t> ids;
  {
    History h(path);
    ids = h.append({sample(1), sample(2)});
    const auto more = h.append({sample(3)});
    ids.insert(ids.end(), more.begin(), more.end());
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3}));
  // Directly with the C API.
  const auto rows = query(path,
                          "SELECT checkpoint, step, decoder, beam, alpha, beta, lm, wer, ins, "
                          "typeof(wer), typeof(step) FROM results ORDER BY id");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"/runs/a/ckpt-step10.h5", "10", "beam", "16", "0.5", "1.25",
                                      "/lm/3gram.arpa", "0.125", "1", "real", "integer"}));
  EXPECT_EQ(rows[1],
            (std::vector<std::string>{"/runs/a/ckpt-step20.h5", "20", "greedy", "NULL", "NULL",
                                      "NULL", "NULL", "0.25", "2", "real", "integer"}));
  // And through rows(): every field round-trips.
  History h(path, /*create=*/false);
  const auto back = h.rows();
  ASSERT_EQ(back.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const HistoryRow want = sample(i + 1);
    const HistoryRow& got = back[i];
    EXPECT_EQ(got.id, i + 1);
    EXPECT_EQ(got.time, want.time);
    EXPECT_EQ(got.git_commit, want.git_commit);
    EXPECT_EQ(got.host, want.host);
    EXPECT_EQ(got.checkpoint, want.checkpoint);
    EXPECT_EQ(got.step, want.step);
    EXPECT_EQ(got.epoch, want.epoch);
    EXPECT_EQ(got.dataset, want.dataset);
    EXPECT_EQ(got.utterances, want.utterances);
    EXPECT_EQ(got.decoder, want.decoder);
    EXPECT_EQ(got.beam, want.beam);
    EXPECT_EQ(got.alpha, want.alpha);
    EXPECT_EQ(got.beta, want.beta);
    EXPECT_EQ(got.lm, want.lm);
    EXPECT_EQ(got.wer, want.wer);
    EXPECT_EQ(got.cer, want.cer);
    EXPECT_EQ(std::make_tuple(got.sub, got.del, got.ins, got.words, got.chars, got.ranks),
              std::make_tuple(want.sub, want.del, want.ins, want.words, want.chars, want.ranks));
    EXPECT_EQ(got.rtf, want.rtf);
    EXPECT_EQ(std::make_tuple(got.ckpt_digest, got.data_digest, got.lm_digest, got.settings),
              std::make_tuple(want.ckpt_digest, want.data_digest, want.lm_digest, want.settings));
  }
}

TEST(History, NonFiniteRatesAreNull) {
  test::TempDir tmp("ds2-history");
  History h(tmp / "h.sqlite");
  HistoryRow r = sample(2);
  r.wer = INFINITY;  // insertions against an empty reference
  r.cer = NAN;
  h.append({r});
  EXPECT_EQ(query(tmp / "h.sqlite", "SELECT wer, cer FROM results"),
            (std::vector<std::vector<std::string>>{{"NULL", "NULL"}}));
  EXPECT_TRUE(std::isnan(h.rows().at(0).wer));
}

TEST(History, ErrorsNameTheFile) {
  test::TempDir tmp("ds2-history");
  // Missing without create.
  try {
    History h(tmp / "none.sqlite", /*create=*/false);
    ADD_FAILURE() << "opened a missing file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(tmp / "none.sqlite"), std::string::npos) << e.what();
  }
  // Unwritable: a folder that does not exist.
  try {
    History h(tmp / "no/such/dir/h.sqlite");
    ADD_FAILURE() << "opened in a missing folder";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/h.sqlite"), std::string::npos);
  }
  // Not a database.
  std::ofstream(tmp / "text.sqlite") << "this is not an SQLite file, just some text to read\n";
  EXPECT_THROW(History h(tmp / "text.sqlite"), IoError);
  // A newer schema.
  { History h(tmp / "new.sqlite"); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((tmp / "new.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    History h(tmp / "new.sqlite");
    ADD_FAILURE() << "accepted schema 99";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST(History, ConcurrentWritersWaitInsteadOfFailing) {
  test::TempDir tmp("ds2-history");
  const std::string path = tmp / "h.sqlite";
  { History h(path); }
  // A second connection holds the write lock for a while; the append waits for it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([db] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  });
  History h(path, true, /*busy_timeout_ms=*/20000);
  EXPECT_NO_THROW(h.append({sample(1)}));
  release.join();
  sqlite3_close(db);
  EXPECT_EQ(h.rows().size(), 1u);
  // With no patience, a held lock is an error naming the file.
  History impatient(path, false, /*busy_timeout_ms=*/0);
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    impatient.append({sample(2)});
    ADD_FAILURE() << "appended under another writer's lock";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

TEST(History, TimeAndHost) {
  EXPECT_TRUE(
      std::regex_match(utc_now_iso8601(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_FALSE(host_name().empty());
  EXPECT_FALSE(build_git_commit().empty());
}

}  // namespace
}  // namespace ds2::eval
