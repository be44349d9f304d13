// `ds2 eval` helpers. Oracles: brute-force optimal makespan (Graham's bound for the greedy
// largest-first assignment), align_counts (eval/wer.cc) for the alignment's counts, and hand
// cases for the alignment text. The command itself is tested end to end in eval_e2e_test.py.
#include "eval/evaluate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>

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
    EXPECT_LE(3 * ranks * makespan(cost, owner, ranks), (4 * ranks - 1) * opt)
        << "trial " << trial;
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

}  // namespace
}  // namespace ds2::eval
