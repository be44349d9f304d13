// StreamingForward (eval/stream.h) against independent oracles:
//  * the whole-utterance forward pass of the same network: every frame emitted while streaming,
//    at the time it is emitted, equals the offline activations and softmax within 1e-5, for
//    several chunkings (1 frame, odd sizes, all at once) and layer shapes;
//  * final_output_frames against a brute-force finality test: the network run on the same
//    prefix followed by two different random continuations agrees exactly on the frames before
//    the predicted count and differs on the frame at it (the rule is sound and tight);
//  * the work is linear in the length (the conv windows overlap only by the conv context);
//  * the closed form for share/configs/ds2-stream.ini (output t needs input 2t + 35);
//  * a bidirectional model is a ConfigError.
#include "eval/stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "model/network.h"

namespace ds2::eval {
namespace {

model::ModelConfig small_forward(const std::string& rnn_type, int lookahead, int fc_hidden,
                                 const std::string& kernels) {
  model::ModelConfig c;
  c.n_bins = 161;
  c.alphabet_size = 29;
  c.conv_filters = "4 4";
  c.conv_kernel = kernels;
  c.conv_stride = "2x2 2x1";
  c.rnn_type = rnn_type;
  c.rnn_layers = 2;
  c.rnn_hidden = 12;
  c.bidirectional = false;
  c.lookahead = lookahead;
  c.fc_hidden = fc_hidden;
  c.num_threads = 1;
  c.seed = 7;
  return c;
}

std::vector<float> random_features(int frames, int bins, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(frames) * bins);
  for (float& v : x) v = d(rng);
  return x;
}

// Offline activations (T', C) of the first `t` frames of x.
std::vector<float> offline(model::Network& net, const std::vector<float>& x, int t) {
  const int32_t len = t;
  const float* a = net.forward(x.data(), &len, 1, t, model::Mode::kInfer);
  return std::vector<float>(
      a, a + static_cast<size_t>(net.out_lengths()[0]) * net.config().alphabet_size);
}

void softmax_row(const float* a, int c, float* p) {
  const float m = *std::max_element(a, a + c);
  double s = 0;
  for (int k = 0; k < c; ++k) s += std::exp(static_cast<double>(a[k] - m));
  for (int k = 0; k < c; ++k) p[k] = static_cast<float>(std::exp(a[k] - m) / s);
}

struct Case {
  const char* rnn;
  int lookahead, fc_hidden;
  const char* kernels;
};

class StreamTest : public ::testing::TestWithParam<Case> {};

TEST_P(StreamTest, EmittedFramesEqualOffline) {
  const Case k = GetParam();
  model::Network net(small_forward(k.rnn, k.lookahead, k.fc_hidden, k.kernels), false);
  const int t = 97, f = 161, c = 29;
  const std::vector<float> x = random_features(t, f, 3);
  const std::vector<float> want = offline(net, x, t);
  const int t_out = net.out_length(t);
  for (const std::vector<int>& chunks :
       {std::vector<int>{1}, std::vector<int>{7, 3, 16}, std::vector<int>{t}}) {
    StreamingForward s(net);
    s.reset();
    int fed = 0, step = 0, pushes_with_output = 0;
    while (fed < t) {
      const int n = std::min(chunks[step++ % chunks.size()], t - fed);
      const int before = s.frames_final();
      const int got = s.push(x.data() + static_cast<size_t>(fed) * f, n);
      fed += n;
      EXPECT_EQ(s.frames_final(), final_output_frames(net.config(), fed));
      EXPECT_EQ(got, s.frames_final() - before);
      pushes_with_output += got > 0;
      // The rows emitted now are the offline rows (checked at emission time).
      for (int r = before; r < s.frames_final(); ++r) {
        float p[29], q[29];
        softmax_row(&s.activations()[static_cast<size_t>(r) * c], c, p);
        softmax_row(&want[static_cast<size_t>(r) * c], c, q);
        for (int j = 0; j < c; ++j) {
          ASSERT_NEAR(s.activations()[static_cast<size_t>(r) * c + j],
                      want[static_cast<size_t>(r) * c + j], 1e-5)
              << "frame " << r << " class " << j << " after " << fed << " input frames";
          ASSERT_NEAR(p[j], q[j], 1e-5) << "softmax of frame " << r;
        }
      }
    }
    s.finish();
    ASSERT_EQ(s.frames_final(), t_out);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(s.activations()[i], want[i], 1e-5) << i;
    if (chunks.size() > 1 || chunks[0] == 1) {
      EXPECT_GT(pushes_with_output, 3) << "frames must be emitted before the end";
    }
    EXPECT_GE(s.frames_computed(), t);
  }
}

TEST_P(StreamTest, FinalityRuleIsSoundAndTight) {
  const Case k = GetParam();
  model::Network net(small_forward(k.rnn, k.lookahead, k.fc_hidden, k.kernels), false);
  const int f = 161, c = 29, extra = 40;
  for (int known : {1, 9, 17, 30, 55}) {
    const int t = known + extra;
    std::vector<float> a = random_features(t, f, 11), b = random_features(t, f, 12);
    std::copy(a.begin(), a.begin() + static_cast<size_t>(known) * f, b.begin());
    const std::vector<float> ya = offline(net, a, t), yb = offline(net, b, t);
    int same = 0;  // leading output frames identical in both continuations
    while (same < net.out_length(t) && std::equal(ya.begin() + static_cast<size_t>(same) * c,
                                                  ya.begin() + static_cast<size_t>(same + 1) * c,
                                                  yb.begin() + static_cast<size_t>(same) * c))
      ++same;
    EXPECT_EQ(final_output_frames(net.config(), known), same) << "known input frames " << known;
  }
}

// The work is incremental: each call runs the conv stack on at most its new frames plus the
// conv context on both sides (left: sum pt_l S_l; right: sum (kt_l - 1 - pt_l) S_l) plus two
// strides, so the total is linear in the length (a prefix recomputation would be quadratic:
// about 20x this bound here).
TEST_P(StreamTest, WorkIsLinear) {
  const Case k = GetParam();
  model::Network net(small_forward(k.rnn, k.lookahead, k.fc_hidden, k.kernels), false);
  int left = 0, right = 0, stride = 1;
  for (const auto& l : net.config().conv_layers()) {
    left += (l.kt - 1) / 2 * stride;
    right += (l.kt - 1 - (l.kt - 1) / 2) * stride;
    stride *= l.st;
  }
  const int t = 600, chunk = 8;
  const std::vector<float> x = random_features(t, 161, 5);
  StreamingForward s(net);
  int calls = 0;
  for (int fed = 0; fed < t; fed += chunk, ++calls)
    s.push(x.data() + static_cast<size_t>(fed) * 161, std::min(chunk, t - fed));
  s.finish();
  ++calls;
  EXPECT_EQ(s.frames_final(), net.out_length(t));
  EXPECT_LE(s.frames_computed(), t + static_cast<int64_t>(calls) * (left + right + 2 * stride));
}

INSTANTIATE_TEST_SUITE_P(Shapes, StreamTest,
                         ::testing::Values(Case{"gru", 3, 0, "41x11 21x11"},
                                           Case{"rnn", 0, 10, "41x11 21x11"},
                                           Case{"gru", 5, 0, "21x5 11x3"}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.rnn) + "_la" +
                                  std::to_string(i.param.lookahead) + "_fc" +
                                  std::to_string(i.param.fc_hidden) + "_" + std::to_string(i.index);
                         });

TEST(Stream, Ds2StreamClosedForm) {
  const auto cfg = model::ModelConfig::from_ini_file(std::string(DS2_SOURCE_ROOT) +
                                                     "/share/configs/ds2-stream.ini");
  ASSERT_FALSE(cfg.bidirectional);
  // Output frame t reads input frames up to 2 (t + lookahead + 5) + 5 = 2t + 35.
  for (int t : {0, 1, 10, 200}) {
    EXPECT_EQ(final_output_frames(cfg, 2 * t + 36), t + 1);
    EXPECT_EQ(final_output_frames(cfg, 2 * t + 35), t);
  }
  EXPECT_EQ(final_output_frames(cfg, 0), 0);
}

TEST(Stream, BidirectionalIsConfigError) {
  model::ModelConfig cfg = small_forward("gru", 0, 0, "41x11 21x11");
  cfg.bidirectional = true;
  EXPECT_THROW(final_output_frames(cfg, 100), ConfigError);
  model::Network net(cfg, false);
  EXPECT_THROW(StreamingForward s(net), ConfigError);
}

}  // namespace
}  // namespace ds2::eval
