// CPU recurrent steps (simple RNN with clipped ReLU, GRU) and the lookahead row convolution.
// The GEMMs (W x for all frames, U h_prev per step) are done by the layer; these are the
// elementwise parts of one time step, with padded rows (t >= lengths[n]) forced to zero; the
// per-unit cell math is model/detail/rnn_cell.h (shared with model/cuda/rnn.cu). The GRU
// forward row loop is compiled for baseline x86-64, AVX2+FMA and AVX-512 and chosen at run time
// (as the CTC kernel, model/ctc.cc), since the project builds without -march.

// Under g++'s default -ftrapping-math the selects of the cell math stay branches and the loops
// scalar; nothing here relies on FP exceptions (see model/ctc.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <algorithm>
#include <cmath>

#include "model/cpu/cpu_backend.h"
#include "model/detail/rnn_cell.h"

namespace ds2::model::cpu {

namespace {

// One row of the GRU forward step: h units from the input part x (3 h), uh (3 h), h_prev.
DS2_FORCE_INLINE void gru_row_body(int h, const float* __restrict x, const float* __restrict u,
                                   const float* __restrict hp, float* __restrict o,
                                   float* __restrict sv) {
  for (int k = 0; k < h; ++k) o[k] = detail::gru_unit_forward(x, u, hp[k], h, k, sv);
}

using GruRow = void (*)(int, const float*, const float*, const float*, float*, float*);

void gru_row_generic(int h, const float* x, const float* u, const float* hp, float* o, float* sv) {
  gru_row_body(h, x, u, hp, o, sv);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) void gru_row_avx2(int h, const float* x, const float* u,
                                                      const float* hp, float* o, float* sv) {
  gru_row_body(h, x, u, hp, o, sv);
}
#if defined(__clang__)
__attribute__((target("avx512f,avx512dq,avx512vl,fma")))
#else  // g++ otherwise keeps 256-bit vectors for AVX-512 code
__attribute__((target("avx512f,avx512dq,avx512vl,fma,prefer-vector-width=512")))
#endif
void gru_row_avx512(int h, const float* x, const float* u, const float* hp, float* o, float* sv) {
  gru_row_body(h, x, u, hp, o, sv);
}
#endif

// The widest variant this CPU runs.
GruRow pick_gru_row() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return &gru_row_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &gru_row_avx2;
#endif
  return &gru_row_generic;
}

}  // namespace

void CpuBackend::rnn_step_forward(int t, int n, int h, const int32_t* lengths, const float* a,
                                  const float* uh, float clip, float* hout) {
  for (int j = 0; j < n; ++j) {
    float* o = hout + static_cast<size_t>(j) * h;
    if (t >= lengths[j]) {
      std::fill_n(o, h, 0.0f);
      continue;
    }
    const float* aj = a + static_cast<size_t>(j) * h;
    const float* uj = uh + static_cast<size_t>(j) * h;
    for (int k = 0; k < h; ++k) o[k] = detail::rnn_cell_forward(aj[k], uj[k], clip);
  }
}

void CpuBackend::rnn_step_backward(int t, int n, int h, const int32_t* lengths, const float* hout,
                                   const float* dh, float clip, float* da) {
  for (int j = 0; j < n; ++j) {
    float* d = da + static_cast<size_t>(j) * h;
    if (t >= lengths[j]) {
      std::fill_n(d, h, 0.0f);
      continue;
    }
    const float* y = hout + static_cast<size_t>(j) * h;
    const float* g = dh + static_cast<size_t>(j) * h;
    for (int k = 0; k < h; ++k) d[k] = detail::rnn_cell_backward(y[k], g[k], clip);
  }
}

void CpuBackend::gru_step_forward(int t, int n, int h, const int32_t* lengths, const float* xg,
                                  const float* uh, const float* h_prev, float* hout, float* saved) {
  static const GruRow row = pick_gru_row();
#pragma omp parallel for num_threads(threads_) schedule(static) if (n * h > 8192)
  for (int j = 0; j < n; ++j) {
    float* o = hout + static_cast<size_t>(j) * h;
    float* sv = saved + static_cast<size_t>(j) * 4 * h;
    if (t >= lengths[j]) {
      std::fill_n(o, h, 0.0f);
      std::fill_n(sv, 4 * h, 0.0f);
      continue;
    }
    const float* x = xg + static_cast<size_t>(j) * 3 * h;
    const float* u = uh + static_cast<size_t>(j) * 3 * h;
    row(h, x, u, h_prev + static_cast<size_t>(j) * h, o, sv);
  }
}

