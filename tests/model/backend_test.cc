// CPU backend ops against independent oracles: sgemm and the prepared-B product vs a naive
// triple loop (all transposes, leading dimensions), im2col convolution vs a direct nested-loop
// convolution, softmax vs the closed form, batch-norm statistics vs a naive masked mean/variance,
// thread setting, the training-step ops (scale, sum of squares, Nesterov SGD, row broadcast,
// events, staging), the bias gradient, the GRU step and its float exp/sigmoid/tanh against the
// closed form in double with libm.
#include "model/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <tuple>

#include "core/error.h"
#include "ds2/config.h"
#include "model/conv.h"
#include "model/cpu/gemm_prepared.h"
#include "model/detail/rnn_cell.h"
#include "model/params.h"
#include "tests/model/gradcheck.h"

namespace ds2::model {
namespace {

// Small shapes run on one thread; the large ones are split over 2 threads by columns / rows.
TEST(Backend, GemmMatchesNaive) {
  auto be = make_backend(Device::kCpu, 2);
  EXPECT_EQ(be->num_threads(), 2);
  for (auto [m, n, k] :
       {std::tuple{37, 29, 53}, std::tuple{70, 301, 257}, std::tuple{301, 70, 257}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
        auto a = test::random_vector(static_cast<size_t>(ta ? k : m) * lda, 1);
        auto b = test::random_vector(static_cast<size_t>(tb ? n : k) * ldb, 2);
        auto c = test::random_vector(static_cast<size_t>(m) * ldc, 3);
        auto ref = c;
        be->gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, 0.3f, c.data(), ldc);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int p = 0; p < k; ++p)
              s += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) *
                   (tb ? b[j * ldb + p] : b[p * ldb + j]);
            const double want = 0.7 * s + 0.3 * ref[i * ldc + j];
            ASSERT_NEAR(c[i * ldc + j], want, 1e-3) << ta << tb << " at " << i << "," << j;
          }
        for (int i = 0; i < m; ++i)  // padding columns untouched
          for (int j = n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], ref[i * ldc + j]);
      }
}

// The recurrent steps' product against a prepared B (model/cpu/gemm_prepared.h), each kernel
// against the naive product in double: m across the kernel's 8-row tiles (1..17), n across its
// 32-column panels (1, 31, 33, 100, 768 with a ragged last panel), B and B^T, beta 0 and 1,
// leading dimensions wider than the matrices, columns past n and rows past m never written.
TEST(Backend, PreparedGemmMatchesNaive) {
  for (cpu::PreparedKernel kernel : {cpu::PreparedKernel::kBlas, cpu::PreparedKernel::kAvx512}) {
    if (kernel == cpu::PreparedKernel::kAvx512 &&
        cpu::best_prepared_kernel() != cpu::PreparedKernel::kAvx512) {
      std::printf("SKIPPED: the AVX-512 prepared-B kernel (this CPU or build has no AVX-512)\n");
      continue;
    }
    for (auto [m, n, k] :
         {std::tuple{1, 1, 1}, std::tuple{3, 31, 7}, std::tuple{8, 33, 64}, std::tuple{9, 100, 5},
          std::tuple{17, 768, 256}, std::tuple{16, 256, 768}})
      for (bool trans : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          const int lda = k + 3, ldb = (trans ? k : n) + 2, ldc = n + 5;
          auto a = test::random_vector(static_cast<size_t>(m) * lda, 1);
          auto b = test::random_vector(static_cast<size_t>(trans ? n : k) * ldb, 2);
          auto c = test::random_vector(static_cast<size_t>(m + 1) * ldc, 3);
          const auto before = c;
          std::vector<float> prep(cpu::prepared_floats(kernel, k, n), -7.0f);
          cpu::prepare_b(kernel, trans, k, n, b.data(), ldb, prep.data());
          cpu::gemm_prepared(kernel, m, n, k, a.data(), lda, prep.data(), beta, c.data(), ldc);
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              double s = beta * static_cast<double>(before[i * ldc + j]);
              for (int p = 0; p < k; ++p)
                s +=
                    static_cast<double>(a[i * lda + p]) * (trans ? b[j * ldb + p] : b[p * ldb + j]);
              ASSERT_NEAR(c[i * ldc + j], s, 1e-4 * (1 + std::abs(s)))
                  << static_cast<int>(kernel) << " m " << m << " n " << n << " k " << k << " trans "
                  << trans << " beta " << beta << " at " << i << "," << j;
            }
          for (int i = 0; i <= m; ++i)
            for (int j = i < m ? n : 0; j < ldc; ++j)
              ASSERT_EQ(c[i * ldc + j], before[i * ldc + j])
                  << "wrote outside C at " << i << "," << j;
        }
  }
}

