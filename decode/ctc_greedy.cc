// CTC greedy (best path) decoding and the log-softmax that feeds the beam search; declared in
// decode/ctc_decode.h.
//
// Greedy. The best path pi* = argmax_k y_t(k) per frame, collapsed by the CTC map B (merge
// repeats, then drop blanks). It is the labelling of the most probable *alignment*, not the most
// probable labelling: many alignments collapse to one labelling and their probabilities add.
#include <algorithm>
#include <cmath>

#include "decode/ctc_decode.h"

namespace ds2::decode {

std::vector<int32_t> greedy_decode(const float* scores, int t, int c, int stride, int blank) {
  GreedyStream g(blank);
  g.advance(scores, t, c, stride);
  return g.labels();
}

void GreedyStream::advance(const float* scores, int t, int c, int stride) {
  for (int i = 0; i < t; ++i) {
    const float* row = scores + static_cast<size_t>(i) * stride;
    int best = 0;
    for (int k = 1; k < c; ++k)
      if (row[k] > row[best]) best = k;
    if (best != prev_ && best != blank_) labels_.push_back(best);
    prev_ = best;
  }
}

void log_softmax_rows(const float* act, int t, int c, int stride, float* out) {
  for (int i = 0; i < t; ++i) {
    const float* a = act + static_cast<size_t>(i) * stride;
    float* o = out + static_cast<size_t>(i) * c;
    float m = a[0];
    for (int k = 1; k < c; ++k) m = std::max(m, a[k]);
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += std::exp(static_cast<double>(a[k] - m));
    const float lse = m + static_cast<float>(std::log(sum));
    for (int k = 0; k < c; ++k) o[k] = a[k] - lse;
  }
}

}  // namespace ds2::decode
