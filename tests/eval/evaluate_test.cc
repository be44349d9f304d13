// `ds2 eval` helpers. Oracles: brute-force optimal makespan (Graham's bound for the greedy
// largest-first assignment), align_counts (decode/wer.cc) for the alignment's counts, and hand
// cases for the alignment text. AcousticModel against a dataset's feature settings: a checkpoint
// that stores them refuses a dataset that differs (one-line ConfigError naming both files and
// the field), one from before they were stored is accepted; the normalization mode and
// statistics are the checkpoint's (closed form: (x - mean) / std). The command itself is tested
// end to end in eval_e2e_test.py.
#include "eval/evaluate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/prep.h"
#include "tests/eval/checkpoint_fixture.h"
#include "tests/testutil.h"

namespace ds2::eval {
namespace {

int64_t makespan(const std::vector<int64_t>& cost, const std::vector<int>& owner, int ranks) {
  std::vector<int64_t> load(ranks, 0);
  for (size_t i = 0; i < cost.size(); ++i) load.at(owner[i]) += cost[i];
  return *std::max_element(load.begin(), load.end());
}

// Smallest makespan over all ranks^n assignments.
int64_t best_makespan(const std::vector<int64_t>& cost, int ranks) {
  const size_t n = cost.size();
  std::vector<int> owner(n, 0);
  int64_t best = INT64_MAX;
  for (;;) {
    best = std::min(best, makespan(cost, owner, ranks));
    size_t k = 0;
    while (k < n && ++owner[k] == ranks) owner[k++] = 0;
    if (k == n) return best;
  }
}

TEST(Evaluate, AssignBalancedWithinGrahamBound) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int ranks = 1 + static_cast<int>(rng() % 3);
    std::vector<int64_t> cost(1 + rng() % 7);
    for (auto& c : cost) c = 1 + static_cast<int64_t>(rng() % 50);
    const std::vector<int> owner = assign_balanced(cost, ranks);
    ASSERT_EQ(owner.size(), cost.size());
    for (int r : owner) ASSERT_TRUE(r >= 0 && r < ranks);
    // Largest-first greedy: makespan <= (4/3 - 1/(3m)) OPT.
    const int64_t opt = best_makespan(cost, ranks);
    EXPECT_LE(3 * ranks * makespan(cost, owner, ranks), (4 * ranks - 1) * opt) << "trial " << trial;
    EXPECT_EQ(owner, assign_balanced(cost, ranks)) << "not deterministic";
  }
}

TEST(Evaluate, AssignBalancedTies) {
  // Equal costs: item i (earlier first) to rank i (lowest free rank first); extra ranks idle.
  EXPECT_EQ(assign_balanced({5, 5, 5}, 4), (std::vector<int>{0, 1, 2}));
  // Largest first: 9 -> r0, 4 -> r1, 3 -> r1 (load 4 < 9), 2 -> r1 (7 < 9).
  EXPECT_EQ(assign_balanced({3, 9, 2, 4}, 2), (std::vector<int>{1, 0, 1, 1}));
  EXPECT_EQ(assign_balanced({}, 3), std::vector<int>{});
}

std::vector<std::string> words(const std::string& s) { return tokenize(s, Unit::kWord); }

TEST(Evaluate, AlignmentHandCase) {
  ErrorCounts e;
  const std::string a =
      format_alignment(words("the cat sat on it"), words("the bat sat it now"), &e);
  EXPECT_EQ(a,
            "REF:  the CAT sat ON  it ***\n"
            "HYP:  the BAT sat *** it NOW\n"
            "EVAL:     S       D      I\n"
            "WER: C 3 S 1 D 1 I 1 N 5\n");
  EXPECT_EQ(format_alignment({}, {}, &e), "REF:\nHYP:\nEVAL:\nWER: C 0 S 0 D 0 I 0 N 0\n");
  EXPECT_EQ(format_alignment(words("a bb"), {}, &e),
            "REF:  A   BB\nHYP:  *** ***\nEVAL: D   D\nWER: C 0 S 0 D 2 I 0 N 2\n");
}

