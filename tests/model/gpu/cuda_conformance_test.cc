// Conformance of the CUDA backend against the CPU backend (the oracle): every op of
// model/backend.h runs on both with the same random inputs, and each output is compared by the
// normalized mean squared error nmse = sum (gpu - cpu)^2 / sum cpu^2 under a per-op tolerance:
//   exact (0)    fill, copy, upload/download, masks, layout moves, clipped ReLU (+ backward),
//                im2col, conv time-tap gather
//   1e-12        axpy, add_bias, rnn steps, conv time-tap add (a few roundings each)
//   1e-10        gemm and gemm_prepared (fp32, different summation order), bias_grad, col2im,
//                softmax, GRU steps
//                (the shared float exp, FMA contraction), lookahead, batch norm (double
//                statistics), CTC gradient
//   1e-6 rel.    CTC costs (double lattice on both, rounded to float)
//   whole ds2-tiny training step: loss 1e-4 relative, gradient nmse 1e-6 (float sums over
//                the batch in different orders; ReLU/clip boundaries can amplify).
// Every output buffer has guard regions of sentinel floats before and after it, on both
// backends, checked after the op: a write past either end fails the test.
//
// Without a usable CUDA device every test is SKIPPED with the CUDA error as the reason (ctest
// reports it as skipped via SKIP_REGULAR_EXPRESSION); the executable carries the label `gpu`.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"
#include "model/config.h"
#include "model/ctc.h"
#include "model/cuda/cuda_backend.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"

namespace ds2::model {
namespace {

constexpr size_t kGuard = 64;
constexpr float kSentinel = -7777.25f;

// Empty when a CUDA device is usable, else the reason.
std::string no_device_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  if (count == 0) return "cudaGetDeviceCount returned 0";
  return "";
}

#define DS2_REQUIRE_GPU()                                        \
  do {                                                           \
    const std::string why = no_device_reason();                  \
    if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why; \
  } while (0)

// Buffers in one backend's memory, each with kGuard sentinel floats on both sides.
class Arena {
 public:
  explicit Arena(Backend& be) : be_(be) {}
  ~Arena() {
    for (auto& b : bufs_) be_.free(b.base);
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Backend& be() { return be_; }

  float* in(const std::vector<float>& v) {
    float* p = make(v.size());
    be_.upload(p, v.data(), v.size());
    return p;
  }
  // Contents of p (downloaded); fails the test when a guard float changed.
  std::vector<float> get(const float* p) {
    for (auto& b : bufs_) {
      if (b.base + kGuard != p) continue;
      std::vector<float> all(b.n + 2 * kGuard);
      be_.download(all.data(), b.base, all.size());
      for (size_t i = 0; i < kGuard; ++i) {
        EXPECT_EQ(all[i], kSentinel) << "write before the buffer at -" << (kGuard - i);
        EXPECT_EQ(all[kGuard + b.n + i], kSentinel) << "write past the buffer end at +" << i;
      }
      return std::vector<float>(all.begin() + kGuard, all.begin() + kGuard + b.n);
    }
    ADD_FAILURE() << "Arena::get: unknown pointer";
    return {};
  }

 private:
  struct Buf {
    float* base;
    size_t n;
  };
  float* make(size_t n) {
    float* base = be_.alloc(n + 2 * kGuard);
    const std::vector<float> g(kGuard, kSentinel);
    be_.upload(base, g.data(), kGuard);
    be_.upload(base + kGuard + n, g.data(), kGuard);
    bufs_.push_back({base, n});
    return base + kGuard;
  }
  Backend& be_;
  std::vector<Buf> bufs_;
};

using Outputs = std::vector<std::vector<float>>;
using OpFn = std::function<Outputs(Arena&)>;

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return den > 0 ? num / den : num;
}

std::vector<float> rnd(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  return test::random_vector(n, seed, lo, hi);
}

class CudaConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    DS2_REQUIRE_GPU();
    cpu_ = make_backend(Device::kCpu, 2);
    gpu_ = make_backend(Device::kCuda);
  }
  void check_ctc(const CtcShape& sh, const std::vector<int32_t>& in_len,
                 const std::vector<int32_t>& lab_len, const std::vector<int32_t>& labels,
                 uint32_t seed);
  // Runs f on both backends and compares every output under tol (nmse).
  void check(const std::string& op, double tol, const OpFn& f) {
    SCOPED_TRACE(op);
    Outputs want, got;
    {
      Arena a(*cpu_);
      want = f(a);
    }
    {
      Arena a(*gpu_);
      got = f(a);
    }
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(want[i].size(), got[i].size()) << "output " << i;
      const double e = nmse(got[i], want[i]);
      if (tol == 0)
        EXPECT_EQ(e, 0.0) << op << " output " << i << " differs";
      else
        EXPECT_LE(e, tol) << op << " output " << i;
    }
  }
  std::unique_ptr<Backend> cpu_, gpu_;
};

