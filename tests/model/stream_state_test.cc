// The streaming additions to model/ against the whole-sequence forward pass as the oracle:
//  * Recurrent::forward with an initial state: running frames [0, k) and then [k, T) from the
//    state after frame k - 1 gives the whole run's outputs (rnn and gru, with and without batch
//    norm); a bidirectional layer refuses a state; backward after a stateful forward is an Error;
//  * Network::stream_convs + stream_rnns + stream_head on a whole utterance equal
//    Network::forward, and stream_rnns in three pieces with the carried state equals one piece.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "model/network.h"
#include "model/params.h"
#include "model/rnn.h"

namespace ds2::model {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

class RnnStateTest : public ::testing::TestWithParam<std::pair<RnnType, bool>> {};

TEST_P(RnnStateTest, SplitRunEqualsWholeRun) {
  std::unique_ptr<Backend> be = make_backend(Device::kCpu, 1);
  ParamStore store(*be);
  RnnSpec spec;
  spec.type = GetParam().first;
  spec.batch_norm = GetParam().second;
  spec.input = 7;
  spec.hidden = 9;
  spec.bidirectional = false;
  Recurrent rnn(store, "rnn", spec);
  store.allocate(false, 4);
  const int t = 23, k = 10, h = spec.hidden;
  const std::vector<float> x = randn(static_cast<size_t>(t) * spec.input, 1);
  const int32_t len_all = t, len1 = k, len2 = t - k;
  const float* y = rnn.forward(x.data(), t, 1, &len_all, Mode::kInfer);
  const std::vector<float> whole(y, y + static_cast<size_t>(t) * h);
  y = rnn.forward(x.data(), k, 1, &len1, Mode::kInfer);
  const std::vector<float> state(y + static_cast<size_t>(k - 1) * h,
                                 y + static_cast<size_t>(k) * h);
  for (int i = 0; i < k * h; ++i) ASSERT_NEAR(y[i], whole[i], 1e-6) << i;
  y = rnn.forward(x.data() + static_cast<size_t>(k) * spec.input, t - k, 1, &len2, Mode::kInfer,
                  state.data());
  for (int i = 0; i < (t - k) * h; ++i) ASSERT_NEAR(y[i], whole[k * h + i], 1e-6) << i;
  // Without the state the second half differs (the test can fail).
  y = rnn.forward(x.data() + static_cast<size_t>(k) * spec.input, t - k, 1, &len2, Mode::kInfer);
  double diff = 0;
  for (int i = 0; i < h; ++i) diff += std::abs(y[i] - whole[k * h + i]);
  EXPECT_GT(diff, 1e-4);
  y = rnn.forward(x.data(), k, 1, &len1, Mode::kTrain, state.data());
  std::vector<float> dy(static_cast<size_t>(k) * h, 1.0f);
  EXPECT_THROW(rnn.backward(dy.data(), true), Error);
}

INSTANTIATE_TEST_SUITE_P(Types, RnnStateTest,
                         ::testing::Values(std::make_pair(RnnType::kGru, true),
                                           std::make_pair(RnnType::kGru, false),
                                           std::make_pair(RnnType::kRnn, true)),
                         [](const auto& i) {
                           return std::string(i.param.first == RnnType::kGru ? "gru" : "rnn") +
                                  (i.param.second ? "_bn" : "_nobn");
                         });

TEST(RnnState, BidirectionalRefusesAState) {
  std::unique_ptr<Backend> be = make_backend(Device::kCpu, 1);
  ParamStore store(*be);
  RnnSpec spec;
  spec.input = 3;
  spec.hidden = 4;
  spec.bidirectional = true;
  Recurrent rnn(store, "rnn", spec);
  store.allocate(false, 4);
  const std::vector<float> x(3 * 5, 0.5f), h0(4, 0.1f);
  const int32_t len = 5;
  EXPECT_THROW(rnn.forward(x.data(), 5, 1, &len, Mode::kInfer, h0.data()), ConfigError);
}

ModelConfig forward_only() {
  ModelConfig c;
  c.conv_filters = "4 4";
  c.conv_kernel = "41x11 21x11";
  c.conv_stride = "2x2 2x1";
  c.rnn_layers = 2;
  c.rnn_hidden = 10;
  c.bidirectional = false;
  c.lookahead = 3;
  c.fc_hidden = 6;
  c.num_threads = 1;
  return c;
}

TEST(NetworkStream, PiecesEqualForward) {
  Network net(forward_only(), false);
  const int t = 61, c = net.config().alphabet_size, h = net.config().rnn_hidden;
  const std::vector<float> x = randn(static_cast<size_t>(t) * 161, 2);
  const int32_t len = t;
  const float* a = net.forward(x.data(), &len, 1, t, Mode::kInfer);
  const int to = net.out_length(t);
  const std::vector<float> want(a, a + static_cast<size_t>(to) * c);
  std::vector<float> rows, out, act;
  net.stream_convs(x.data(), t, &rows);
  ASSERT_EQ(rows.size() % to, 0u);
  std::vector<std::vector<float>> state;
  net.stream_rnns(rows.data(), to, &state, &out);
  ASSERT_EQ(state.size(), 2u);
  const std::vector<float> whole_rnn = out;
  net.stream_head(out.data(), to, &act);
  ASSERT_EQ(act.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(act[i], want[i], 1e-5) << i;
  // The recurrent layers in three pieces, state carried.
  const size_t d0 = rows.size() / to;
  state.clear();
  std::vector<float> pieces;
  for (auto [b, e] : {std::pair{0, 7}, std::pair{7, 8}, std::pair{8, to}}) {
    net.stream_rnns(rows.data() + b * d0, e - b, &state, &out);
    pieces.insert(pieces.end(), out.begin(), out.end());
  }
  ASSERT_EQ(pieces.size(), static_cast<size_t>(to) * h);
  for (size_t i = 0; i < pieces.size(); ++i) ASSERT_NEAR(pieces[i], whole_rnn[i], 1e-6) << i;
  ModelConfig bi = forward_only();
  bi.bidirectional = true;
  bi.lookahead = 0;
  Network bnet(bi, false);
  EXPECT_THROW(bnet.stream_convs(x.data(), t, &rows), ConfigError);
}

}  // namespace
}  // namespace ds2::model
