// CompiledLm (the "ds2-lm" binary form) against ArpaLm, an independent implementation (hash
// tables per order, back-off by trying each context length) used as the oracle: every listed
// n-gram and random id sequences (unknown ids, contexts longer than the order, unlisted and
// blank contexts) score bit-identically; the vocabulary, its spelling trie and the prefix beam
// search's hypotheses are identical. Random ARPA models leave suffixes and contexts unlisted
// on purpose, so the compiler's blank nodes are exercised. Corrupt, truncated and other-version
// files are refused in one line naming the file and the field; `ds2 lm` end to end.
#include "decode/compiled_lm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/rng.h"
#include "decode/arpa_lm.h"
#include "decode/arpa_reader.h"
#include "decode/ctc_decode.h"
#include "decode/load_lm.h"
#include "pipeline/alphabet.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

// A random ARPA of order `order` over `v` words spelled with a..e (plus <s>, </s>, <unk> when
// `unk`): unigram log10 values with 1-7 decimals, back-offs on some lines only; each higher
// n-gram extends a listed shorter one (deep chains) or is drawn at random (so its suffix or
// context may be unlisted).
std::string random_arpa(uint32_t seed, int order, int v, int per_order, bool unk) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::set<std::string> seen;
  std::vector<std::string> words = {"<s>", "</s>"};
  if (unk) words.push_back("<unk>");
  while (static_cast<int>(words.size()) < v) {
    std::string w;
    const int len = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < len; ++i) w += static_cast<char>('a' + rng() % 5);
    if (seen.insert(w).second) words.push_back(w);
  }
  auto num = [&](double lo, double hi) {
    return fmt::format("{:.{}f}", lo + (hi - lo) * u(rng), 1 + rng() % 7);
  };
  std::vector<std::vector<std::vector<int>>> grams(order + 1);
  for (int i = 0; i < v; ++i) grams[1].push_back({i});
  for (int n = 2; n <= order; ++n) {
    std::set<std::vector<int>> have;
    for (int tries = 0; static_cast<int>(grams[n].size()) < per_order && tries < 20 * per_order;
         ++tries) {
      const bool extend = u(rng) < 0.6;
      const std::vector<int>& from = grams[n - 1][rng() % grams[n - 1].size()];
      std::vector<int> g(from.begin(), from.end());
      if (extend) {  // extend a listed (n-1)-gram on the left or the right
        const int w = 2 + static_cast<int>(rng() % (v - 2));
        if (u(rng) < 0.5)
          g.insert(g.begin(), w);
        else
          g.push_back(w);
      } else {
        g.clear();
        for (int i = 0; i < n; ++i) g.push_back(static_cast<int>(rng() % v));
      }
      if (have.insert(g).second) grams[n].push_back(g);
    }
  }
  std::ostringstream s;
  s << "\\data\\\n";
  for (int n = 1; n <= order; ++n) s << "ngram " << n << "=" << grams[n].size() << "\n";
  for (int n = 1; n <= order; ++n) {
    s << "\n\\" << n << "-grams:\n";
    for (const auto& g : grams[n]) {
      s << (n == 1 && g[0] == 0 ? "-99" : num(-3.0, -0.01));
      for (int w : g) s << "\t" << words[w];
      if (n < order && u(rng) < 0.7) s << "\t" << num(-1.5, 0.5);
      s << "\n";
    }
  }
  s << "\n\\end\\\n";
  return s.str();
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Both models score every listed n-gram and random sequences identically.
void expect_same_scores(const ArpaLm& ref, const CompiledLm& lm, const std::string& arpa_text,
                        uint32_t seed) {
  ASSERT_EQ(lm.order(), ref.order());
  ASSERT_EQ(lm.vocab_size(), ref.vocab_size());
  EXPECT_EQ(lm.bos_id(), ref.bos_id());
  EXPECT_EQ(lm.eos_id(), ref.eos_id());
  EXPECT_EQ(lm.unk_id(), ref.unk_id());
  for (int n = 1; n <= ref.order(); ++n) EXPECT_EQ(lm.count(n), ref.count(n)) << n;
  for (int32_t id = 0; id < ref.vocab_size(); ++id) {
    EXPECT_EQ(lm.word(id), ref.word(id));
    EXPECT_EQ(lm.word_id(ref.word(id)), id) << ref.word(id);
  }
  for (const char* w : {"zzz", "", "ab c", "<S>"}) EXPECT_EQ(lm.word_id(w), ref.word_id(w)) << w;
  // Every listed n-gram, from the ARPA text: "prob w_1 .. w_n [bow]" in section \n-grams:.
  std::istringstream in(arpa_text);
  std::string line;
  int64_t listed = 0;
  int section = 0;
  std::vector<std::string_view> f;
  while (std::getline(in, line)) {
    if (line.size() > 8 && line[0] == '\\' && line.substr(2) == "-grams:") {
      section = line[1] - '0';
      continue;
    }
    split_arpa_fields(line, &f);
    if (section == 0 || f.size() < static_cast<size_t>(section) + 1) continue;
    std::vector<int32_t> ids;
    for (int i = 1; i <= section; ++i) ids.push_back(ref.word_id(f[i]));
    const int k = section - 1;
    ASSERT_EQ(lm.log10_prob(ids.data(), k, ids[k]), ref.log10_prob(ids.data(), k, ids[k])) << line;
    ++listed;
  }
  int64_t total = 0;
  for (int n = 1; n <= ref.order(); ++n) total += ref.count(n);
  EXPECT_EQ(listed, total);
  // Random sequences: ids from -1 (kNoWord) to V (out of range), contexts up to order + 1.
  std::mt19937 rng(seed);
  const int v = ref.vocab_size();
  for (int q = 0; q < 20000; ++q) {
    const int k = static_cast<int>(rng() % (ref.order() + 2));
    std::vector<int32_t> ctx(k);
    for (auto& c : ctx) c = static_cast<int32_t>(rng() % (v + 2)) - 1;
    const int32_t w = static_cast<int32_t>(rng() % (v + 2)) - 1;
    ASSERT_EQ(lm.log10_prob(ctx.data(), k, w), ref.log10_prob(ctx.data(), k, w)) << q;
    ASSERT_EQ(lm.log_prob(ctx.data(), k, w), ref.log_prob(ctx.data(), k, w)) << q;
  }
}