TEST_F(CudaConformance, MemoryOps) {
  const auto x = rnd(1000, 1);
  check("upload/copy/fill", 0, [&](Arena& a) {
    float* p = a.in(x);
    float* q = a.in(rnd(1000, 2));
    a.be().copy(q + 10, p, 900);
    float* r = a.in(rnd(300, 3));
    a.be().fill(r + 1, 298, 2.5f);
    return Outputs{a.get(p), a.get(q), a.get(r)};
  });
}

TEST_F(CudaConformance, Gemm) {
  const int m = 37, n = 29, k = 53, pad = 3;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      const auto av = rnd(static_cast<size_t>(ta ? k : m) * lda, 10 + ta);
      const auto bv = rnd(static_cast<size_t>(tb ? n : k) * ldb, 20 + tb);
      const auto cv = rnd(static_cast<size_t>(m) * ldc, 30);
      check("gemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb), 1e-10, [&](Arena& a) {
        float* c = a.in(cv);
        a.be().gemm(ta, tb, m, n, k, 0.75f, a.in(av), lda, a.in(bv), ldb, -0.5f, c, ldc);
        return Outputs{a.get(c)};
      });
    }
  // The recurrent steps' product against a prepared B (16 x 768 x 256 and its U^T form).
  for (int tb = 0; tb < 2; ++tb) {
    const int pm = 16, pn = tb ? 256 : 768, pk = tb ? 768 : 256, lda = pk + pad,
              ldb = (tb ? pk : pn) + pad, ldc = pn + pad;
    const auto av = rnd(static_cast<size_t>(pm) * lda, 40);
    const auto bv = rnd(static_cast<size_t>(tb ? pn : pk) * ldb, 41 + tb);
    const auto cv = rnd(static_cast<size_t>(pm) * ldc, 43);
    for (float beta : {0.0f, 1.0f})
      check("gemm_prepared tb=" + std::to_string(tb) + " beta=" + std::to_string(beta), 1e-10,
            [&](Arena& a) {
              float* prep = a.in(std::vector<float>(a.be().prepared_size(pk, pn), 0.0f));
              a.be().prepare_b(tb, pk, pn, a.in(bv), ldb, prep);
              float* c = a.in(cv);
              a.be().gemm_prepared(pm, pn, pk, a.in(av), lda, prep, beta, c, ldc);
              return Outputs{a.get(c)};
            });
  }
}

TEST_F(CudaConformance, BlasLikeAndElementwise) {
  const int rows = 45, cols = 33;
  const size_t n = static_cast<size_t>(rows) * cols;
  const auto x = rnd(n, 1, -2, 2), y = rnd(n, 2), b = rnd(cols, 3);
  check("axpy", 1e-12, [&](Arena& a) {
    float* yy = a.in(y);
    a.be().axpy(n, -1.5f, a.in(x), yy);
    return Outputs{a.get(yy)};
  });
  check("add_bias", 1e-12, [&](Arena& a) {
    float* yy = a.in(y);
    a.be().add_bias(yy, a.in(b), rows, cols);
    return Outputs{a.get(yy)};
  });
  check("bias_grad", 1e-10, [&](Arena& a) {
    float* db = a.in(b);
    a.be().bias_grad(a.in(x), rows, cols, db);
    return Outputs{a.get(db)};
  });
  check("clipped_relu + backward", 0, [&](Arena& a) {
    float* h = a.in(x);
    a.be().clipped_relu(h, n, 1.25f);
    float* d = a.in(y);
    a.be().clipped_relu_backward(h, d, n, 1.25f);
    return Outputs{a.get(h), a.get(d)};
  });
  check("softmax", 1e-10, [&](Arena& a) {
    float* s = a.in(y);
    a.be().softmax(a.in(x), s, rows, cols);
    float* inplace = a.in(x);
    a.be().softmax(inplace, inplace, rows, cols);
    return Outputs{a.get(s), a.get(inplace)};
  });
}