TEST(Evaluate, AlignmentMatchesAlignCountsAndTexts) {
  std::mt19937 rng(11);
  const std::vector<std::string> vocab = {"a", "b", "c", "dd", "\xc3\xa9t\xc3\xa9"};
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<std::string> ref(rng() % 7), hyp(rng() % 7);
    for (auto& w : ref) w = vocab[rng() % vocab.size()];
    for (auto& w : hyp) w = vocab[rng() % vocab.size()];
    ErrorCounts e;
    const std::string a = format_alignment(ref, hyp, &e);
    const ErrorCounts want = align_counts(ref, hyp);
    EXPECT_EQ(e.sub, want.sub);
    EXPECT_EQ(e.del, want.del);
    EXPECT_EQ(e.ins, want.ins);
    EXPECT_EQ(e.correct, want.correct);
    EXPECT_EQ(e.ref, want.ref);
    // The REF/HYP rows, lower-cased and without the *** fillers, are the inputs; the EVAL row
    // has one letter per error.
    std::istringstream in(a);
    std::string lr, lh, le;
    std::getline(in, lr);
    std::getline(in, lh);
    std::getline(in, le);
    EXPECT_EQ(words(lr.substr(4)).size(), ref.size() + static_cast<size_t>(e.ins));
    auto strip = [](const std::string& line) {
      std::vector<std::string> out;
      for (const auto& w : tokenize(line.substr(4), Unit::kWord))
        if (w != "***") out.push_back(w);
      return out;
    };
    EXPECT_EQ(strip(lr), ref);
    EXPECT_EQ(strip(lh), hyp);
    EXPECT_EQ(static_cast<int64_t>(words(le.substr(5)).size()), e.errors());
  }
}

// A random-init ds2 checkpoint (161 bins, the en alphabet, global statistics); `meta` (when
// given) is stored as its training data's feature settings, as ds2 train does.
std::string make_checkpoint(const test::TempDir& dir, const std::string& name,
                            const pipeline::FeatureMeta* meta, const std::string& normalize) {
  model::ModelConfig c;
  c.conv_filters = "4";
  c.conv_kernel = "41x11";
  c.conv_stride = "2x2";
  c.rnn_layers = 1;
  c.rnn_hidden = 8;
  c.num_threads = 1;
  return test::save_fixture_checkpoint(dir, name, c, {-4.0, 0.02, 1.5, 0.01},
                                       "normalize = " + normalize + "\n[model]\nrnn_layers = 1\n",
                                       meta);
}

TEST(Evaluate, AcousticModelChecksFeatureSettings) {
  test::TempDir dir("ds2-evaluate");
  const pipeline::FeatureMeta defaults;
  const std::string ckpt = make_checkpoint(dir, "new.h5", &defaults, "global");
  const std::string old = make_checkpoint(dir, "old.h5", nullptr, "global");
  EvalPlan plan;  // only the index's metadata matters to AcousticModel
  plan.data = dir / "DATA";
  const AcousticModel::Dataset fit{plan.data, &plan.index};
  EXPECT_NO_THROW(AcousticModel(ckpt, "cpu", 1, "", &fit));
  plan.index.meta.hop_ms = 20;  // same bins, other frames
  try {
    AcousticModel am(ckpt, "cpu", 1, "", &fit);
    ADD_FAILURE() << "a dataset with other feature settings accepted";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(ckpt + ": feature setting 'hop_ms' is 10 in the checkpoint but 20 in " +
                       plan.data + "/index.h5"),
              std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(AcousticModel(old, "cpu", 1, "", &fit));  // not stored: not checked
  plan.index.meta = defaults;
  plan.index.meta.feature = "log1p";
  EXPECT_THROW(AcousticModel(ckpt, "cpu", 1, "", &fit), ConfigError);
  plan.index.meta.feature = "log";
  plan.index.meta.n_bins = 201;  // the model's bins are checked for every checkpoint
  EXPECT_THROW(AcousticModel(old, "cpu", 1, "", &fit), ConfigError);
}

TEST(Evaluate, AcousticModelNormalizesAsTrained) {
  test::TempDir dir("ds2-evaluate");
  EvalPlan plan;
  plan.data = dir / "DATA";
  const AcousticModel::Dataset fit{plan.data, &plan.index};
  const AcousticModel utt(make_checkpoint(dir, "u.h5", nullptr, "utterance"), "cpu", 1, "", &fit);
  EXPECT_EQ(utt.normalize_mode(), "utterance");
  const AcousticModel am(make_checkpoint(dir, "g.h5", nullptr, "global"), "cpu", 1, "", &fit);
  EXPECT_EQ(am.normalize_mode(), "global");
  std::vector<float> x(2 * 161), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) - 6.0f;
  am.normalizer().apply(x.data(), 2, 161, y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t b = i % 161;
    EXPECT_NEAR(y[i], (x[i] - am.norm().mean[b]) / am.norm().std[b], 1e-5) << i;
  }
  EXPECT_EQ(AcousticModel(dir / "g.h5", "cpu", 1, "none", &fit).normalize_mode(), "none");
  EXPECT_THROW(AcousticModel(dir / "g.h5", "cpu", 1, "cmvn", &fit), ConfigError);
}

}  // namespace
}  // namespace ds2::eval
