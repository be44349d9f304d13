// Tests of the CPU CTC loss (model/ctc.h). Oracles, each independent of the implementation:
//   - brute force: every path of T symbols, collapsed and blank-stripped, summed in double;
//     its finite-difference gradient;
//   - closed forms on tiny uniform cases (derivations next to each);
//   - a textbook forward pass (full T x S table, std::exp/std::log, no band);
//   - finite differences of the double instantiation on random batches;
//   - invariants: gradient rows sum to 0, padding and batch neighbours change nothing.
#include "model/ctc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "model/detail/math.h"

namespace ds2::model {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A batch in the (T, N, C) layout with its labels, and the outputs of one ctc_loss_cpu call.
template <typename Real>
struct Batch {
  int max_time = 0, n = 0, c = 0, max_label = 0;
  std::vector<Real> act;  // (max_time, n, c)
  std::vector<int32_t> labels, label_lengths, input_lengths;

  std::vector<Real> grad, costs;
  std::vector<uint8_t> impossible;

  Batch(int t, int batch, int alphabet) : max_time(t), n(batch), c(alphabet) {
    act.assign(static_cast<size_t>(t) * batch * alphabet, Real(0));
  }
  Real& at(int t, int u, int k) { return act[(static_cast<size_t>(t) * n + u) * c + k]; }
  Real g(int t, int u, int k) const { return grad[(static_cast<size_t>(t) * n + u) * c + k]; }
  void add(int frames, const std::vector<int32_t>& lab) {
    input_lengths.push_back(frames);
    label_lengths.push_back(static_cast<int32_t>(lab.size()));
    labels.insert(labels.end(), lab.begin(), lab.end());
    max_label = std::max(max_label, static_cast<int>(lab.size()));
  }
  CtcShape shape() const { return CtcShape{max_time, n, c, max_label}; }
  void run(bool with_grad = true, int threads = 1, int blank = 0,
           CtcCpuIsa isa = CtcCpuIsa::kAuto) {
    std::vector<char> ws(ctc_cpu_workspace_bytes(shape()));
    grad.assign(act.size(), std::numeric_limits<Real>::quiet_NaN());  // must be overwritten
    costs.assign(n, Real(-1));
    impossible.assign(n, 7);
    ctc_loss_cpu(act.data(), with_grad ? grad.data() : nullptr, labels.data(), label_lengths.data(),
                 input_lengths.data(), shape(), costs.data(), impossible.data(), ws.data(), threads,
                 blank, isa);
  }
};

// log-softmax of one frame in double.
std::vector<double> log_softmax(const double* a, int c) {
  double m = *std::max_element(a, a + c), s = 0;
  for (int k = 0; k < c; ++k) s += std::exp(a[k] - m);
  std::vector<double> y(c);
  for (int k = 0; k < c; ++k) y[k] = a[k] - m - std::log(s);
  return y;
}

// -log p(label | act) by enumerating all c^T paths; act is (T, c) for one utterance.
double brute_force_loss(const std::vector<double>& act, int T, int c,
                        const std::vector<int32_t>& label) {
  std::vector<std::vector<double>> y;
  for (int t = 0; t < T; ++t) y.push_back(log_softmax(&act[t * c], c));
  double p = 0;
  std::vector<int> path(T, 0);
  for (long id = 0, total = std::lround(std::pow(c, T)); id < total; ++id) {
    long r = id;
    for (int t = 0; t < T; ++t, r /= c) path[t] = static_cast<int>(r % c);
    std::vector<int32_t> out;
    for (int t = 0; t < T; ++t)
      if (path[t] != 0 && (t == 0 || path[t] != path[t - 1])) out.push_back(path[t]);
    if (out != label) continue;
    double lp = 0;
    for (int t = 0; t < T; ++t) lp += y[t][path[t]];
    p += std::exp(lp);
  }
  return -std::log(p);
}

// Textbook forward pass: full (T x S) table in log space, no band; blank 0.
double textbook_loss(const double* act, size_t stride, int T, int c, const int32_t* lab, int L) {
  const int S = 2 * L + 1;
  std::vector<double> alpha(static_cast<size_t>(T) * S, -kInf);
  auto ext = [&](int s) { return (s & 1) ? lab[s / 2] : 0; };
  auto add = [](double a, double b) {
    if (a == -kInf) return b;
    if (b == -kInf) return a;
    return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
  };
  for (int t = 0; t < T; ++t) {
    const std::vector<double> y = log_softmax(act + t * stride, c);
    for (int s = 0; s < S; ++s) {
      double v;
      if (t == 0) {
        v = s < 2 ? 0.0 : -kInf;
      } else {
        v = alpha[(t - 1) * S + s];
        if (s >= 1) v = add(v, alpha[(t - 1) * S + s - 1]);
        if ((s & 1) && s >= 3 && ext(s) != ext(s - 2)) v = add(v, alpha[(t - 1) * S + s - 2]);
      }
      alpha[t * S + s] = v + y[ext(s)];
    }
  }
  return -add(alpha[(T - 1) * S + S - 1], S > 1 ? alpha[(T - 1) * S + S - 2] : -kInf);
}

std::vector<double> random_normal(size_t n, double sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// ---- brute force -------------------------------------------------------------------------------

// Loss and gradient of one utterance against enumeration of every path, in double and float.
TEST(CtcTest, MatchesBruteForceOnTinyCases) {
  const std::vector<std::vector<int32_t>> labels = {{},        {1},       {2},    {1, 1},   {1, 2},
                                                    {2, 1, 2}, {1, 1, 1}, {2, 2}, {1, 2, 1}};
  unsigned seed = 1;
  int checked = 0, impossible = 0;
  for (int c = 3; c <= 4; ++c)
    for (int T = 1; T <= 5; ++T)
      for (const auto& lab : labels) {
        const std::vector<double> act = random_normal(static_cast<size_t>(T) * c, 1.5, seed++);
        const double want = brute_force_loss(act, T, c, lab);
        Batch<double> bd(T, 1, c);
        Batch<float> bf(T, 1, c);
        bd.act = act;
        for (size_t i = 0; i < act.size(); ++i) bf.act[i] = static_cast<float>(act[i]);
        bd.add(T, lab);
        bf.add(T, lab);
        bd.run();
        bf.run();
        SCOPED_TRACE(::testing::Message() << "C=" << c << " T=" << T << " L=" << lab.size());
        if (std::isinf(want)) {  // no path maps to the label
          EXPECT_EQ(bd.costs[0], kInf);
          EXPECT_EQ(bd.impossible[0], 1);
          ++impossible;
          continue;
        }
        EXPECT_EQ(bd.impossible[0], 0);
        EXPECT_NEAR(bd.costs[0], want, 1e-12 * std::max(1.0, want));
        EXPECT_NEAR(bf.costs[0], want, 1e-6 * std::max(1.0, want));
        // Central differences of the brute-force loss.
        const double eps = 1e-5;
        for (size_t i = 0; i < act.size(); ++i) {
          std::vector<double> a = act;
          a[i] += eps;
          const double up = brute_force_loss(a, T, c, lab);
          a[i] -= 2 * eps;
          const double down = brute_force_loss(a, T, c, lab);
          const double fd = (up - down) / (2 * eps);
          EXPECT_NEAR(bd.grad[i], fd, 1e-8) << "entry " << i;
          EXPECT_NEAR(bf.grad[i], fd, 2e-6) << "entry " << i;
        }
        ++checked;
      }
  EXPECT_GT(checked, 50);
  EXPECT_GT(impossible, 5);  // T = 1 with two labels, [1, 1, 1] below 5 frames, ...
}

// ---- closed forms ------------------------------------------------------------------------------

// T = 1, C = 2, label [1]: the only path is (1), so p = y(1) = e^a1 / (e^a0 + e^a1) and
// cost = -log softmax(a)[1]; d cost / d a_c = y_c - [c == 1].
TEST(CtcTest, SingleFrameClosedForm) {
  Batch<double> b(1, 1, 2);
  b.at(0, 0, 0) = 0.3;
  b.at(0, 0, 1) = -1.2;
  b.add(1, {1});
  b.run();
  const double y1 = std::exp(-1.2) / (std::exp(0.3) + std::exp(-1.2));
  EXPECT_NEAR(b.costs[0], -std::log(y1), 1e-13);
  EXPECT_NEAR(b.g(0, 0, 0), 1 - y1, 1e-13);
  EXPECT_NEAR(b.g(0, 0, 1), y1 - 1, 1e-13);
}

// Uniform activations, y = 1/C on every frame.
//  T = 2, C = 2, label [1]: paths (1,1), (0,1), (1,0) of the 4 -> p = 3/4, cost = log(4/3).
//    Posterior of class 1 at each frame: 2 of the 3 paths -> grad = (1/2 - 1/3, 1/2 - 2/3).
//  T = 3, C = 3, label [1,1]: only (1,0,1) -> p = 1/27, cost = 3 log 3; posteriors are one-hot:
//    grad frame 0 = (1/3, -2/3, 1/3), frame 1 = (-2/3, 1/3, 1/3), frame 2 = frame 0.
//  T = 2, C = 2, label []: only (0,0) -> p = 1/4, cost = 2 log 2, grad = (-1/2, 1/2) per frame.
TEST(CtcTest, UniformClosedForms) {
  {
    Batch<double> b(2, 1, 2);
    b.add(2, {1});
    b.run();
    EXPECT_NEAR(b.costs[0], std::log(4.0 / 3.0), 1e-13);
    for (int t = 0; t < 2; ++t) {
      EXPECT_NEAR(b.g(t, 0, 0), 1.0 / 6, 1e-13);
      EXPECT_NEAR(b.g(t, 0, 1), -1.0 / 6, 1e-13);
    }
  }
  {
    Batch<double> b(3, 1, 3);
    b.add(3, {1, 1});
    b.run();
    EXPECT_NEAR(b.costs[0], 3 * std::log(3.0), 1e-12);
    const double want[3][3] = {
        {1. / 3, -2. / 3, 1. / 3}, {-2. / 3, 1. / 3, 1. / 3}, {1. / 3, -2. / 3, 1. / 3}};
    for (int t = 0; t < 3; ++t)
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(b.g(t, 0, k), want[t][k], 1e-13);
  }
  {
    Batch<float> b(2, 1, 2);
    b.add(2, {});
    b.run();
    EXPECT_NEAR(b.costs[0], 2 * std::log(2.0), 1e-6);
    for (int t = 0; t < 2; ++t) {
      EXPECT_NEAR(b.g(t, 0, 0), -0.5, 1e-6);
      EXPECT_NEAR(b.g(t, 0, 1), 0.5, 1e-6);
    }
  }
}

// No frames and no label: the empty path has probability 1.
TEST(CtcTest, EmptyUtterance) {
  Batch<float> b(4, 2, 3);
  b.add(0, {});
  b.add(0, {2});
  b.run();
  EXPECT_EQ(b.costs[0], 0.f);
  EXPECT_EQ(b.impossible[0], 0);
  EXPECT_EQ(b.costs[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(b.impossible[1], 1);
  for (float g : b.grad) EXPECT_EQ(g, 0.f);
}

// ---- textbook forward pass -----------------------------------------------------------------

// Costs of a random batch with tight and loose lengths against the unbanded textbook forward.
TEST(CtcTest, MatchesTextbookForward) {
  const int C = 7, N = 6, T = 60;
  Batch<double> b(T, N, C);
  b.act = random_normal(b.act.size(), 2.0, 42);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> sym(1, C - 1);
  const int lens[N][2] = {{60, 20}, {60, 30}, {45, 44}, {31, 16}, {60, 0}, {12, 9}};
  for (const auto& len : lens) {
    int frames = len[0];
    const int L = len[1];
    std::vector<int32_t> lab(L);
    for (auto& v : lab) v = sym(rng);
    if (L >= 2) lab[1] = lab[0];  // at least one repeat
    // Tight cases: make the length exactly the minimum number of frames.
    if (frames < 2 * L) frames = ctc_min_frames(lab.data(), L);
    b.add(frames, lab);
  }
  b.run(false);
  size_t off = 0;
  for (int n = 0; n < N; ++n) {
    const double want =
        textbook_loss(&b.act[static_cast<size_t>(n) * C], static_cast<size_t>(N) * C,
                      b.input_lengths[n], C, b.labels.data() + off, b.label_lengths[n]);
    off += b.label_lengths[n];
    EXPECT_EQ(b.impossible[n], 0) << n;
    EXPECT_NEAR(b.costs[n], want, 1e-10 * want) << "utterance " << n;
  }
}

// A Mandarin-sized alphabet (C = 5,000) at small T: the cost against the textbook forward pass,
// and the gradient against central differences of the double instantiation on every label class,
// the blank and a sample of other classes (which only carry the softmax); rows sum to zero.
TEST(CtcTest, LargeAlphabetMatchesTextbookAndFiniteDifferences) {
  const int C = 5000, N = 3, T = 12;
  Batch<double> b(T, N, C);
  b.act = random_normal(b.act.size(), 2.0, 77);
  b.add(12, {4999, 17, 17, 2500, 1});
  b.add(9, {3000, 4000, 3000});
  b.add(5, {123, 4567});
  b.run();
  size_t off = 0;
  for (int n = 0; n < N; ++n) {
    const double want =
        textbook_loss(&b.act[static_cast<size_t>(n) * C], static_cast<size_t>(N) * C,
                      b.input_lengths[n], C, b.labels.data() + off, b.label_lengths[n]);
    off += b.label_lengths[n];
    EXPECT_NEAR(b.costs[n], want, 1e-10 * want) << "utterance " << n;
  }
  for (int t = 0; t < T; ++t)
    for (int n = 0; n < N; ++n) {
      double row = 0;
      for (int k = 0; k < C; ++k) row += b.g(t, n, k);
      EXPECT_NEAR(row, 0.0, 1e-9) << "t " << t << " n " << n;
    }
  const std::vector<int> classes = {0, 1, 17, 123, 2500, 3000, 4000, 4567, 4999, 2, 998, 4998};
  const double eps = 1e-4;
  for (int t : {0, 4, 8, 11})
    for (int n = 0; n < N; ++n)
      for (int k : classes) {
        Batch<double> p = b;
        p.at(t, n, k) += eps;
        p.run(false);
        const double up = p.costs[n];
        p.at(t, n, k) -= 2 * eps;
        p.run(false);
        const double fd = t < b.input_lengths[n] ? (up - p.costs[n]) / (2 * eps) : 0.0;
        EXPECT_NEAR(b.g(t, n, k), fd, 1e-7) << "t " << t << " n " << n << " class " << k;
      }
}

// ---- finite differences ------------------------------------------------------------------------

// Random batch of 3 utterances of different lengths: d cost / d act against central differences
// of the double instantiation; the float instantiation against the double one.
TEST(CtcTest, GradientMatchesFiniteDifferences) {
  const int C = 6, N = 3, T = 40;
  Batch<double> b(T, N, C);
  b.act = random_normal(b.act.size(), 1.0, 3);
  b.add(40, {1, 2, 2, 3, 5});
  b.add(27, {4, 1, 3});
  b.add(33, {5, 5, 1, 2, 1, 4});
  b.run();
  const std::vector<double> grad = b.grad, costs = b.costs;
  const double eps = 1e-4;  // truncation ~eps^2, rounding ~1e-13 / eps: both far below 1e-6
  double err2 = 0, norm2 = 0;
  for (int t = 0; t < T; ++t)
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < C; ++k) {
        Batch<double> p = b;
        p.at(t, n, k) += eps;
        p.run(false);
        const double up = p.costs[n];
        p.at(t, n, k) -= 2 * eps;
        p.run(false);
        const double fd = (up - p.costs[n]) / (2 * eps);
        const double g = grad[(static_cast<size_t>(t) * N + n) * C + k];
        err2 += (g - fd) * (g - fd);
        norm2 += g * g;
        if (t >= b.input_lengths[n]) {
          EXPECT_EQ(g, 0.0);
        }
      }
  EXPECT_LT(std::sqrt(err2 / norm2), 1e-6);

  Batch<float> f(T, N, C);
  for (size_t i = 0; i < b.act.size(); ++i) f.act[i] = static_cast<float>(b.act[i]);
  f.labels = b.labels;
  f.label_lengths = b.label_lengths;
  f.input_lengths = b.input_lengths;
  f.max_label = b.max_label;
  f.run();
  for (int n = 0; n < N; ++n) EXPECT_NEAR(f.costs[n], costs[n], 1e-5 * costs[n]);
  for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(f.grad[i], grad[i], 1e-6);
}

// ---- impossible alignments ---------------------------------------------------------------------

// [1, 1] needs a blank between the repeats: 3 frames. With 2 the cost is +inf, the flag is set,
// the gradient is zero, and the neighbour in the batch is unaffected.
TEST(CtcTest, ImpossibleAlignment) {
  Batch<float> b(3, 3, 3);
  const std::vector<double> a = random_normal(b.act.size(), 1.0, 5);
  for (size_t i = 0; i < a.size(); ++i) b.act[i] = static_cast<float>(a[i]);
  b.add(2, {1, 1});
  b.add(3, {1, 1});
  b.add(1, {1, 2});
  b.run();
  EXPECT_EQ(b.costs[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(b.impossible[0], 1);
  EXPECT_TRUE(std::isfinite(b.costs[1]));
  EXPECT_EQ(b.impossible[1], 0);
  EXPECT_EQ(b.costs[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(b.impossible[2], 1);
  for (int t = 0; t < 3; ++t)
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(b.g(t, 0, k), 0.f);
      EXPECT_EQ(b.g(t, 2, k), 0.f);
      EXPECT_TRUE(std::isfinite(b.g(t, 1, k)));
    }
  // The possible one alone gives the same numbers.
  Batch<float> one(3, 1, 3);
  for (int t = 0; t < 3; ++t)
    for (int k = 0; k < 3; ++k) one.at(t, 0, k) = b.at(t, 1, k);
  one.add(3, {1, 1});
  one.run();
  EXPECT_EQ(one.costs[0], b.costs[1]);
  EXPECT_EQ(ctc_min_frames(b.labels.data(), 2), 3);
}

// ---- stability ---------------------------------------------------------------------------------

// T = 3000, L = 750, |activations| up to 30: log alpha reaches about -1e5. The cost must be
// finite and match the textbook forward in double; every gradient row is softmax minus a
// distribution over classes, so it sums to 0 -- a check of the alpha + beta - log p
// cancellation at every frame.
TEST(CtcTest, StableOnLongConfidentSequences) {
  const int T = 3000, C = 29, L = 750;
  Batch<float> b(T, 1, C);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-30.f, 30.f);
  for (float& x : b.act) x = u(rng);
  std::uniform_int_distribution<int32_t> sym(1, C - 1);
  std::vector<int32_t> lab(L);
  for (auto& v : lab) v = sym(rng);
  b.add(T, lab);
  b.run();
  ASSERT_EQ(b.impossible[0], 0);
  ASSERT_TRUE(std::isfinite(b.costs[0]));
  std::vector<double> act(b.act.begin(), b.act.end());
  const double want = textbook_loss(act.data(), C, T, C, lab.data(), L);
  EXPECT_GT(want, 1e4);
  EXPECT_NEAR(b.costs[0], want, 1e-6 * want);
  double worst = 0;
  for (int t = 0; t < T; ++t) {
    double sum = 0;
    for (int k = 0; k < C; ++k) {
      const float g = b.g(t, 0, k);
      ASSERT_TRUE(std::isfinite(g)) << t << " " << k;
      ASSERT_GE(g, -1.f - 1e-6f);
      ASSERT_LE(g, 1.f + 1e-6f);
      sum += g;
    }
    worst = std::max(worst, std::fabs(sum));
  }
  EXPECT_LT(worst, 1e-5);
}

// ---- padding and batching ----------------------------------------------------------------------

// An utterance alone and inside a batch with a longer neighbour (padding filled with NaN and
// 1e30) gives bit-identical cost and gradient, and its padded rows get zero gradient.
TEST(CtcTest, PaddingAndNeighboursDoNotMatter) {
  const int C = 5, T = 17;
  const std::vector<double> a = random_normal(static_cast<size_t>(T) * C, 1.0, 9);
  Batch<float> alone(T, 1, C);
  for (size_t i = 0; i < a.size(); ++i) alone.act[i] = static_cast<float>(a[i]);
  alone.add(T, {1, 3, 3, 4});
  alone.run();

  const int Tmax = 30;
  Batch<float> batch(Tmax, 3, C);
  const std::vector<double> other = random_normal(batch.act.size(), 1.0, 10);
  for (size_t i = 0; i < other.size(); ++i) batch.act[i] = static_cast<float>(other[i]);
  for (int t = 0; t < Tmax; ++t)
    for (int k = 0; k < C; ++k)
      batch.at(t, 1, k) =
          t < T ? alone.at(t, 0, k) : (k % 2 ? std::numeric_limits<float>::quiet_NaN() : 1e30f);
  batch.add(Tmax, {2, 2, 1});
  batch.add(T, {1, 3, 3, 4});
  batch.add(9, {4});
  for (int threads : {1, 2}) {
    batch.run(true, threads);
    EXPECT_EQ(batch.costs[1], alone.costs[0]);
    for (int t = 0; t < Tmax; ++t)
      for (int k = 0; k < C; ++k) {
        EXPECT_EQ(batch.g(t, 1, k), t < T ? alone.g(t, 0, k) : 0.f);
        if (t >= 9) {
          EXPECT_EQ(batch.g(t, 2, k), 0.f);
        }
      }
  }
  // Without a gradient buffer the costs are the same.
  const std::vector<float> costs = batch.costs;
  batch.run(false);
  EXPECT_EQ(batch.costs, costs);
}

// A workspace sized for a larger shape serves a smaller call (cache by the maximum shape).
TEST(CtcTest, WorkspaceForLargerShapeIsEnough) {
  Batch<float> b(6, 2, 4);
  b.add(6, {1, 2});
  b.add(4, {3});
  b.run();
  std::vector<char> ws(ctc_cpu_workspace_bytes(CtcShape{50, 8, 29, 20}));
  std::vector<float> costs(2), grad(b.act.size());
  std::vector<uint8_t> imp(2);
  ctc_loss_cpu(b.act.data(), grad.data(), b.labels.data(), b.label_lengths.data(),
               b.input_lengths.data(), b.shape(), costs.data(), imp.data(), ws.data());
  EXPECT_EQ(costs, b.costs);
  EXPECT_EQ(grad, b.grad);
}

// blank = C - 1 with the activation columns permuted is the same problem as blank = 0.
TEST(CtcTest, BlankIndexIsAParameter) {
  const int C = 4, T = 9;
  Batch<double> b0(T, 1, C), b3(T, 1, C);
  b0.act = random_normal(b0.act.size(), 1.0, 12);
  // Symbol k of b0 is symbol (k + 3) % 4 of b3: blank 0 -> 3, labels 1..3 -> 0..2.
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < C; ++k) b3.at(t, 0, (k + 3) % C) = b0.at(t, 0, k);
  b0.add(T, {1, 2, 2, 3});
  b3.add(T, {0, 1, 1, 2});
  b0.run();
  b3.run(true, 1, 3);
  EXPECT_NEAR(b3.costs[0], b0.costs[0], 1e-12);
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < C; ++k) EXPECT_NEAR(b3.g(t, 0, (k + 3) % C), b0.g(t, 0, k), 1e-12);
}

// Every float kernel this CPU runs (baseline x86-64, AVX2, AVX-512, and kAuto's choice) against
// references that are not themselves one of those kernels, so a CPU without AVX2 does not compare
// a kernel with itself: costs against the unbanded textbook forward pass in double, gradients
// against the double instantiation (scalar code, no ISA dispatch; its gradient is checked against
// brute force and finite differences above). On a batch with short and long rows and an
// impossible utterance. The kernels must also agree with one another up to FMA rounding.
TEST(CtcTest, InstructionSetKernelsMatchTheReferences) {
  const int C = 29, N = 5, T = 120;
  Batch<float> base(T, N, C);
  Batch<double> ref(T, N, C);
  const std::vector<double> a = random_normal(base.act.size(), 3.0, 21);
  for (size_t i = 0; i < a.size(); ++i) base.act[i] = static_cast<float>(a[i]);
  for (size_t i = 0; i < a.size(); ++i) ref.act[i] = static_cast<double>(base.act[i]);
  std::mt19937 rng(22);
  std::uniform_int_distribution<int32_t> sym(1, C - 1);
  const int lens[N][2] = {{120, 30}, {100, 49}, {7, 3}, {120, 1}, {3, 5}};
  for (const auto& len : lens) {
    std::vector<int32_t> lab(len[1]);
    for (auto& v : lab) v = sym(rng);
    base.add(len[0], lab);
    ref.add(len[0], lab);
  }
  ref.run(true, 1, 0);
  std::vector<double> textbook(N, kInf);
  for (int n = 0, off = 0; n < N; off += ref.label_lengths[n], ++n)
    if (!ref.impossible[n])
      textbook[n] =
          textbook_loss(&ref.act[static_cast<size_t>(n) * C], static_cast<size_t>(N) * C,
                        ref.input_lengths[n], C, ref.labels.data() + off, ref.label_lengths[n]);
  ASSERT_EQ(ref.impossible[4], 1);  // 5 labels in 3 frames
  base.run(true, 1, 0, CtcCpuIsa::kBaseline);
  int ran = 0;
  for (CtcCpuIsa isa :
       {CtcCpuIsa::kBaseline, CtcCpuIsa::kAvx2, CtcCpuIsa::kAvx512, CtcCpuIsa::kAuto}) {
    if (!ctc_cpu_isa_available(isa)) {
      std::printf("[   NOTE   ] CTC kernel %d not available on this CPU/build\n",
                  static_cast<int>(isa));
      continue;
    }
    Batch<float> b = base;
    b.run(true, 2, 0, isa);
    ++ran;
    for (int n = 0; n < N; ++n) {
      EXPECT_EQ(b.impossible[n], ref.impossible[n]) << "kernel " << static_cast<int>(isa);
      if (ref.impossible[n]) {
        EXPECT_EQ(b.costs[n], std::numeric_limits<float>::infinity());
        continue;
      }
      EXPECT_NEAR(b.costs[n], textbook[n], 2e-5 * textbook[n])
          << "kernel " << static_cast<int>(isa) << " utterance " << n << " vs textbook";
      EXPECT_NEAR(b.costs[n], base.costs[n], 1e-6 * std::fabs(base.costs[n])) << n;
    }
    double max_ref_diff = 0;
    for (size_t i = 0; i < b.grad.size(); ++i) {
      max_ref_diff = std::max(max_ref_diff, std::abs(double(b.grad[i]) - ref.grad[i]));
      EXPECT_NEAR(b.grad[i], base.grad[i], 1e-6);
    }
    EXPECT_LT(max_ref_diff, 1e-4) << "kernel " << static_cast<int>(isa) << " vs double gradient";
  }
  EXPECT_GE(ran, 2);  // the baseline and kAuto always run
}

// ---- invalid input -----------------------------------------------------------------------------

TEST(CtcTest, InvalidInputThrowsConfigError) {
  auto call = [](std::vector<int32_t> labels, std::vector<int32_t> label_lengths,
                 std::vector<int32_t> input_lengths, CtcShape shape, int blank = 0) {
    std::vector<float> act(static_cast<size_t>(std::max(shape.max_time, 1)) *
                           std::max(shape.batch, 1) * std::max(shape.alphabet, 1));
    std::vector<float> costs(std::max(shape.batch, 1));
    std::vector<uint8_t> imp(std::max(shape.batch, 1));
    std::vector<char> ws(ctc_cpu_workspace_bytes(shape) + 1);
    ctc_loss_cpu(act.data(), static_cast<float*>(nullptr), labels.data(), label_lengths.data(),
                 input_lengths.data(), shape, costs.data(), imp.data(), ws.data(), 1, blank);
  };
  const CtcShape ok{5, 1, 4, 3};
  EXPECT_NO_THROW(call({1, 2}, {2}, {5}, ok));
  EXPECT_THROW(call({0, 2}, {2}, {5}, ok), ConfigError);        // label is the blank
  EXPECT_THROW(call({1, 4}, {2}, {5}, ok), ConfigError);        // label >= alphabet
  EXPECT_THROW(call({1, -1}, {2}, {5}, ok), ConfigError);       // negative label
  EXPECT_THROW(call({1, 2}, {-1}, {5}, ok), ConfigError);       // negative label length
  EXPECT_THROW(call({1, 2, 3, 1}, {4}, {5}, ok), ConfigError);  // label length > max_label
  EXPECT_THROW(call({1, 2}, {2}, {6}, ok), ConfigError);        // input length > max_time
  EXPECT_THROW(call({1, 2}, {2}, {-2}, ok), ConfigError);       // negative input length
  EXPECT_THROW(call({1, 2}, {2}, {5}, ok, 4), ConfigError);     // blank outside alphabet
  EXPECT_THROW(call({1, 2}, {2}, {5}, CtcShape{5, 1, 1, 3}), ConfigError);  // alphabet < 2
  EXPECT_THROW(call({1, 2}, {2}, {5}, CtcShape{-5, 1, 4, 3}), ConfigError);
  EXPECT_NO_THROW(call({0, 2}, {2}, {5}, ok, 3));  // 0 is a label when blank is 3
}

// ---- shared numerics ---------------------------------------------------------------------------

// The polynomial exp/log and the three-way log-sum-exp against libm, including -inf handling.
TEST(CtcMathTest, PolynomialExpLogMatchLibm) {
  using namespace detail;
  for (double x = -745; x <= 709; x += 0.173) {
    const double want = x < kExpMin ? 0.0 : std::exp(x);
    EXPECT_NEAR(exp_poly(x), want, 2e-14 * want) << x;
  }
  EXPECT_EQ(exp_poly(-kInf), 0.0);
  EXPECT_EQ(exp_poly(std::numeric_limits<double>::quiet_NaN()), 0.0);
  for (double x = 1e-300; x < 1e300; x *= 1.7)
    EXPECT_NEAR(log_poly(x), std::log(x), 1e-13 * std::max(1.0, std::fabs(std::log(x))));
  for (double x = 1; x <= 3; x += 1e-3) EXPECT_NEAR(log_poly(x), std::log(x), 1e-14) << x;
  EXPECT_EQ(log_sum_exp3(-kInf, -kInf, -kInf), -kInf);
  EXPECT_NEAR(log_sum_exp3(-kInf, 2.0, -kInf), 2.0, 1e-15);
  EXPECT_NEAR(log_sum_exp3(-1e5, -1e5 + 1, -kInf), -1e5 + std::log(1 + std::exp(1.0)), 1e-10);
  EXPECT_NEAR(log_sum_exp3(0.5, -3.0, 1.0),
              std::log(std::exp(0.5) + std::exp(-3.0) + std::exp(1.0)), 1e-14);
  EXPECT_EQ(log_add(-kInf, -kInf), -kInf);
  EXPECT_NEAR(log_add(1.0f, 1.0f), 1.0f + std::log(2.0f), 1e-6f);
}

}  // namespace
}  // namespace ds2::model