// The training step's whole-arena ops: scale, broadcast and the Nesterov update are exact (the
// kernel rounds every product and sum like the CPU loop: no fused multiply-add); the sum of
// squares is double on both, in different orders (relative 1e-12). Events: one recorded after a
// fill completes, and transfers on the side stream see the fill's result. Sizes over one grid
// pass (grid_for caps at 65535 blocks) and odd, so the grid-stride tails run.
TEST_F(CudaConformance, TrainingStepOps) {
  const size_t n = size_t{65535} * 256 + 4097;
  const auto x = rnd(n, 41, -3, 3), g = rnd(n, 42), v = rnd(n, 43);
  check("scale + sgd_nesterov (two steps)", 0, [&](Arena& a) {
    float* p = a.in(x);
    float* vv = a.in(v);
    float* gg = a.in(g);
    a.be().scale(gg, n, 1.0f / 3.0f);
    a.be().sgd_nesterov(p, gg, vv, n, 3e-4f, 0.9f, 1e-5f);
    a.be().sgd_nesterov(p, gg, vv, n, 1e-3f, 0.99f, 0.0f);
    return Outputs{a.get(p), a.get(vv), a.get(gg)};
  });
  check("broadcast_rows", 0, [&](Arena& a) {
    float* y = a.in(rnd(37 * 301, 44));
    a.be().broadcast_rows(y, a.in(rnd(301, 45)), 37, 301);
    return Outputs{a.get(y)};
  });
  double want = 0;
  {
    Arena a(*cpu_);
    want = cpu_->sum_squares(a.in(x), n);
  }
  Arena a(*gpu_);
  const float* d = a.in(x);
  EXPECT_NEAR(gpu_->sum_squares(d, n), want, 1e-12 * want);
  EXPECT_EQ(gpu_->sum_squares(d, n), gpu_->sum_squares(d, n));  // deterministic
  float* big = a.in(x);
  void* e = gpu_->create_event();
  gpu_->fill(big, n, 0.5f);
  gpu_->record_event(e);
  gpu_->wait_event(e);
  EXPECT_TRUE(gpu_->event_done(e));
  float* h = gpu_->alloc_host(n);
  gpu_->transfer_download(h, big, n);
  EXPECT_EQ(h[0], 0.5f);
  EXPECT_EQ(h[n - 1], 0.5f);
  h[7] = -2.0f;
  gpu_->transfer_upload(big, h, n);
  EXPECT_EQ(a.get(big)[7], -2.0f);
  gpu_->free_host(h);
  gpu_->destroy_event(e);
}

TEST_F(CudaConformance, MasksAndLayouts) {
  const int n = 4, c = 3, t = 9, f = 7, d = c * f;
  const std::vector<int32_t> len = {9, 4, 0, 6};
  const auto maps = rnd(static_cast<size_t>(n) * c * t * f, 5);
  check("mask_rows/mask_maps/maps_to_rows/rows_to_maps", 0, [&](Arena& a) {
    float* rows = a.in(rnd(static_cast<size_t>(t) * n * d, 6));
    a.be().maps_to_rows(a.in(maps), rows, n, c, t, f);
    float* back = a.in(rnd(maps.size(), 7));
    a.be().rows_to_maps(rows, back, n, c, t, f);
    float* mr = a.in(rnd(static_cast<size_t>(5) * n * d, 8));
    a.be().mask_rows(mr, 3, 5, n, d, len.data());  // rows t = 3 .. 7
    float* mm = a.in(maps);
    a.be().mask_maps(mm, n, c, t, f, len.data());
    return Outputs{a.get(rows), a.get(back), a.get(mr), a.get(mm)};
  });
}

