// Data-parallel gradient equivalence: the gradient all-reduced over np ranks, each holding its
// slice of a global batch of B utterances, equals the gradient a single process computes on the
// whole batch (the oracle: no communication, one forward/backward), within float tolerance.
// Batch norm is off (no conv layers, rnn_batch_norm = false): with it, per-slice batch
// statistics legitimately differ from whole-batch ones. Small buckets force several buckets to
// be reduced during the backward pass. Runs at np 1, 2, 3 (B = 2 at np = 3 leaves one rank an
// empty slice, which must contribute zeros).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/mpi.h"
#include "model/network.h"
#include "train/grad_sync.h"
#include "train/schedule.h"

namespace ds2::train {
namespace {

model::ModelConfig small_config() {
  model::ModelConfig c;
  c.conv_filters = c.conv_kernel = c.conv_stride = "";
  c.rnn_batch_norm = false;
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

std::vector<Utt> make_utts(int count, int bins, int classes, uint32_t seed) {
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
Batch make_batch(const std::vector<Utt>& utts, const std::vector<int64_t>& which, int bins) {
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

void check_equivalence(int global_batch) {
  Comm world;
  const model::ModelConfig cfg = small_config();
  const auto utts = make_utts(global_batch, cfg.n_bins, cfg.alphabet_size, 11);
  std::vector<int64_t> all(global_batch);
  for (int i = 0; i < global_batch; ++i) all[i] = i;

  // Oracle: one process, the whole batch, a communicator of one.
  model::Network ref(cfg);
  Comm self(MPI_COMM_SELF);
  Allreducer ar_self(self, AllreduceOptions{});
  const auto ref_buckets = plan_buckets(ref.params_info(), ref.num_params(), 1 << 30);
  const StepResult rr =
      global_gradient_step(ref, ar_self, ref_buckets, make_batch(utts, all, cfg.n_bins), false);

  // Data parallel: this rank's slice, 1 KiB buckets reduced during backward.
  model::Network net(cfg);
  AllreduceOptions ao;
  ao.algo = Algorithm::kRing;
  Allreducer ar(world, ao);
  const auto buckets = plan_buckets(net.params_info(), net.num_params(), 1024);
  ASSERT_GT(buckets.size(), 3u);
  const Batch local =
      make_batch(utts, Schedule::slice(all, world.rank(), world.size()), cfg.n_bins);
  const StepResult r = global_gradient_step(net, ar, buckets, local, world.rank() == 0);

  EXPECT_EQ(r.utts, global_batch);
  EXPECT_EQ(r.finite, rr.finite);
  EXPECT_TRUE(r.stop);  // rank 0 voted to stop: every rank sees it
  EXPECT_FALSE(rr.stop);
  EXPECT_NEAR(r.loss_sum, rr.loss_sum, 1e-4 * std::abs(rr.loss_sum));
  EXPECT_NEAR(r.grad_norm, rr.grad_norm, 1e-4 * rr.grad_norm);
  const size_t n = net.num_params();
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    max_ref = std::max(max_ref, std::abs(double(ref.grads()[i])));
    max_diff = std::max(max_diff, std::abs(double(net.grads()[i]) - ref.grads()[i]));
  }
  EXPECT_GT(max_ref, 0.0);
  EXPECT_LT(max_diff, 1e-5 * max_ref + 1e-7) << "max |g_dp - g_ref| " << max_diff;
  // Replicas agree bit for bit.
  std::vector<float> root(net.grads(), net.grads() + n);
  world.bcast(root.data(), n);
  EXPECT_TRUE(std::equal(root.begin(), root.end(), net.grads()));
}

TEST(GradSync, AveragedGradientEqualsSingleProcessBatch) { check_equivalence(6); }

TEST(GradSync, SmallBatchLeavesEmptySlices) { check_equivalence(2); }

// One utterance whose labels cannot fit its frames: excluded and counted, the step still trains
// on the others. A NaN in one utterance's features: every rank must agree to skip the step.
TEST(GradSync, ImpossibleIsCountedAndNonFiniteSkipsOnEveryRank) {
  Comm world;
  const model::ModelConfig cfg = small_config();
  model::Network net(cfg);
  Allreducer ar(world, AllreduceOptions{});
  const auto buckets = plan_buckets(net.params_info(), net.num_params(), 1024);
  const int b = 4;
  auto utts = make_utts(b, cfg.n_bins, cfg.alphabet_size, 5);
  std::vector<int64_t> all = {0, 1, 2, 3};
  const int last_frames = static_cast<int>(utts[b - 1].x.size() / cfg.n_bins);
  utts[b - 1].labels.clear();  // more labels than output frames (no conv: one per frame)
  for (int k = 0; k <= last_frames; ++k) utts[b - 1].labels.push_back(1 + k % 2);
  const auto mine = Schedule::slice(all, world.rank(), world.size());
  StepResult r = global_gradient_step(net, ar, buckets, make_batch(utts, mine, cfg.n_bins), false);
  EXPECT_EQ(r.impossible, 1);
  EXPECT_EQ(r.finite, b - 1);
  EXPECT_EQ(r.nonfinite, 0);
  EXPECT_FALSE(r.skip());

  utts = make_utts(b, cfg.n_bins, cfg.alphabet_size, 5);
  utts[b - 1].x[3] = std::nanf("");  // lands on the last rank's slice
  r = global_gradient_step(net, ar, buckets, make_batch(utts, mine, cfg.n_bins), false);
  EXPECT_TRUE(r.skip()) << "nonfinite " << r.nonfinite << " norm " << r.grad_norm;
  EXPECT_FALSE(r.stop);
}

TEST(GradSync, BucketsTileTheArenaFromTheEnd) {
  model::Network net(small_config());
  const size_t n = net.num_params();
  for (size_t bytes : {size_t(0), size_t(512), size_t(4096), size_t(1) << 30}) {
    const auto b = plan_buckets(net.params_info(), n, bytes);
    ASSERT_FALSE(b.empty());
    EXPECT_EQ(b.front().end, n);
    EXPECT_EQ(b.back().begin, 0u);
    for (size_t i = 0; i + 1 < b.size(); ++i) EXPECT_EQ(b[i].begin, b[i + 1].end);
    for (const auto& x : b) {
      EXPECT_LT(x.begin, x.end);
      bool at_param = false;
      for (const auto& p : net.params_info()) at_param |= p.offset == x.begin;
      EXPECT_TRUE(at_param) << "bucket starts inside a parameter";
    }
    if (bytes == 0) {
      EXPECT_EQ(b.size(), net.params_info().size());
    }
    if (bytes == (size_t(1) << 30)) {
      EXPECT_EQ(b.size(), 1u);
    }
  }
}

}  // namespace
}  // namespace ds2::train