void CpuBackend::gru_step_backward(int t, int n, int h, const int32_t* lengths, const float* h_prev,
                                   const float* saved, const float* dh, float* dxg, float* duh,
                                   float* dh_prev) {
#pragma omp parallel for num_threads(threads_) schedule(static) if (n * h > 8192)
  for (int j = 0; j < n; ++j) {
    float* dx = dxg + static_cast<size_t>(j) * 3 * h;
    float* du = duh + static_cast<size_t>(j) * 3 * h;
    float* dp = dh_prev + static_cast<size_t>(j) * h;
    if (t >= lengths[j]) {
      std::fill_n(dx, 3 * h, 0.0f);
      std::fill_n(du, 3 * h, 0.0f);
      std::fill_n(dp, h, 0.0f);
      continue;
    }
    const float* sv = saved + static_cast<size_t>(j) * 4 * h;
    const float* hp = h_prev + static_cast<size_t>(j) * h;
    const float* g = dh + static_cast<size_t>(j) * h;
    for (int k = 0; k < h; ++k) {
      const float z = sv[k], r = sv[h + k];
      const detail::GruCellGrad d =
          detail::gru_cell_backward(g[k], hp[k], z, r, sv[2 * h + k], sv[3 * h + k]);
      detail::gru_cell_store_grad(d, r, h, k, dx, du);
      dp[k] = g[k] * z;
    }
  }
}

void CpuBackend::lookahead_forward(const float* x, const float* w, int t, int n, int d, int tau,
                                   const int32_t* lengths, float* y) {
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int ti = 0; ti < t; ++ti)
    for (int j = 0; j < n; ++j) {
      float* yr = y + (static_cast<size_t>(ti) * n + j) * d;
      std::fill_n(yr, d, 0.0f);
      if (ti >= lengths[j]) continue;
      const int jmax = std::min(tau, lengths[j] - 1 - ti);
      for (int q = 0; q <= jmax; ++q) {
        const float* xr = x + (static_cast<size_t>(ti + q) * n + j) * d;
        const float* wq = w + static_cast<size_t>(q) * d;
        for (int k = 0; k < d; ++k) yr[k] += wq[k] * xr[k];
      }
    }
}

void CpuBackend::lookahead_backward(const float* x, const float* w, const float* dy, int t, int n,
                                    int d, int tau, const int32_t* lengths, float* dx, float* dw) {
  // dx[s] = sum_q w[q] dy[s - q] over valid s - q >= 0 (s itself valid).
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int s = 0; s < t; ++s)
    for (int j = 0; j < n; ++j) {
      float* dr = dx + (static_cast<size_t>(s) * n + j) * d;
      std::fill_n(dr, d, 0.0f);
      if (s >= lengths[j]) continue;
      for (int q = 0; q <= std::min(tau, s); ++q) {
        const float* g = dy + (static_cast<size_t>(s - q) * n + j) * d;
        const float* wq = w + static_cast<size_t>(q) * d;
        for (int k = 0; k < d; ++k) dr[k] += wq[k] * g[k];
      }
    }
    // dw[q] = sum over valid (t, n) with t + q valid of dy[t] x[t + q]; parallel over q.
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int q = 0; q <= tau; ++q) {
    float* dwq = dw + static_cast<size_t>(q) * d;
    for (int j = 0; j < n; ++j)
      for (int ti = 0; ti + q < std::min(t, lengths[j]); ++ti) {
        const float* g = dy + (static_cast<size_t>(ti) * n + j) * d;
        const float* xr = x + (static_cast<size_t>(ti + q) * n + j) * d;
        for (int k = 0; k < d; ++k) dwq[k] += g[k] * xr[k];
      }
  }
}

}  // namespace ds2::model::cpu