TEST_F(CudaConformance, BatchNorm) {
  const std::vector<int32_t> len = {6, 2, 0, 5};
  for (int kind = 0; kind < 2; ++kind) {
    BnLayout l;
    l.kind = kind ? BnLayout::kChannels : BnLayout::kRows;
    l.n = 4;
    l.c = 5;
    l.t = 6;
    l.f = kind ? 7 : 1;
    l.lengths = len.data();
    const size_t total = static_cast<size_t>(l.n) * l.c * l.t * l.f;
    const auto x = rnd(total, 40, -3, 3), dy = rnd(total, 41), gamma = rnd(l.c, 42, 0.5f, 2);
    const auto beta = rnd(l.c, 43), rm = rnd(l.c, 44), rv = rnd(l.c, 45, 0.5f, 2);
    check(std::string("batch norm ") + (kind ? "channels" : "rows"), 1e-10, [&](Arena& a) {
      float* y = a.in(rnd(total, 46));
      float* mean = a.in(rnd(l.c, 47));
      float* invstd = a.in(rnd(l.c, 48));
      float* rmean = a.in(rm);
      float* rvar = a.in(rv);
      float* xd = a.in(x);
      float* g = a.in(gamma);
      a.be().bn_forward_train(l, xd, g, a.in(beta), 1e-5f, 0.1f, y, mean, invstd, rmean, rvar);
      float* dx = a.in(rnd(total, 49));
      float* dg = a.in(rnd(l.c, 50));
      float* db = a.in(rnd(l.c, 51));
      a.be().bn_backward(l, xd, a.in(dy), g, mean, invstd, dx, dg, db);
      float* yi = a.in(rnd(total, 52));
      a.be().bn_forward_infer(l, xd, g, a.in(beta), rmean, rvar, 1e-5f, yi);
      return Outputs{a.get(y),  a.get(mean), a.get(invstd), a.get(rmean), a.get(rvar),
                     a.get(dx), a.get(dg),   a.get(db),     a.get(yi)};
    });
  }
}

// What a first real run exposes, at real sizes: a batch of 700 utterances (over the 512 whose
// lengths travel inline: a cached device copy then), bias_grad and row batch norm on
// (T N, C) = (3 x 700, 2400) -- many 32-column blocks, a channel count that is not a multiple of
// 32 (2400 = 75 x 32; 2401 below adds a ragged block) -- and the RNN step and masks with those
// lengths. CPU oracle as everywhere in this file.
TEST_F(CudaConformance, LargeBatchAndCoalescedReductions) {
  const int n = 700, t = 3;
  std::vector<int32_t> len(n);
  for (int j = 0; j < n; ++j) len[j] = j % 4;  // 0..3: padding everywhere, empty utterances
  for (int c : {2400, 2401}) {
    const size_t total = static_cast<size_t>(t) * n * c;
    const auto x = rnd(total, 70, -2, 2), dy = rnd(total, 71), b = rnd(c, 72);
    check("bias_grad large, c=" + std::to_string(c), 1e-10, [&](Arena& a) {
      float* db = a.in(b);
      a.be().bias_grad(a.in(x), t * n, c, db);
      return Outputs{a.get(db)};
    });
    BnLayout l{BnLayout::kRows, n, c, t, 1, len.data()};
    check("batch norm rows large, c=" + std::to_string(c), 1e-10, [&](Arena& a) {
      float* y = a.in(rnd(total, 73));
      float* mean = a.in(rnd(c, 74));
      float* invstd = a.in(rnd(c, 75));
      float* rmean = a.in(rnd(c, 76));
      float* rvar = a.in(rnd(c, 77, 0.5f, 2));
      float* xd = a.in(x);
      float* g = a.in(rnd(c, 78, 0.5f, 2));
      a.be().bn_forward_train(l, xd, g, a.in(b), 1e-5f, 0.1f, y, mean, invstd, rmean, rvar);
      float* dx = a.in(rnd(total, 79));
      float* dg = a.in(rnd(c, 80));
      float* dbeta = a.in(rnd(c, 81));
      a.be().bn_backward(l, xd, a.in(dy), g, mean, invstd, dx, dg, dbeta);
      return Outputs{a.get(y),    a.get(mean), a.get(invstd), a.get(rmean),
                     a.get(rvar), a.get(dx),   a.get(dg),     a.get(dbeta)};
    });
  }
  const int h = 64;
  const size_t nh = static_cast<size_t>(n) * h;
  const auto av = rnd(nh, 82), uh = rnd(nh, 83);
  check("rnn step + mask_rows, n=700", 1e-12, [&](Arena& a) {
    float* hout = a.in(rnd(nh, 84));
    a.be().rnn_step_forward(2, n, h, len.data(), a.in(av), a.in(uh), 20.0f, hout);
    float* m = a.in(rnd(nh * t, 85));
    a.be().mask_rows(m, 0, t, n, h, len.data());
    return Outputs{a.get(hout), a.get(m)};
  });
}