// Direct convolution of one (C, T, F) map with zero padding, in double.
std::vector<double> direct_conv(const std::vector<float>& x, const float* w, const ConvGeom& g) {
  const int to = g.t_out(), fo = g.f_out();
  std::vector<double> y(static_cast<size_t>(g.c_out) * to * fo, 0.0);
  for (int o = 0; o < g.c_out; ++o)
    for (int t = 0; t < to; ++t)
      for (int f = 0; f < fo; ++f) {
        double s = 0;
        for (int c = 0; c < g.c_in; ++c)
          for (int i = 0; i < g.kt; ++i)
            for (int j = 0; j < g.kf; ++j) {
              const int ts = t * g.st - g.pt + i, fs = f * g.sf - g.pf + j;
              if (ts < 0 || ts >= g.t_in || fs < 0 || fs >= g.f_in) continue;
              s += static_cast<double>(w[((o * g.kt + i) * g.c_in + c) * g.kf + j]) *
                   x[(c * g.t_in + ts) * g.f_in + fs];
            }
        y[(o * to + t) * fo + f] = s;
      }
  return y;
}

TEST(Backend, Im2colConvMatchesDirect) {
  auto be = make_backend(Device::kCpu, 2);
  struct G {
    int c_in, t, f, c_out, kt, kf, st, sf;
  };
  for (G s : {G{1, 13, 21, 4, 5, 7, 2, 2}, G{3, 9, 11, 2, 3, 5, 1, 2}, G{2, 6, 4, 3, 3, 9, 2, 1},
              G{2, 8, 17, 3, 3, 7, 1, 3}}) {
    ConvGeom g;
    g.c_in = s.c_in, g.t_in = s.t, g.f_in = s.f, g.c_out = s.c_out, g.kt = s.kt, g.kf = s.kf;
    g.st = s.st, g.sf = s.sf, g.pt = (s.kt - 1) / 2, g.pf = (s.kf - 1) / 2;
    const int k = g.col_rows(), to = g.t_out(), fo = g.f_out();
    auto x = test::random_vector(static_cast<size_t>(g.c_in) * g.t_in * g.f_in, 4);
    auto w = test::random_vector(static_cast<size_t>(g.c_out) * k, 5);
    auto ref = direct_conv(x, w.data(), g);
    // Two chunks of output frames, as the layer does.
    std::vector<float> y(static_cast<size_t>(g.c_out) * to * fo);
    const int split = to / 2;
    for (auto [t0, nt] : {std::pair{0, split}, std::pair{split, to - split}}) {
      std::vector<float> col(static_cast<size_t>(k) * nt * fo);
      be->im2col(g, x.data(), t0, nt, col.data());
      be->gemm(false, false, g.c_out, nt * fo, k, 1.0f, w.data(), k, col.data(), nt * fo, 0.0f,
               y.data() + t0 * fo, to * fo);
    }
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-4) << i;
    // col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>.
    std::vector<float> col(static_cast<size_t>(k) * to * fo), dx(x.size(), 0.0f);
    be->im2col(g, x.data(), 0, to, col.data());
    auto c = test::random_vector(col.size(), 6);
    be->col2im(g, c.data(), 0, to, dx.data());
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < col.size(); ++i) lhs += static_cast<double>(col[i]) * c[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += static_cast<double>(x[i]) * dx[i];
    EXPECT_NEAR(lhs, rhs, 1e-3 * std::max(1.0, std::abs(lhs)));
  }
}

