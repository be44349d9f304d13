// WER/CER counts. Oracles: hand cases, and NIST sclite itself (Debian sctk) run on the same
// random trn files, compared utterance by utterance, for words and for characters (sclite -c);
// then `ds2 score` end to end on those files.
#include "decode/wer.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

const char* kSclite = "/usr/lib/sctk/bin/sclite";

ErrorCounts words(const std::string& r, const std::string& h) {
  return align_counts(tokenize(r, Unit::kWord), tokenize(h, Unit::kWord));
}

void expect_counts(const ErrorCounts& e, int64_t s, int64_t d, int64_t i, int64_t n) {
  EXPECT_EQ(e.sub, s);
  EXPECT_EQ(e.del, d);
  EXPECT_EQ(e.ins, i);
  EXPECT_EQ(e.ref, n);
  EXPECT_EQ(e.correct, n - s - d);
}

TEST(Wer, HandCases) {
  expect_counts(words("a b c", "a x c"), 1, 0, 0, 3);
  expect_counts(words("a b c", "a c"), 0, 1, 0, 3);
  expect_counts(words("a b c", "a b c d"), 0, 0, 1, 3);
  expect_counts(words("a b", ""), 0, 2, 0, 2);
  expect_counts(words("", "a b"), 0, 0, 2, 0);
  // Swap: 1 deletion + 1 insertion (cost 6) beats 2 substitutions (cost 8).
  expect_counts(words("a b", "b a"), 0, 1, 1, 2);
  // With unit costs 3 substitutions would tie with del+ins paths; sclite's 4/3/3 gives 3 subs.
  expect_counts(words("a b c", "x y z"), 3, 0, 0, 3);
  // ASCII case is folded, as sclite does without -s.
  expect_counts(words("The Cat", "the CAT"), 0, 0, 0, 2);
  EXPECT_DOUBLE_EQ(words("a b c d", "a x c").rate(), 0.5);
  EXPECT_EQ(words("", "").rate(), 0.0);
  EXPECT_TRUE(std::isinf(words("", "a").rate()));
}

TEST(Wer, CharacterTokensDropSpaces) {
  EXPECT_EQ(tokenize("ab  c", Unit::kChar), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(tokenize("Été x", Unit::kChar), (std::vector<std::string>{"É", "t", "é", "x"}));
  const auto e =
      align_counts(tokenize("hello world", Unit::kChar), tokenize("helo wrld", Unit::kChar));
  expect_counts(e, 0, 2, 0, 10);
}

TEST(Trn, RoundTripAndErrors) {
  test::TempDir dir("ds2-trn");
  const std::vector<TrnEntry> in = {{"u1", "the cat"}, {"u2", ""}, {"u3", "a (b) c"}};
  write_trn(dir / "x.trn", in);
  const auto out = read_trn(dir / "x.trn");
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].id, in[i].id);
    EXPECT_EQ(out[i].text, in[i].text);
  }
  EXPECT_THROW(write_trn(dir / "y.trn", {{"bad id", "x"}}), FormatError);
  write_file_atomic(dir / "bad.trn", "a b (u1)\nno id here\n");
  try {
    read_trn(dir / "bad.trn");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.trn:2:"), std::string::npos) << e.what();
  }
  write_file_atomic(dir / "dup.trn", "a (u1)\nb (u1)\n");
  EXPECT_THROW(read_trn(dir / "dup.trn"), FormatError);
  EXPECT_THROW(read_trn(dir / "missing.trn"), IoError);
}

TEST(Score, MissingAndExtraIdsAreErrors) {
  const std::vector<TrnEntry> ref = {{"u1", "a"}, {"u2", "b"}, {"u3", "c"}};
  const std::vector<TrnEntry> hyp = {{"u1", "a"}, {"u3", "c"}, {"u9", "z"}};
  try {
    score(ref, hyp, Unit::kWord, "ref.trn", "hyp.trn");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("u2"), std::string::npos) << m;
    EXPECT_NE(m.find("u9"), std::string::npos) << m;
  }
  const auto r = score(ref, {{"u3", "c"}, {"u2", "x"}, {"u1", ""}}, Unit::kWord);
  expect_counts(r.total, 1, 1, 0, 3);
  EXPECT_EQ(r.ids, (std::vector<std::string>{"u1", "u2", "u3"}));
}

// Random reference/hypothesis pairs over a small vocabulary (many equal-cost alignments):
// substitutions, deletions, insertions, empty hypotheses and a few empty references.
void make_random_trn(const std::string& ref_path, const std::string& hyp_path, int n,
                     uint32_t seed) {
  const std::vector<std::string> vocab = {"a",   "the", "cat", "sat", "on",
                                          "mat", "to",  "at",  "tea", "ate"};
  std::mt19937 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % k); };
  std::vector<TrnEntry> ref, hyp;
  for (int u = 0; u < n; ++u) {
    const std::string id = fmt::format("spk_u{:03d}", u);
    std::vector<std::string> r;
    const int len = u % 17 == 5 ? 0 : 1 + pick(10);
    for (int i = 0; i < len; ++i) r.push_back(vocab[pick(vocab.size())]);
    std::vector<std::string> h;
    if (u % 9 != 3) {  // every ninth hypothesis is empty
      for (const auto& w : r) {
        const int op = pick(10);
        if (op == 0) continue;  // deletion
        if (op == 1)
          h.push_back(vocab[pick(vocab.size())]);  // substitution (maybe equal)
        else
          h.push_back(w);
        if (op == 2) h.push_back(vocab[pick(vocab.size())]);  // insertion
      }
      if (pick(5) == 0) h.insert(h.begin(), vocab[pick(vocab.size())]);
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& w : v) s += (s.empty() ? "" : " ") + w;
      return s;
    };
    ref.push_back({id, join(r)});
    hyp.push_back({id, join(h)});
  }
  write_trn(ref_path, ref);
  write_trn(hyp_path, hyp);
}