TEST_F(CudaConformance, ConvHelpers) {
  ConvGeom g;
  g.c_in = 3;
  g.t_in = 11;
  g.f_in = 13;
  g.c_out = 4;
  g.kt = 5;
  g.kf = 4;
  g.st = 2;
  g.sf = 3;
  g.pt = 2;
  g.pf = 1;
  const int t0 = -1, nt = g.t_out() + 1;  // frames outside [0, t_out) read padding
  const size_t ncol = static_cast<size_t>(g.col_rows()) * nt * g.f_out();
  const size_t nx = static_cast<size_t>(g.c_in) * g.t_in * g.f_in;
  const auto x = rnd(nx, 60), colv = rnd(ncol, 61), dx0 = rnd(nx, 62);
  check("im2col", 0, [&](Arena& a) {
    float* col = a.in(rnd(ncol, 63));
    a.be().im2col(g, a.in(x), t0, nt, col);
    return Outputs{a.get(col)};
  });
  check("col2im", 1e-10, [&](Arena& a) {
    float* dx = a.in(dx0);
    a.be().col2im(g, a.in(colv), t0, nt, dx);
    return Outputs{a.get(dx)};
  });
  // Tap helpers on a chunk inside the utterance and one at its end (taps beyond t_out dropped).
  const int c = 3, kt = 4, pt = 1, t_out = 9, f = 5, ldz = t_out * f + 2;
  for (auto [s0, m] : {std::pair{2, 5}, std::pair{6, 3}}) {
    const size_t np = static_cast<size_t>(c) * kt * m * f;
    const auto p = rnd(np, 64), dz = rnd(static_cast<size_t>(c) * ldz, 65);
    const std::string at = " s0=" + std::to_string(s0);
    check("conv_tap_add" + at, 1e-12, [&](Arena& a) {
      float* z = a.in(rnd(static_cast<size_t>(c) * ldz, 66));
      a.be().conv_tap_add(a.in(p), c, kt, s0, m, pt, t_out, f, z, ldz);
      return Outputs{a.get(z)};
    });
    check("conv_tap_gather" + at, 0, [&](Arena& a) {
      float* dp = a.in(rnd(np, 67));
      a.be().conv_tap_gather(a.in(dz), ldz, c, kt, s0, m, pt, t_out, f, dp);
      return Outputs{a.get(dp)};
    });
  }
}

TEST_F(CudaConformance, RecurrentSteps) {
  const int n = 5, h = 17, t = 3;
  const std::vector<int32_t> len = {5, 3, 4, 0, 2};  // rows 1, 3 and 4 are padding at t = 3
  const size_t nh = static_cast<size_t>(n) * h;
  const auto a0 = rnd(nh, 70, -1, 2), u0 = rnd(nh, 71), dh = rnd(nh, 72);
  check("rnn steps", 1e-12, [&](Arena& a) {
    float* hout = a.in(rnd(nh, 73));
    a.be().rnn_step_forward(t, n, h, len.data(), a.in(a0), a.in(u0), 1.5f, hout);
    float* da = a.in(rnd(nh, 74));
    a.be().rnn_step_backward(t, n, h, len.data(), hout, a.in(dh), 1.5f, da);
    return Outputs{a.get(hout), a.get(da)};
  });
  const auto xg = rnd(3 * nh, 75, -2, 2), uh = rnd(3 * nh, 76, -2, 2), hp = rnd(nh, 77);
  check("gru steps", 1e-10, [&](Arena& a) {
    float* hout = a.in(rnd(nh, 78));
    float* saved = a.in(rnd(4 * nh, 79));
    float* hpd = a.in(hp);
    a.be().gru_step_forward(t, n, h, len.data(), a.in(xg), a.in(uh), hpd, hout, saved);
    float* dxg = a.in(rnd(3 * nh, 80));
    float* duh = a.in(rnd(3 * nh, 81));
    float* dhp = a.in(rnd(nh, 82));
    a.be().gru_step_backward(t, n, h, len.data(), hpd, saved, a.in(dh), dxg, duh, dhp);
    return Outputs{a.get(hout), a.get(saved), a.get(dxg), a.get(duh), a.get(dhp)};
  });
}

