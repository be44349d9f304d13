// Data-parallel gradient equivalence: the gradient all-reduced over np ranks, each holding its
// slice of a global batch of B utterances, equals the gradient a single process computes on the
// whole batch (the oracle: no communication, one forward/backward), within float tolerance.
// Without batch norm (no conv layers, rnn_batch_norm = false) that is the whole batch in one
// forward/backward. With batch norm and convolutions, what data parallelism computes is defined
// per rank: each rank normalizes its slice with the slice's own batch statistics (sequence-wise
// BN over the slice's valid frames), so the global gradient is the SUM over slices of the
// gradient of each slice's summed cost, divided by the global finite count; the oracle is one
// process running forward_backward on each slice in turn. Each rank's running statistics are
// then those the single process gets from that slice alone. Small buckets force several buckets
// to be reduced during the backward pass. Runs at np 1, 2, 3 (B = 2 at np = 3 leaves one rank an
// empty slice, which must contribute zeros).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/mpi.h"
#include "model/network.h"
#include "tests/train/step_fixture.h"
#include "train/grad_sync.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace ds2::train {
namespace {

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

// With batch norm and a convolution: the all-reduced gradient equals the per-slice oracle (see
// the top of this file), and each rank's running statistics equal the oracle's for its slice.
TEST(GradSync, WithBatchNormEachRankNormalizesItsSlice) {
  Comm world;
  const model::ModelConfig cfg = small_config(true);
  const int global_batch = 7;  // uneven slices at np 2 and 3
  const auto utts = make_utts(global_batch, cfg.n_bins, cfg.alphabet_size, 23);
  std::vector<int64_t> all(global_batch);
  for (int i = 0; i < global_batch; ++i) all[i] = i;

  // Oracle: one process, no communication, one forward/backward per slice from the same start.
  model::Network ref(cfg);
  ASSERT_GT(ref.num_buffer_floats(), 0u);
  const size_t n = ref.num_params(), nb = ref.num_buffer_floats();
  const std::vector<float> bn0(ref.buffers(), ref.buffers() + nb);
  std::vector<double> g_sum(n, 0.0);
  std::vector<float> my_bn;
  double loss = 0, finite = 0;
  for (int r = 0; r < world.size(); ++r) {
    const auto sl = Schedule::slice(all, r, world.size());
    if (sl.empty()) continue;
    std::copy(bn0.begin(), bn0.end(), ref.buffers());
    ref.zero_grad();
    const Batch b = make_batch(utts, sl, cfg.n_bins);
    const model::LossResult lr = ref.forward_backward(b.features.data(), b.lengths.data(), b.n, b.t,
                                                      b.labels.data(), b.label_lengths.data());
    loss += lr.total;
    finite += b.n - lr.num_nonfinite;
    for (size_t i = 0; i < n; ++i) g_sum[i] += ref.grads()[i];
    if (r == world.rank()) my_bn.assign(ref.buffers(), ref.buffers() + nb);
  }
  if (my_bn.empty()) my_bn = bn0;  // an empty slice leaves the statistics as they were
  ASSERT_GT(finite, 0);

  model::Network net(cfg);
  AllreduceOptions ao;
  ao.algo = Algorithm::kRing;
  Allreducer ar(world, ao);
  const auto buckets = plan_buckets(net.params_info(), n, 1024);
  const StepResult r = global_gradient_step(
      net, ar, buckets,
      make_batch(utts, Schedule::slice(all, world.rank(), world.size()), cfg.n_bins), false);
  EXPECT_EQ(r.finite, static_cast<int64_t>(finite));
  EXPECT_NEAR(r.loss_sum, loss, 1e-4 * std::abs(loss));
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    const double g = g_sum[i] / finite;
    max_ref = std::max(max_ref, std::abs(g));
    max_diff = std::max(max_diff, std::abs(double(net.grads()[i]) - g));
  }
  EXPECT_GT(max_ref, 0.0);
  EXPECT_LT(max_diff, 1e-5 * max_ref + 1e-7) << "max |g_dp - g_oracle| " << max_diff;
  for (size_t i = 0; i < nb; ++i)
    ASSERT_NEAR(net.buffers()[i], my_bn[i], 1e-5 * (1 + std::abs(my_bn[i]))) << "buffer " << i;
}

// One training step as the trainer takes it: update unless the step is skipped.
void train_step(model::Network& net, Allreducer& ar, const std::vector<GradBucket>& buckets,
                SgdNesterov& sgd, const Batch& b, bool expect_skip) {
  const StepResult r = global_gradient_step(net, ar, buckets, b, false);
  ASSERT_EQ(r.skip(), expect_skip) << "nonfinite " << r.nonfinite << " norm " << r.grad_norm;
  if (r.skip()) return;
  clip_by_global_norm(net.grads(), net.num_params(), 400);
  sgd.step(net.params(), net.grads(), net.num_params(), 1e-2);
}

// A non-finite batch between two good ones: the run ends with exactly the parameters and
// batch-norm running statistics (every rank's own) of the run without it. Before the fix the
// NaN forward left NaN running statistics behind.
TEST(GradSync, SkippedStepLeavesBatchNormStatisticsUntouched) {
  Comm world;
  const model::ModelConfig cfg = small_config(true);
  const int b = 6;
  std::vector<int64_t> all(b);
  for (int i = 0; i < b; ++i) all[i] = i;
  const auto mine = Schedule::slice(all, world.rank(), world.size());
  const auto u1 = make_utts(b, cfg.n_bins, cfg.alphabet_size, 31);
  const auto u2 = make_utts(b, cfg.n_bins, cfg.alphabet_size, 32);
  auto bad = make_utts(b, cfg.n_bins, cfg.alphabet_size, 33);
  bad[b - 1].x[5] = std::nanf("");  // on the last rank's slice only

  auto run = [&](bool with_bad, std::vector<float>* params, std::vector<float>* bn) {
    model::Network net(cfg);
    Allreducer ar(world, AllreduceOptions{});
    const auto buckets = plan_buckets(net.params_info(), net.num_params(), 1024);
    SgdNesterov sgd(net.num_params(), 0.9);
    train_step(net, ar, buckets, sgd, make_batch(u1, mine, cfg.n_bins), false);
    if (with_bad) train_step(net, ar, buckets, sgd, make_batch(bad, mine, cfg.n_bins), true);
    train_step(net, ar, buckets, sgd, make_batch(u2, mine, cfg.n_bins), false);
    params->assign(net.params(), net.params() + net.num_params());
    bn->assign(net.buffers(), net.buffers() + net.num_buffer_floats());
  };
  std::vector<float> p_clean, bn_clean, p_bad, bn_bad;
  run(false, &p_clean, &bn_clean);
  run(true, &p_bad, &bn_bad);
  ASSERT_FALSE(bn_clean.empty());
  for (float x : bn_bad) ASSERT_TRUE(std::isfinite(x));
  EXPECT_TRUE(p_clean == p_bad) << "parameters differ after the skipped step";
  EXPECT_TRUE(bn_clean == bn_bad) << "batch-norm statistics differ after the skipped step";
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