TEST(Backend, SoftmaxClosedForm) {
  auto be = make_backend(Device::kCpu, 1);
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 1000.0f, 1000.0f, -1000.0f}, y(6);
  be->softmax(x.data(), y.data(), 2, 3);
  const double e = std::exp(1.0), d = 1 + e + e * e;
  EXPECT_NEAR(y[0], 1 / d, 1e-6);
  EXPECT_NEAR(y[2], e * e / d, 1e-6);
  EXPECT_NEAR(y[3], 0.5, 1e-6);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(Backend, BatchNormStatisticsUseValidFramesOnly) {
  auto be = make_backend(Device::kCpu, 2);
  const int t = 4, n = 2, c = 3;
  std::vector<int32_t> len = {4, 2};
  auto x = test::random_vector(static_cast<size_t>(t) * n * c, 7);
  for (int i = 0; i < c; ++i) x[(3 * n + 1) * c + i] = 1e6f;  // padding garbage: must be ignored
  std::vector<float> y(x.size()), gamma(c, 1.0f), beta(c, 0.0f), mean(c), invstd(c);
  std::vector<float> rm(c, 0.0f), rv(c, 1.0f);
  BnLayout l{BnLayout::kRows, n, c, t, 1, len.data()};
  be->bn_forward_train(l, x.data(), gamma.data(), beta.data(), 0.0f, 1.0f, y.data(), mean.data(),
                       invstd.data(), rm.data(), rv.data());
  for (int k = 0; k < c; ++k) {
    double s = 0, q = 0;
    int m = 0;
    for (int ti = 0; ti < t; ++ti)
      for (int j = 0; j < n; ++j)
        if (ti < len[j]) s += x[(ti * n + j) * c + k], ++m;
    const double mu = s / m;
    for (int ti = 0; ti < t; ++ti)
      for (int j = 0; j < n; ++j)
        if (ti < len[j]) q += std::pow(x[(ti * n + j) * c + k] - mu, 2);
    EXPECT_NEAR(mean[k], mu, 1e-6);
    EXPECT_NEAR(rv[k], q / m, 1e-5);  // momentum 1: running = batch (biased) variance
    EXPECT_NEAR(invstd[k], 1.0 / std::sqrt(q / m), 1e-4);
    EXPECT_EQ(y[(3 * n + 1) * c + k], 0.0f);
  }
}