TEST_F(CudaConformance, Lookahead) {
  const int t = 8, n = 3, d = 10, tau = 3;
  const std::vector<int32_t> len = {8, 5, 1};
  const size_t nx = static_cast<size_t>(t) * n * d;
  const auto x = rnd(nx, 90), w = rnd(static_cast<size_t>(tau + 1) * d, 91), dy = rnd(nx, 92);
  const auto dw0 = rnd(static_cast<size_t>(tau + 1) * d, 93);
  check("lookahead", 1e-10, [&](Arena& a) {
    float* xd = a.in(x);
    float* wd = a.in(w);
    float* y = a.in(rnd(nx, 94));
    a.be().lookahead_forward(xd, wd, t, n, d, tau, len.data(), y);
    float* dx = a.in(rnd(nx, 95));
    float* dw = a.in(dw0);
    a.be().lookahead_backward(xd, wd, a.in(dy), t, n, d, tau, len.data(), dx, dw);
    return Outputs{a.get(y), a.get(dx), a.get(dw)};
  });
}

// One CTC batch on both backends: costs 1e-6 relative, gradient nmse 1e-10.
void CudaConformance::check_ctc(const CtcShape& sh, const std::vector<int32_t>& in_len,
                                const std::vector<int32_t>& lab_len,
                                const std::vector<int32_t>& labels, uint32_t seed) {
  const size_t na = static_cast<size_t>(sh.max_time) * sh.batch * sh.alphabet;
  auto act = rnd(na, seed, -4, 4);
  for (int j = 0; j < sh.batch; ++j)  // padding frames: never read
    for (int t = in_len[j]; t < sh.max_time; ++t)
      act[(static_cast<size_t>(t) * sh.batch + j) * sh.alphabet + 1] = NAN;
  std::vector<float> cost_c, cost_g;
  std::vector<uint8_t> imp_c, imp_g;
  auto run = [&](Arena& a, std::vector<float>& costs, std::vector<uint8_t>& imp) {
    const size_t bytes = a.be().ctc_workspace_bytes(sh);
    float* ws = a.in(std::vector<float>(bytes / sizeof(float) + 1, 0.0f));
    float* grad = a.in(rnd(na, seed + 1));
    costs.assign(sh.batch, -1.0f);
    imp.assign(sh.batch, 7);
    a.be().ctc_loss(a.in(act), grad, labels.data(), lab_len.data(), in_len.data(), sh, costs.data(),
                    imp.data(), ws);
    return a.get(grad);
  };
  std::vector<float> gc, gg;
  {
    Arena a(*cpu_);
    gc = run(a, cost_c, imp_c);
  }
  {
    Arena a(*gpu_);
    gg = run(a, cost_g, imp_g);
  }
  EXPECT_EQ(imp_c, imp_g);
  for (int j = 0; j < sh.batch; ++j) {
    if (std::isinf(cost_c[j])) {
      EXPECT_EQ(cost_c[j], cost_g[j]) << "utterance " << j;
    } else {
      EXPECT_NEAR(cost_g[j], cost_c[j], 1e-6 * std::max(1.0f, std::fabs(cost_c[j])))
          << "utterance " << j;
    }
  }
  EXPECT_LE(nmse(gg, gc), 1e-10);
}

TEST_F(CudaConformance, Ctc) {
  CtcShape sh;
  sh.max_time = 30;
  sh.batch = 5;
  sh.alphabet = 8;
  sh.max_label = 12;
  // Repeats (need blanks), an impossible utterance (12 labels with repeats in 12 frames), the
  // empty one (T = L = 0) and a label-less one.
  check_ctc(sh, {30, 17, 12, 0, 9}, {6, 5, 12, 0, 0},
            {1, 2, 2, 3, 7, 1, 4, 4, 4, 5, 6, 1, 1, 2, 3, 4, 5, 6, 7, 7, 1, 2, 3}, 100);
}