TEST(CompiledLm, TinyArpaScoresEqualArpaLm) {
  test::TempDir dir("ds2-clm");
  const std::string arpa = test::data_path("tiny.arpa");
  const LmCompileStats st = compile_arpa_lm(arpa, dir / "tiny.bin");
  EXPECT_EQ(st.listed, (std::vector<int64_t>{7, 6, 2}));
  const ArpaLm ref = ArpaLm::load(arpa);
  const CompiledLm lm(dir / "tiny.bin");
  expect_same_scores(ref, lm, slurp(arpa), 1);
  // A hand value as well (tests/decode/arpa_lm_test.cc): P(sat | <s> the) backs off twice.
  const int32_t ctx[] = {ref.word_id("<s>"), ref.word_id("the")};
  EXPECT_NEAR(lm.log10_prob(ctx, 2, ref.word_id("sat")), -0.1 + -0.3 + -1.5, 1e-6);
  lm.verify();
  EXPECT_EQ(std::filesystem::file_size(dir / "tiny.bin"), st.file_bytes);
}

TEST(CompiledLm, RandomModelsWithBlanksScoreEqualArpaLm) {
  test::TempDir dir("ds2-clm");
  int blanks = 0;
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    const int order = 2 + static_cast<int>(seed % 4);  // 3, 4, 5, 2
    const std::string text = random_arpa(seed, order, 40 + 10 * seed, 300, seed % 2 == 1);
    const std::string arpa = write(dir / "r.arpa", text);
    const LmCompileStats st = compile_arpa_lm(arpa, dir / "r.bin");
    for (int n = 0; n < order; ++n) blanks += static_cast<int>(st.entries[n] - st.listed[n]);
    const ArpaLm ref = ArpaLm::load(arpa);
    const CompiledLm lm(dir / "r.bin");
    expect_same_scores(ref, lm, text, seed);
    // The vocabulary tries: same nodes, words and smear along every word.
    const WordTrie* a = ref.vocabulary_trie();
    const WordTrie* b = lm.vocabulary_trie();
    ASSERT_EQ(a->nodes(), b->nodes());
    ASSERT_EQ(a->words(), b->words());
    for (int32_t id = 0; id < ref.vocab_size(); ++id) {
      const int32_t na = a->step(0, ref.word(id)), nb = b->step(0, ref.word(id));
      ASSERT_EQ(na, nb) << ref.word(id);
      if (na < 0) continue;
      EXPECT_EQ(a->word(na), b->word(nb));
      EXPECT_EQ(a->smear(na), b->smear(nb));
    }
  }
  EXPECT_GT(blanks, 50) << "the random models must leave suffixes unlisted";
}

