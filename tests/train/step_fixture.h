// Shared by the gradient-step tests (grad_sync_mpi_test, train_step_gpu_mpi_test): a small DS2
// config (optionally with conv + batch norm), random utterances and their padded batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "model/config.h"
#include "train/loader.h"

namespace ds2::train {

inline model::ModelConfig small_config(bool batch_norm = false) {
  model::ModelConfig c;
  if (batch_norm) {
    // one conv layer (BN + clipped ReLU) and sequence-wise BN in the recurrent layers
    c.conv_filters = "3";
    c.conv_kernel = "5x3";
    c.conv_stride = "2x1";
  } else {
    c.conv_filters = c.conv_kernel = c.conv_stride = "";
  }
  c.rnn_batch_norm = batch_norm;
  c.n_bins = 12;
  c.alphabet_size = 6;
  c.rnn_type = "gru";
  c.rnn_layers = 2;
  c.rnn_hidden = 10;
  c.bidirectional = true;
  c.fc_hidden = 8;
  c.num_threads = 1;
  c.seed = 7;
  c.validate();
  return c;
}

struct Utt {
  std::vector<float> x;  // (frames, bins)
  std::vector<int32_t> labels;
};

inline std::vector<Utt> make_utts(int count, int bins, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<Utt> out(count);
  for (int i = 0; i < count; ++i) {
    const int frames = 6 + static_cast<int>(rng() % 10);
    out[i].x.resize(static_cast<size_t>(frames) * bins);
    for (float& v : out[i].x) v = normal(rng);
    const int len = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < len; ++k)
      out[i].labels.push_back(1 + static_cast<int32_t>(rng() % (classes - 1)));
  }
  return out;
}

// A padded batch of the listed utterances (t = the longest of them).
inline Batch make_batch(const std::vector<Utt>& utts, const std::vector<int64_t>& which, int bins) {
  Batch b;
  b.n = static_cast<int>(which.size());
  b.f = bins;
  for (int64_t u : which) b.t = std::max(b.t, static_cast<int>(utts[u].x.size() / bins));
  b.features.assign(static_cast<size_t>(b.n) * b.t * bins, 0.0f);
  for (int i = 0; i < b.n; ++i) {
    const Utt& u = utts[which[i]];
    std::copy(u.x.begin(), u.x.end(), b.features.begin() + static_cast<size_t>(i) * b.t * bins);
    b.lengths.push_back(static_cast<int32_t>(u.x.size() / bins));
    b.labels.insert(b.labels.end(), u.labels.begin(), u.labels.end());
    b.label_lengths.push_back(static_cast<int32_t>(u.labels.size()));
  }
  return b;
}

}  // namespace ds2::train