// A Mandarin-sized alphabet: classes that recur in a label (chained states), blank-heavy frames.
TEST_F(CudaConformance, CtcLargeAlphabet) {
  CtcShape sh;
  sh.max_time = 60;
  sh.batch = 3;
  sh.alphabet = 5000;
  sh.max_label = 20;
  std::vector<int32_t> labels;
  for (int i = 0; i < 20; ++i) labels.push_back(1 + (i * 797) % 4999);
  labels[7] = labels[2];
  labels[15] = labels[2];
  labels[16] = labels[2];
  for (int i = 0; i < 9; ++i) labels.push_back(i % 3 == 0 ? 4999 : 1 + 611 * i);
  check_ctc(sh, {60, 41, 33}, {20, 9, 0}, labels, 200);
}

TEST_F(CudaConformance, Ds2TinyTrainingStep) {
  ModelConfig cfg =
      ModelConfig::from_ini_file(std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-tiny.ini");
  cfg.num_threads = 2;
  ModelConfig gcfg = cfg;
  gcfg.device = "cuda";
  Network cpu_net(cfg), gpu_net(gcfg);
  ASSERT_EQ(cpu_net.num_params(), gpu_net.num_params());
  const int n = 3, t = 40, f = cfg.n_bins;
  const std::vector<int32_t> lengths = {40, 31, 22};
  const std::vector<int32_t> label_lengths = {4, 3, 2};
  const std::vector<int32_t> labels = {3, 5, 5, 9, 1, 2, 3, 7, 8};
  const auto x = rnd(static_cast<size_t>(n) * t * f, 110, -2, 2);
  // host_features: pass the host array to forward_backward (CudaBackend::copy accepts it).
  auto step = [&](Network& net, std::vector<float>& grads, bool host_features = false) {
    Backend& be = net.backend();
    float* xd = be.alloc(x.size());
    be.upload(xd, x.data(), x.size());
    net.zero_grad();
    LossResult r = net.forward_backward(host_features ? x.data() : xd, lengths.data(), n, t,
                                        labels.data(), label_lengths.data());
    grads.resize(net.num_params());
    be.download(grads.data(), net.grads(), grads.size());
    be.free(xd);
    return r;
  };
  std::vector<float> gc, gg;
  const LossResult rc = step(cpu_net, gc), rg = step(gpu_net, gg);
  ASSERT_TRUE(rc.all_finite());
  ASSERT_TRUE(rg.all_finite());
  EXPECT_NEAR(rg.total, rc.total, 1e-4 * std::fabs(rc.total));
  EXPECT_LE(nmse(gg, gc), 1e-6);
  for (const auto& p : cpu_net.params_info()) {
    const std::vector<float> a(gc.begin() + p.offset, gc.begin() + p.offset + p.size);
    const std::vector<float> b(gg.begin() + p.offset, gg.begin() + p.offset + p.size);
    EXPECT_LE(nmse(b, a), 1e-5) << p.name;
  }
  // A second step of the same shape (features from host memory this time) is served from the
  // pool: no cudaMalloc per step.
  auto* cb = dynamic_cast<cuda::CudaBackend*>(&gpu_net.backend());
  ASSERT_NE(cb, nullptr);
  const size_t mallocs = cb->pool_mallocs();
  std::vector<float> gg2;
  const LossResult rg2 = step(gpu_net, gg2, true);
  EXPECT_EQ(cb->pool_mallocs(), mallocs);
  EXPECT_NEAR(rg2.total, rg.total, 1e-6 * std::fabs(rg.total));  // same step, same result
  EXPECT_LE(nmse(gg2, gg), 1e-10);
}

TEST(CudaBackendFactory, ConstructsOrSkips) {
  DS2_REQUIRE_GPU();
  auto be = make_backend(Device::kCuda);
  EXPECT_EQ(be->device(), Device::kCuda);
  EXPECT_EQ(be->num_threads(), 1);
}

}  // namespace
}  // namespace ds2::model