// Peaky log-probabilities spelling `text` (each symbol 1-3 frames, blanks between, a rival
// symbol on some frames), log-softmax per frame.
std::vector<float> spell(const pipeline::Alphabet& a, const std::string& text, uint32_t seed,
                         int* frames) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<int> target;
  for (char ch : text) {
    int idx = 0;
    for (int k = 1; k < a.size(); ++k)
      if (a.symbol(k) == std::string(1, ch)) idx = k;
    for (int r = 1 + static_cast<int>(rng() % 3); r > 0; --r) target.push_back(idx);
    target.push_back(0);
  }
  const int c = a.size();
  std::vector<float> act(target.size() * c), out(act.size());
  for (size_t t = 0; t < target.size(); ++t) {
    for (int k = 0; k < c; ++k) act[t * c + k] = noise(rng);
    act[t * c + target[t]] += 4.f + static_cast<float>(rng() % 5);
    if (rng() % 4 == 0) act[t * c + 1 + rng() % (c - 1)] += 4.f;  // an ambiguous frame
  }
  *frames = static_cast<int>(target.size());
  log_softmax_rows(act.data(), *frames, c, c, out.data());
  return out;
}

TEST(CompiledLm, BeamSearchHypothesesEqualArpaLms) {
  test::TempDir dir("ds2-clm");
  const pipeline::Alphabet alphabet =
      pipeline::Alphabet::load(pipeline::resolve_share_path("share/alphabets/en.txt"));
  const std::string arpa = write(dir / "r.arpa", random_arpa(7, 3, 60, 400, true));
  compile_arpa_lm(arpa, dir / "r.bin");
  const std::string lexicon = write(dir / "lexicon.txt", "a\nab\nabc\ncab\nzz\nbead\n");
  std::mt19937 rng(7);
  const ArpaLm plain = ArpaLm::load(arpa);
  std::vector<std::string> sentences;
  for (int s = 0; s < 6; ++s) {
    std::string t;
    for (int w = 0; w < 5; ++w) {
      const int32_t id = 3 + static_cast<int32_t>(rng() % (plain.vocab_size() - 3));
      t += (t.empty() ? "" : " ") + (rng() % 5 == 0 ? std::string("ddee") : plain.word(id));
    }
    sentences.push_back(t);
  }
  int cases = 0;
  for (const std::string& lex : std::vector<std::string>{"", "lm", lexicon}) {
    const auto ref = load_decoder_lm(arpa, lex);
    const auto lm = load_decoder_lm(dir / "r.bin", lex);
    ASSERT_NE(dynamic_cast<const CompiledLm*>(lm.get()), nullptr);
    ASSERT_NE(dynamic_cast<const ArpaLm*>(ref.get()), nullptr);
    for (bool partial : {true, false}) {
      for (float oov : {-10.f, std::nanf("")}) {
        BeamOptions o;
        o.beam = 16;
        o.alpha = 0.8f;
        o.beta = 1.5f;
        o.lexicon = lex;
        o.partial_words = partial;
        o.oov_logprob = oov;
        for (size_t s = 0; s < sentences.size(); ++s) {
          int t = 0;
          const auto x = spell(alphabet, sentences[s], static_cast<uint32_t>(s), &t);
          const auto a = prefix_beam_search(x.data(), t, alphabet.size(), alphabet.size(), alphabet,
                                            ref.get(), o);
          const auto b = prefix_beam_search(x.data(), t, alphabet.size(), alphabet.size(), alphabet,
                                            lm.get(), o);
          ASSERT_EQ(a.size(), b.size());
          for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].labels, b[i].labels) << sentences[s];
            EXPECT_EQ(a[i].score, b[i].score);
            EXPECT_EQ(a[i].log_p_lm, b[i].log_p_lm);
            EXPECT_EQ(a[i].words, b[i].words);
          }
          EXPECT_GT(a.front().words, 0);
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 3 * 2 * 2 * 6);
}

