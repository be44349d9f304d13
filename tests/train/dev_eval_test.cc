// Greedy CTC decoding of the dev evaluation on a hand-made (T, N, C) probability table. (The dev
// CER is eval/wer.h's scorer, tested against sclite; train_e2e checks that the dev CER of the last
// epoch equals `ds2 eval`'s for the same checkpoint.)
#include "train/dev_eval.h"

#include <gtest/gtest.h>

#include <vector>

namespace ds2::train {
namespace {

TEST(DevEval, GreedyCollapsesRepeatsAndDropsBlanks) {
  // T = 6, N = 2, C = 3; utterance 1 argmax path: 1 1 0 1 2 2 -> "1 1 2"; utterance 0: 2 0 0 ...
  const int t = 6, n = 2, c = 3;
  const int path1[t] = {1, 1, 0, 1, 2, 2};
  const int path0[t] = {2, 0, 0, 2, 2, 1};
  std::vector<float> p(t * n * c, 0.1f);
  for (int f = 0; f < t; ++f) {
    p[(f * n + 0) * c + path0[f]] = 0.8f;
    p[(f * n + 1) * c + path1[f]] = 0.8f;
  }
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 1, t), (std::vector<int32_t>{1, 1, 2}));
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 0, t), (std::vector<int32_t>{2, 2, 1}));
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 0, 3), (std::vector<int32_t>{2}));  // length cut
}

}  // namespace
}  // namespace ds2::train
