// The assembled network: a finite-difference gradient check of ds2-tiny through CTC, padding
// invariance, BN inference/training consistency, seeded init, the gradient-ready callback,
// config reading and the shipped configs.
#include "model/network.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "ds2/config.h"
#include "tests/model/gradcheck.h"
#include "tests/testutil.h"

namespace ds2::model {
namespace {

std::string config_path(const std::string& name) {
  return std::string(DS2_SOURCE_ROOT) + "/share/configs/" + name;
}

ModelConfig tiny() {
  ModelConfig c = ModelConfig::from_ini_file(config_path("ds2-tiny.ini"));
  c.num_threads = 1;
  return c;
}

// A batch of n utterances (N, t, F) with garbage in the padding (the network must ignore it).
struct Batch {
  int n = 0, t = 0, f = 0;
  std::vector<float> x;
  std::vector<int32_t> lengths, labels, label_lengths;
};

Batch make_batch(int f, std::vector<int32_t> lengths, int t, uint64_t seed) {
  Batch b;
  b.n = static_cast<int>(lengths.size());
  b.t = t;
  b.f = f;
  b.lengths = lengths;
  b.x = test::random_vector(static_cast<size_t>(b.n) * t * f, seed, -2.0f, 2.0f);
  for (int j = 0; j < b.n; ++j)
    for (int ti = lengths[j]; ti < t; ++ti)
      for (int k = 0; k < f; ++k) b.x[(static_cast<size_t>(j) * t + ti) * f + k] = 1e3f;
  b.label_lengths = {3, 2, 4, 1};
  b.label_lengths.resize(b.n, 2);
  for (int j = 0; j < b.n; ++j)
    for (int k = 0; k < b.label_lengths[j]; ++k) b.labels.push_back(1 + (j * 7 + k * 5) % 28);
  return b;
}

// The same utterances with `extra` more padded frames.
Batch repad(const Batch& b, int extra) {
  Batch p = b;
  p.t = b.t + extra;
  p.x.assign(static_cast<size_t>(b.n) * p.t * b.f, -7.0f);
  for (int j = 0; j < b.n; ++j)
    std::copy_n(b.x.begin() + static_cast<size_t>(j) * b.t * b.f, static_cast<size_t>(b.t) * b.f,
                p.x.begin() + static_cast<size_t>(j) * p.t * b.f);
  return p;
}

TEST(Network, TinyGradientThroughCtc) {
  Network net(tiny());
  Batch b = make_batch(161, {22, 15}, 22, 3);
  net.zero_grad();
  LossResult r = net.forward_backward(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                                      b.label_lengths.data());
  ASSERT_TRUE(r.all_finite());
  std::vector<float> g(net.grads(), net.grads() + net.num_params());
  auto loss = [&] {
    LossResult l = net.loss(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                            b.label_lengths.data(), Mode::kTrain);
    double s = 0;
    for (float c : l.costs) s += c;
    return s;
  };
  std::mt19937_64 rng(5);
  int checked = 0, bad = 0;
  std::string failures;
  const float eps = 1e-3f;
  // Tolerance: relative, plus the rounding floor of a float network's loss L (a few ulps of |L|,
  // magnified by 1 / (2 eps)); both scale with the loss, so a missing term cannot hide behind a
  // fixed absolute tolerance when the gradients are small.
  const double floor = 8 * std::numeric_limits<float>::epsilon() * std::abs(loss()) / (2 * eps);
  for (const auto& info : net.params_info())
    for (int s = 0; s < 6; ++s) {
      const size_t i = info.offset + rng() % info.size;
      float* p = net.params() + i;
      const float saved = *p;
      *p = saved + eps;
      const double lp = loss();
      *p = saved - eps;
      const double lm = loss();
      *p = saved;
      const double num = (lp - lm) / (2 * eps), ana = g[i];
      ++checked;
      if (std::abs(num - ana) > floor + 3e-2 * std::max(std::abs(num), std::abs(ana))) {
        ++bad;
        failures += info.name + ": analytic " + std::to_string(ana) + " numeric " +
                    std::to_string(num) + "\n";
      }
    }
  // A clipped-ReLU kink crossed by a perturbation may spoil one entry; more is a bug.
  EXPECT_LE(bad, checked / 40) << bad << " of " << checked << " disagree:\n" << failures;
}

TEST(Network, PaddingChangesNothing) {
  Network net(tiny());
  Batch b = make_batch(161, {30, 19, 25}, 30, 4);
  net.zero_grad();
  LossResult r1 = net.forward_backward(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                                       b.label_lengths.data());
  std::vector<float> g1(net.grads(), net.grads() + net.num_params());
  EXPECT_EQ(net.out_time(), 15);
  Batch p = repad(b, 11);
  net.zero_grad();
  LossResult r2 = net.forward_backward(p.x.data(), p.lengths.data(), p.n, p.t, p.labels.data(),
                                       p.label_lengths.data());
  EXPECT_EQ(net.out_time(), 21);
  EXPECT_EQ(net.out_lengths(), (std::vector<int32_t>{15, 10, 13}));
  for (int j = 0; j < b.n; ++j) EXPECT_NEAR(r1.costs[j], r2.costs[j], 1e-5 * r1.costs[j]);
  double scale = 0;
  for (float v : g1) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (size_t i = 0; i < g1.size(); ++i)
    ASSERT_NEAR(net.grads()[i], g1[i], 1e-5 * scale) << net.params_info().size() << " at " << i;
  // Padded output frames are zero.
  const float* act = net.forward(p.x.data(), p.lengths.data(), p.n, p.t, Mode::kInfer);
  for (int t = 10; t < 21; ++t)
    for (int k = 0; k < 29; ++k) ASSERT_EQ(act[(t * 3 + 1) * 29 + k], 0.0f);
}

TEST(Network, BatchNormInferenceMatchesTrainingAfterConvergence) {
  ModelConfig c = tiny();
  c.bn_momentum = 0.5f;
  Network net(c, false);
  Batch b = make_batch(161, {20, 13}, 20, 5);
  std::vector<float> train;
  for (int i = 0; i < 80; ++i) {
    const float* a = net.forward(b.x.data(), b.lengths.data(), b.n, b.t, Mode::kTrain);
    train.assign(a, a + static_cast<size_t>(net.out_time()) * b.n * 29);
  }
  const float* a = net.forward(b.x.data(), b.lengths.data(), b.n, b.t, Mode::kInfer);
  double scale = 0;
  for (float v : train) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (size_t i = 0; i < train.size(); ++i) ASSERT_NEAR(a[i], train[i], 1e-4 * scale) << i;
  // Before convergence (fresh running stats) they differ: the test can fail.
  Network fresh(c, false);
  const float* f = fresh.forward(b.x.data(), b.lengths.data(), b.n, b.t, Mode::kInfer);
  double diff = 0;
  for (size_t i = 0; i < train.size(); ++i)
    diff = std::max(diff, std::abs(double(f[i]) - train[i]));
  EXPECT_GT(diff, 1e-2 * scale);
  EXPECT_THROW(net.backward(a), Error);  // built without gradients
}

TEST(Network, SeededInitIsDeterministic) {
  ModelConfig c = tiny();
  Network a(c), b(c);
  c.seed = 2;
  Network d(c);
  ASSERT_EQ(a.num_params(), b.num_params());
  EXPECT_TRUE(std::equal(a.params(), a.params() + a.num_params(), b.params()));
  EXPECT_FALSE(std::equal(a.params(), a.params() + a.num_params(), d.params()));
  d.init(1);
  EXPECT_TRUE(std::equal(a.params(), a.params() + a.num_params(), d.params()));
}

TEST(Network, GradReadyCallbackReportsFinalSuffixes) {
  Network net(tiny());
  Batch b = make_batch(161, {18, 12}, 18, 6);
  std::vector<size_t> begins;
  std::vector<std::vector<float>> snaps;
  net.zero_grad();
  net.forward_backward(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                       b.label_lengths.data(), [&](size_t begin) {
                         begins.push_back(begin);
                         snaps.emplace_back(net.grads() + begin, net.grads() + net.num_params());
                       });
  ASSERT_EQ(begins.size(), 3u);  // out, rnn0, conv0
  EXPECT_EQ(begins.back(), 0u);
  for (size_t i = 1; i < begins.size(); ++i) EXPECT_LT(begins[i], begins[i - 1]);
  for (size_t i = 0; i < begins.size(); ++i)
    EXPECT_TRUE(std::equal(snaps[i].begin(), snaps[i].end(), net.grads() + begins[i]));
  // Parameter list: contiguous, in order, covering the arena.
  size_t off = 0;
  for (const auto& p : net.params_info()) {
    EXPECT_EQ(p.offset, off) << p.name;
    off += p.size;
  }
  EXPECT_EQ(off, net.num_params());
}

TEST(Network, ImpossibleUtteranceIsFlaggedNotHidden) {
  Network net(tiny());
  Batch b = make_batch(161, {20, 4}, 20, 7);  // 4 frames -> 2 output frames < 2 labels + repeat
  b.labels = {1, 2, 3, 5, 5};                 // utt 1: labels "5 5" need 3 frames
  net.zero_grad();
  LossResult r = net.forward_backward(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                                      b.label_lengths.data());
  EXPECT_EQ(r.num_nonfinite, 1);
  EXPECT_FALSE(r.all_finite());
  EXPECT_EQ(r.impossible[1], 1);
  EXPECT_TRUE(std::isinf(r.costs[1]));
  EXPECT_TRUE(std::isfinite(r.total));
  for (size_t i = 0; i < net.num_params(); ++i) ASSERT_TRUE(std::isfinite(net.grads()[i]));
}

TEST(ModelConfig, IniSectionFlatKeysAndErrors) {
  ModelConfig a = ModelConfig::from_ini_string("[model]\nrnn_hidden = 64\nrnn_type = rnn\n", "a");
  EXPECT_EQ(a.rnn_hidden, 64);
  EXPECT_EQ(a.rnn_type, "rnn");
  ModelConfig b = ModelConfig::from_ini_string("rnn_hidden = 48\n[train]\nlr = 1\n", "b");
  EXPECT_EQ(b.rnn_hidden, 48);
  ModelConfig c = ModelConfig::from_ini_string(a.to_ini(), "c");
  EXPECT_EQ(c.arch_fields(), a.arch_fields());
  auto msg = [](const std::string& text) {
    try {
      ModelConfig::from_ini_string(text, "x.ini");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("rnn_type = lstm").find("model.rnn_type"), std::string::npos);
  EXPECT_NE(
      msg("conv_filters = 32\nconv_kernel = 41by11\nconv_stride = 2x2").find("model.conv_kernel"),
      std::string::npos);
  EXPECT_NE(msg("conv_filters = 32 32 32").find("x.ini"), std::string::npos);
  EXPECT_NE(msg("lookahead = 5").find("model.lookahead"), std::string::npos);
  EXPECT_NE(msg("rnn_hidden = abc").find("x.ini"), std::string::npos);
#ifndef DS2_HAS_CUDA
  ModelConfig cuda = a;
  cuda.device = "cuda";
  EXPECT_THROW(Network{cuda}, ConfigError);  // built without CUDA: one-line ConfigError
#endif
}

TEST(ModelConfig, ShippedConfigs) {
  ModelConfig t = ModelConfig::from_ini_file(config_path("ds2-tiny.ini"));
  ModelConfig s = ModelConfig::from_ini_file(config_path("ds2-small.ini"));
  ModelConfig p = ModelConfig::from_ini_file(config_path("ds2-paper.ini"));
  EXPECT_EQ(s.out_length(600), 200);  // time stride 3
  EXPECT_EQ(s.rnn_input(), 16 * 41);
  EXPECT_EQ(p.rnn_input(), 96 * 21);
  EXPECT_EQ(p.out_length(601), 301);
  // The counts stated in the INI comments.
  EXPECT_EQ(Network::count_parameters(t), 101549u);
  EXPECT_EQ(Network::count_parameters(s), 3127773u);
  EXPECT_EQ(Network::count_parameters(p), 91819197u);
}

TEST(Network, ForwardOnlyWithLookaheadAndFc) {
  ModelConfig c = tiny();
  c.bidirectional = false;
  c.lookahead = 3;
  c.fc_hidden = 12;
  c.rnn_type = "rnn";
  Network net(c);
  Batch b = make_batch(161, {16, 11}, 16, 8);
  Batch p = repad(b, 5);
  net.zero_grad();
  LossResult r1 = net.forward_backward(b.x.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                                       b.label_lengths.data());
  std::vector<float> g1(net.grads(), net.grads() + net.num_params());
  net.zero_grad();
  LossResult r2 = net.forward_backward(p.x.data(), p.lengths.data(), p.n, p.t, p.labels.data(),
                                       p.label_lengths.data());
  for (int j = 0; j < b.n; ++j) EXPECT_NEAR(r1.costs[j], r2.costs[j], 1e-5 * r1.costs[j]);
  for (size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(net.grads()[i], g1[i], 1e-4) << i;
}

}  // namespace
}  // namespace ds2::model