// The whole-arena training-step ops against closed forms: scale and broadcast elementwise,
// sum_squares of small integers (exact in double), the Nesterov update against the formula of
// train/optimizer.h evaluated in double over two steps (the velocity carries over), and the
// CPU's trivial events/staging (always complete; transfers are copies).
TEST(Backend, TrainingStepOpsMatchClosedForms) {
  auto be = make_backend(Device::kCpu, 2);
  const size_t n = 1001;
  std::vector<float> x(n);
  double sq = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
    sq += (static_cast<double>(i % 7) - 3) * (static_cast<double>(i % 7) - 3);
  }
  EXPECT_EQ(be->sum_squares(x.data(), n), sq);
  std::vector<float> y = x;
  be->scale(y.data(), n, 0.25f);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(y[i], x[i] * 0.25f);

  const float lr = 0.1f, mu = 0.9f, wd = 0.01f;
  std::vector<float> p = test::random_vector(n, 4), v(n, 0.0f);
  const std::vector<float> g1 = test::random_vector(n, 5), g2 = test::random_vector(n, 6);
  std::vector<double> pd(p.begin(), p.end()), vd(n, 0.0);
  for (const auto* g : {&g1, &g2}) {
    be->sgd_nesterov(p.data(), g->data(), v.data(), n, lr, mu, wd);
    for (size_t i = 0; i < n; ++i) {
      const double gi = (*g)[i] + double{wd} * pd[i];
      vd[i] = mu * vd[i] + gi;
      pd[i] -= lr * (gi + mu * vd[i]);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(p[i], pd[i], 1e-6 * (1 + std::fabs(pd[i])));
    EXPECT_NEAR(v[i], vd[i], 1e-6 * (1 + std::fabs(vd[i])));
  }

  const int rows = 5, cols = 13;
  std::vector<float> out(rows * cols, -1.0f), row = test::random_vector(cols, 7);
  be->broadcast_rows(out.data(), row.data(), rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) EXPECT_EQ(out[r * cols + c], row[c]);

  void* e1 = be->create_event();
  void* e2 = be->create_event();
  EXPECT_NE(e1, e2);
  be->record_event(e1);
  be->wait_event(e1);
  EXPECT_TRUE(be->event_done(e1));
  be->destroy_event(e1);
  be->destroy_event(e2);
  float* h = be->alloc_host(n);
  float* d = be->alloc(n);
  be->transfer_upload(d, x.data(), n);
  be->transfer_download(h, d, n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(h[i], x[i]);
  be->free(d);
  be->free_host(h);
}

// Column sums (the bias gradient) against a naive sum in double per column, rows in order:
// small (one thread) and large (two threads, column blocks with a remainder).
TEST(Backend, BiasGradMatchesNaiveColumnSums) {
  auto be = make_backend(Device::kCpu, 2);
  for (auto [rows, cols] : {std::pair{7, 5}, std::pair{301, 600}}) {
    auto dy = test::random_vector(static_cast<size_t>(rows) * cols, 31);
    auto db = test::random_vector(static_cast<size_t>(cols), 32);
    std::vector<float> want = db;
    for (int c = 0; c < cols; ++c) {
      double s = 0;
      for (int r = 0; r < rows; ++r) s += dy[static_cast<size_t>(r) * cols + c];
      want[c] += static_cast<float>(s);
    }
    be->bias_grad(dy.data(), rows, cols, db.data());
    for (int c = 0; c < cols; ++c) EXPECT_EQ(db[c], want[c]) << rows << "x" << cols << " col " << c;
  }
}

TEST(Backend, CellMathMatchesLibm) {
  using namespace detail;
  for (double x = -87; x <= 88; x += 0.0173) {
    const float xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    EXPECT_NEAR(exp_polyf(xf), want, 4e-7 * want) << x;
  }
  for (double x = -40; x <= 40; x += 0.00731) {
    const float xf = static_cast<float>(x);
    EXPECT_NEAR(sigmoid(xf), 1.0 / (1.0 + std::exp(-static_cast<double>(xf))), 1e-7) << x;
    EXPECT_NEAR(tanh_cell(xf), std::tanh(static_cast<double>(xf)), 2e-7) << x;
  }
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  EXPECT_EQ(sigmoid(inf), 1.0f);
  EXPECT_EQ(sigmoid(-inf), 0.0f + sigmoid(-inf));  // finite, >= 0
  EXPECT_LT(sigmoid(-inf), 1e-37f);
  EXPECT_EQ(tanh_cell(inf), 1.0f);
  EXPECT_EQ(tanh_cell(-inf), -1.0f);
  EXPECT_EQ(tanh_cell(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(sigmoid(nan)));
  EXPECT_TRUE(std::isnan(tanh_cell(nan)));
}

// One GRU step on the CPU backend (the vectorized row loop: 37 units, so both its vector body
// and its remainder run) against z, r, c, h in double; a padded row is zero; a NaN input stays
// NaN in its unit only.
TEST(Backend, GruStepMatchesClosedForm) {
  auto be = make_backend(Device::kCpu, 1);
  const int n = 3, h = 37;
  const std::vector<int32_t> lengths = {1, 1, 0};
  auto xg = test::random_vector(static_cast<size_t>(n) * 3 * h, 21);
  auto uh = test::random_vector(static_cast<size_t>(n) * 3 * h, 22);
  auto hp = test::random_vector(static_cast<size_t>(n) * h, 23);
  for (auto& v : xg) v *= 8.0f;  // pre-activations up to about +-15: saturated gates too
  xg[h + 5] = std::nanf("");     // row 0, r gate of unit 5
  std::vector<float> out(static_cast<size_t>(n) * h, -1.0f), saved(static_cast<size_t>(n) * 4 * h);
  be->gru_step_forward(0, n, h, lengths.data(), xg.data(), uh.data(), hp.data(), out.data(),
                       saved.data());
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int j = 0; j < n; ++j)
    for (int k = 0; k < h; ++k) {
      const float* x = &xg[static_cast<size_t>(j) * 3 * h];
      const float* u = &uh[static_cast<size_t>(j) * 3 * h];
      const float got = out[static_cast<size_t>(j) * h + k];
      if (j == 2) {
        EXPECT_EQ(got, 0.0f);
        continue;
      }
      if (j == 0 && k == 5) {
        EXPECT_TRUE(std::isnan(got));
        continue;
      }
      const double z = sig(x[k] + u[k]), r = sig(x[h + k] + u[h + k]);
      const double c = std::tanh(x[2 * h + k] + r * u[2 * h + k]);
      EXPECT_NEAR(got, (1 - z) * c + z * hp[static_cast<size_t>(j) * h + k], 1e-6) << j << " " << k;
      const float* sv = &saved[static_cast<size_t>(j) * 4 * h];
      EXPECT_NEAR(sv[k], z, 1e-6);
      EXPECT_NEAR(sv[h + k], r, 1e-6);
      EXPECT_NEAR(sv[2 * h + k], c, 1e-6);
      EXPECT_EQ(sv[3 * h + k], u[2 * h + k]);
    }
}

TEST(Backend, CudaWithoutBuildOrDeviceIsConfigError) {
  EXPECT_THROW(parse_device("tpu"), ConfigError);
  EXPECT_EQ(parse_device("cuda"), Device::kCuda);
#ifdef DS2_HAS_CUDA
  try {
    make_backend(Device::kCuda);
    GTEST_SKIP() << "a CUDA device is present: the no-device error cannot be checked here";
  } catch (const ConfigError&) {
  }
#else
  EXPECT_THROW(make_backend(Device::kCuda), ConfigError);
#endif
}

}  // namespace
}  // namespace ds2::model
