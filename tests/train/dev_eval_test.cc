// Greedy CTC decoding as the dev evaluation calls it (decode::greedy_decode on one utterance of a
// (T, N, C) batch: row stride N * C, its own length) on a hand-made probability table. evaluate_dev
// itself -- rank slicing, the rank-averaged batch norm -- is tested in dev_eval_mpi_test.cc; the
// dev CER is decode/wer.h's scorer, tested against sclite; train_e2e checks that the dev CER of the
// last epoch equals `ds2 eval`'s for the same checkpoint.
#include <gtest/gtest.h>

#include <vector>

#include "decode/ctc_decode.h"

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
  using decode::greedy_decode;
  EXPECT_EQ(greedy_decode(p.data() + 1 * c, t, c, n * c), (std::vector<int32_t>{1, 1, 2}));
  EXPECT_EQ(greedy_decode(p.data() + 0 * c, t, c, n * c), (std::vector<int32_t>{2, 2, 1}));
  EXPECT_EQ(greedy_decode(p.data() + 0 * c, 3, c, n * c), (std::vector<int32_t>{2}));  // length cut
}

}  // namespace
}  // namespace ds2::train