// The message of the FormatError thrown by opening `path`.
std::string open_error(const std::string& path) {
  try {
    CompiledLm lm(path);
    lm.verify();
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(CompiledLm, CorruptTruncatedAndOtherVersionFilesAreRefusedInOneLine) {
  test::TempDir dir("ds2-clm");
  compile_arpa_lm(test::data_path("tiny.arpa"), dir / "ok.bin");
  const std::string good = slurp(dir / "ok.bin");
  auto variant = [&](const std::string& name, std::string bytes) {
    write(dir / name, bytes);
    const std::string m = open_error(dir / name);
    EXPECT_NE(m.find(dir / name), std::string::npos) << name << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m;
  };
  // Truncated anywhere: in the magic, the header, the body.
  EXPECT_NE(variant("t0.bin", good.substr(0, 4)).find("'magic'"), std::string::npos);
  EXPECT_NE(variant("t1.bin", good.substr(0, 100)).find("truncated"), std::string::npos);
  for (size_t cut :
       {sizeof(LmFileHeader), (sizeof(LmFileHeader) + good.size()) / 2, good.size() - 1})
    EXPECT_NE(variant("t2.bin", good.substr(0, cut)).find("'file_bytes'"), std::string::npos)
        << cut;
  // Another version, with a valid header checksum: refused by its version.
  std::string other = good;
  LmFileHeader h;
  std::memcpy(&h, other.data(), sizeof(h));
  h.version = 2;
  h.header_checksum = 0;
  h.header_checksum = fnv1a64(&h, sizeof(h));
  std::memcpy(other.data(), &h, sizeof(h));
  const std::string mv = variant("v2.bin", other);
  EXPECT_NE(mv.find("'version'"), std::string::npos) << mv;
  EXPECT_NE(mv.find("version 2"), std::string::npos) << mv;
  // A flipped header byte (the vocabulary size), then a flipped body byte (a probability).
  std::string bad = good;
  bad[offsetof(LmFileHeader, vocab_size)] ^= 0x10;
  EXPECT_NE(variant("h.bin", bad).find("'header_checksum'"), std::string::npos);
  bad = good;
  bad[bad.size() - 70] ^= 0x01;
  EXPECT_NE(variant("b.bin", bad).find("'body_checksum'"), std::string::npos);
  // A corrupt body is found by verify() only, but lookups stay inside the mapping whatever the
  // body holds (child ranges clamped, word ids bounded): random flips, random queries.
  std::mt19937 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    std::string flipped = good;
    for (int k = 0; k < 8; ++k)
      flipped[sizeof(LmFileHeader) + rng() % (good.size() - sizeof(LmFileHeader))] ^=
          static_cast<char>(1 + rng() % 255);
    write(dir / "f.bin", flipped);
    std::unique_ptr<CompiledLm> opened;
    try {
      opened = std::make_unique<CompiledLm>(dir / "f.bin");
    } catch (const FormatError& e) {  // the vocabulary's bounds are checked on open
      EXPECT_NE(std::string(e.what()).find("'vocab_offs'"), std::string::npos) << e.what();
      continue;
    }
    const CompiledLm& lm = *opened;
    for (int q = 0; q < 200; ++q) {
      int32_t ctx[3];
      for (int32_t& c : ctx) c = static_cast<int32_t>(rng() % 9) - 1;
      (void)lm.log10_prob(ctx, static_cast<int>(rng() % 4), static_cast<int32_t>(rng() % 9) - 1);
    }
    (void)lm.word_id("the");
    try {
      (void)lm.vocabulary_trie();
    } catch (const FormatError& e) {  // an empty word: named, not a crash
      EXPECT_NE(std::string(e.what()).find("'vocab_offs'"), std::string::npos) << e.what();
    }
  }
  // Not a compiled file at all: load_decoder_lm reads it as ARPA, whose error names the line.
  write(dir / "x.bin", "ds2-lX not really\n");
  try {
    load_decoder_lm(dir / "x.bin", "");
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "x.bin"), std::string::npos) << e.what();
  }
}