// Per-utterance (C, S, D, I) from sclite's pra report.
std::map<std::string, std::array<int64_t, 4>> run_sclite(const test::TempDir& dir, bool chars) {
  const std::string name = chars ? "cer" : "wer";
  const std::string cmd = fmt::format(
      "cd {} && {} -r ref.trn trn -h hyp.trn trn -i spu_id {} -o pra -O {} -n {} > {}.log 2>&1",
      dir.path(), kSclite, chars ? "-c" : "", dir.path(), name, name);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / (name + ".pra"));
  std::map<std::string, std::array<int64_t, 4>> out;
  std::string line, id;
  while (std::getline(in, line)) {
    if (line.rfind("id: (", 0) == 0) id = line.substr(5, line.find(')') - 5);
    if (line.rfind("Scores: (#C #S #D #I)", 0) == 0) {
      std::istringstream s(line.substr(21));
      std::array<int64_t, 4> v{};
      s >> v[0] >> v[1] >> v[2] >> v[3];
      out[id] = v;
    }
  }
  return out;
}

class Sclite : public ::testing::TestWithParam<bool> {};

TEST_P(Sclite, CountsEqualScliteUtteranceByUtterance) {
  if (!file_exists(kSclite)) GTEST_SKIP() << "sclite not installed (Debian package sctk)";
  const bool chars = GetParam();
  test::TempDir dir("ds2-sclite");
  make_random_trn(dir / "ref.trn", dir / "hyp.trn", 300, 20261124);
  const auto sc = run_sclite(dir, chars);
  const ScoreResult r = score(read_trn(dir / "ref.trn"), read_trn(dir / "hyp.trn"),
                              chars ? Unit::kChar : Unit::kWord);
  ASSERT_EQ(sc.size(), r.ids.size());
  std::array<int64_t, 4> total{};
  for (size_t u = 0; u < r.ids.size(); ++u) {
    const auto& v = sc.at(r.ids[u]);
    const ErrorCounts& e = r.per_utt[u];
    EXPECT_EQ((std::array<int64_t, 4>{e.correct, e.sub, e.del, e.ins}), v) << r.ids[u];
    for (int k = 0; k < 4; ++k) total[k] += v[k];
  }
  EXPECT_EQ(r.total.correct, total[0]);
  EXPECT_EQ(r.total.sub, total[1]);
  EXPECT_EQ(r.total.del, total[2]);
  EXPECT_EQ(r.total.ins, total[3]);
  EXPECT_GT(r.total.sub * r.total.del * r.total.ins, 0);  // the data exercises all three

  // ds2 score end to end on the same files.
  const std::string cmd = fmt::format("{} score --ref {} --hyp {} {} --json {} > {} 2>&1",
                                      test::ds2_binary(), dir / "ref.trn", dir / "hyp.trn",
                                      chars ? "--cer" : "", dir / "s.json", dir / "s.out");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_file(dir / "s.out");
  const auto j = nlohmann::json::parse(read_file(dir / "s.json"));
  EXPECT_EQ(j["metric"], chars ? "cer" : "wer");
  EXPECT_EQ(j["sub"].get<int64_t>(), total[1]);
  EXPECT_EQ(j["del"].get<int64_t>(), total[2]);
  EXPECT_EQ(j["ins"].get<int64_t>(), total[3]);
  EXPECT_EQ(j["ref"].get<int64_t>(), total[0] + total[1] + total[2]);
  const std::string line = read_file(dir / "s.out");
  EXPECT_NE(line.find(chars ? "CER " : "WER "), std::string::npos) << line;
}

INSTANTIATE_TEST_SUITE_P(WordsAndChars, Sclite, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Cer" : "Wer"; });

TEST(ScoreCli, MissingIdIsAnErrorExit) {
  test::TempDir dir("ds2-score");
  write_trn(dir / "ref.trn", {{"u1", "a b"}, {"u2", "c"}});
  write_trn(dir / "hyp.trn", {{"u1", "a b"}});
  const std::string cmd = fmt::format("{} score --ref {} --hyp {} > {} 2>&1", test::ds2_binary(),
                                      dir / "ref.trn", dir / "hyp.trn", dir / "out");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  const std::string out = read_file(dir / "out");
  EXPECT_NE(out.find("u2"), std::string::npos) << out;
}

}  // namespace
}  // namespace ds2::decode