TEST(CompiledLm, CompileErrorsNameTheFileAndLeaveNoOutput) {
  test::TempDir dir("ds2-clm");
  const std::string dup = write(dir / "dup.arpa",
                                "\\data\\\nngram 1=2\nngram 2=2\n\n\\1-grams:\n-1\ta\n-1\tb\n\n"
                                "\\2-grams:\n-0.5\ta b\n-0.7\ta b\n\n\\end\\\n");
  try {
    compile_arpa_lm(dup, dir / "out.bin");
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(dup + ": duplicate 2-gram 'a b'"), std::string::npos)
        << e.what();
  }
  const std::string trunc = write(dir / "trunc.arpa", "\\data\\\nngram 1=2\n\n\\1-grams:\n-1\ta\n");
  try {
    compile_arpa_lm(trunc, dir / "out.bin");
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(trunc + ":5:"), std::string::npos) << e.what();
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().extension(), ".arpa") << entry.path() << " left behind";
}

TEST(CompiledLm, CommandLineCompileInfoQuery) {
  test::TempDir dir("ds2-clm");
  const std::string arpa = write(dir / "r.arpa", random_arpa(11, 4, 50, 300, true));
  const std::string bin = dir / "r.bin";
  const std::string ds2 = test::ds2_binary();
  ASSERT_EQ(std::system(fmt::format("{} lm compile --help > {} 2>&1", ds2, dir / "help").c_str()),
            0);
  EXPECT_NE(slurp(dir / "help").find("ds2 lm compile IN.arpa OUT.bin"), std::string::npos);
  ASSERT_EQ(std::system(
                fmt::format("{} lm compile {} {} > {} 2>&1", ds2, arpa, bin, dir / "log").c_str()),
            0)
      << slurp(dir / "log");
  ASSERT_EQ(
      std::system(fmt::format("{} lm info {} --verify > {} 2>&1", ds2, bin, dir / "info").c_str()),
      0)
      << slurp(dir / "info");
  EXPECT_NE(slurp(dir / "info").find("checksum ok"), std::string::npos) << slurp(dir / "info");
  // query: the same totals from both forms, on vocabulary words and unknown ones.
  write(dir / "s.txt", "a b c\nabc zz dd\n\ncab a a a a a\n");
  for (const std::string& m : {arpa, bin})
    ASSERT_EQ(
        std::system(fmt::format("{} lm query {} < {} > {}.q 2>/dev/null", ds2, m, dir / "s.txt", m)
                        .c_str()),
        0);
  EXPECT_EQ(slurp(arpa + ".q"), slurp(bin + ".q"));
  const std::string q = slurp(bin + ".q");
  EXPECT_EQ(std::count(q.begin(), q.end(), '\n'), 4) << q;
  // A bad input: non-zero exit, one error line naming the file.
  write(dir / "bad.arpa", "\\data\\\nngram 1=x\n");
  EXPECT_NE(std::system(fmt::format("{} lm compile {} {} > {} 2>&1", ds2, dir / "bad.arpa",
                                    dir / "bad.bin", dir / "err")
                            .c_str()),
            0);
  const std::string err = slurp(dir / "err");
  EXPECT_NE(err.find(dir / "bad.arpa:2:"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.bin"));
}

}  // namespace
}  // namespace ds2::decode
