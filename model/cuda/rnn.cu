// Recurrent steps (clipped-ReLU RNN, GRU) and the lookahead row convolution on the GPU: one
// thread per (row, unit) output, padded rows (t >= lengths[n]) written as zero. The per-step
// GEMMs are the layer's (cuBLAS through Backend::gemm); these are the elementwise parts, and the
// per-unit cell math is model/detail/rnn_cell.h (shared with model/cpu/rnn.cc).
// Lookahead dw is one thread per (tap, feature) summing over frames and utterances (no atomics).
#include "model/cuda/rnn.cuh"
#include "model/detail/rnn_cell.h"

namespace ds2::model::cuda {
namespace {

__global__ void rnn_fwd_k(int t, int n, int h, DevLengths len, const float* a, const float* uh,
                          float clip, float* hout) {
  DS2_GRID_LOOP(e, static_cast<size_t>(n) * h) {
    const int j = static_cast<int>(e / h);
    hout[e] = t >= len[j] ? 0.0f : detail::rnn_cell_forward(a[e], uh[e], clip);
  }
}

__global__ void rnn_bwd_k(int t, int n, int h, DevLengths len, const float* hout, const float* dh,
                          float clip, float* da) {
  DS2_GRID_LOOP(e, static_cast<size_t>(n) * h) {
    const int j = static_cast<int>(e / h);
    da[e] = t < len[j] ? detail::rnn_cell_backward(hout[e], dh[e], clip) : 0.0f;
  }
}

__global__ void gru_fwd_k(int t, int n, int h, DevLengths len, const float* xg, const float* uh,
                          const float* h_prev, float* hout, float* saved) {
  DS2_GRID_LOOP(e, static_cast<size_t>(n) * h) {
    const int j = static_cast<int>(e / h), k = static_cast<int>(e % h);
    float* sv = saved + static_cast<size_t>(j) * 4 * h;
    if (t >= len[j]) {
      hout[e] = 0.0f;
      sv[k] = sv[h + k] = sv[2 * h + k] = sv[3 * h + k] = 0.0f;
      continue;
    }
    const float* x = xg + static_cast<size_t>(j) * 3 * h;
    const float* u = uh + static_cast<size_t>(j) * 3 * h;
    hout[e] = detail::gru_unit_forward(x, u, h_prev[e], h, k, sv);
  }
}

__global__ void gru_bwd_k(int t, int n, int h, DevLengths len, const float* h_prev,
                          const float* saved, const float* dh, float* dxg, float* duh,
                          float* dh_prev) {
  DS2_GRID_LOOP(e, static_cast<size_t>(n) * h) {
    const int j = static_cast<int>(e / h), k = static_cast<int>(e % h);
    float* dx = dxg + static_cast<size_t>(j) * 3 * h;
    float* du = duh + static_cast<size_t>(j) * 3 * h;
    if (t >= len[j]) {
      dx[k] = dx[h + k] = dx[2 * h + k] = 0.0f;
      du[k] = du[h + k] = du[2 * h + k] = 0.0f;
      dh_prev[e] = 0.0f;
      continue;
    }
    const float* sv = saved + static_cast<size_t>(j) * 4 * h;
    const float z = sv[k], r = sv[h + k], g = dh[e];
    const detail::GruCellGrad d =
        detail::gru_cell_backward(g, h_prev[e], z, r, sv[2 * h + k], sv[3 * h + k]);
    detail::gru_cell_store_grad(d, r, h, k, dx, du);
    dh_prev[e] = g * z;
  }
}

// e indexes y (T, N, D).
__global__ void la_fwd_k(const float* x, const float* w, int t, int n, int d, int tau,
                         DevLengths len, float* y) {
  DS2_GRID_LOOP(e, static_cast<size_t>(t) * n * d) {
    const int k = static_cast<int>(e % d);
    const size_t row = e / d;
    const int j = static_cast<int>(row % n), ti = static_cast<int>(row / n);
    float acc = 0.0f;
    if (ti < len[j]) {
      const int qmax = min(tau, len[j] - 1 - ti);
      for (int q = 0; q <= qmax; ++q)
        acc +=
            w[static_cast<size_t>(q) * d + k] * x[((static_cast<size_t>(ti + q)) * n + j) * d + k];
    }
    y[e] = acc;
  }
}

__global__ void la_bwd_dx_k(const float* w, const float* dy, int t, int n, int d, int tau,
                            DevLengths len, float* dx) {
  DS2_GRID_LOOP(e, static_cast<size_t>(t) * n * d) {
    const int k = static_cast<int>(e % d);
    const size_t row = e / d;
    const int j = static_cast<int>(row % n), s = static_cast<int>(row / n);
    float acc = 0.0f;
    if (s < len[j])
      for (int q = 0; q <= min(tau, s); ++q)
        acc +=
            w[static_cast<size_t>(q) * d + k] * dy[((static_cast<size_t>(s - q)) * n + j) * d + k];
    dx[e] = acc;
  }
}

__global__ void la_bwd_dw_k(const float* x, const float* dy, int t, int n, int d, int tau,
                            DevLengths len, float* dw) {
  DS2_GRID_LOOP(e, static_cast<size_t>(tau + 1) * d) {
    const int q = static_cast<int>(e / d), k = static_cast<int>(e % d);
    float acc = 0.0f;
    for (int j = 0; j < n; ++j) {
      const int tj = min(t, len[j]);
      for (int ti = 0; ti + q < tj; ++ti)
        acc += dy[(static_cast<size_t>(ti) * n + j) * d + k] *
               x[(static_cast<size_t>(ti + q) * n + j) * d + k];
    }
    dw[e] += acc;
  }
}

}  // namespace

cudaError_t launch_rnn_step_forward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                    const float* a, const float* uh, float clip, float* hout) {
  const size_t total = static_cast<size_t>(n) * h;
  if (total) rnn_fwd_k<<<grid_for(total), kThreads, 0, s>>>(t, n, h, len, a, uh, clip, hout);
  return cudaGetLastError();
}
cudaError_t launch_rnn_step_backward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                     const float* hout, const float* dh, float clip, float* da) {
  const size_t total = static_cast<size_t>(n) * h;
  if (total) rnn_bwd_k<<<grid_for(total), kThreads, 0, s>>>(t, n, h, len, hout, dh, clip, da);
  return cudaGetLastError();
}
cudaError_t launch_gru_step_forward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                    const float* xg, const float* uh, const float* h_prev,
                                    float* hout, float* saved) {
  const size_t total = static_cast<size_t>(n) * h;
  if (total)
    gru_fwd_k<<<grid_for(total), kThreads, 0, s>>>(t, n, h, len, xg, uh, h_prev, hout, saved);
  return cudaGetLastError();
}
cudaError_t launch_gru_step_backward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                     const float* h_prev, const float* saved, const float* dh,
                                     float* dxg, float* duh, float* dh_prev) {
  const size_t total = static_cast<size_t>(n) * h;
  if (total)
    gru_bwd_k<<<grid_for(total), kThreads, 0, s>>>(t, n, h, len, h_prev, saved, dh, dxg, duh,
                                                   dh_prev);
  return cudaGetLastError();
}
cudaError_t launch_lookahead_forward(cudaStream_t s, const float* x, const float* w, int t, int n,
                                     int d, int tau, const DevLengths& len, float* y) {
  const size_t total = static_cast<size_t>(t) * n * d;
  if (total) la_fwd_k<<<grid_for(total), kThreads, 0, s>>>(x, w, t, n, d, tau, len, y);
  return cudaGetLastError();
}
cudaError_t launch_lookahead_backward(cudaStream_t s, const float* x, const float* w,
                                      const float* dy, int t, int n, int d, int tau,
                                      const DevLengths& len, float* dx, float* dw) {
  const size_t total = static_cast<size_t>(t) * n * d;
  if (total) la_bwd_dx_k<<<grid_for(total), kThreads, 0, s>>>(w, dy, t, n, d, tau, len, dx);
  const size_t wtotal = static_cast<size_t>(tau + 1) * d;
  if (wtotal) la_bwd_dw_k<<<grid_for(wtotal), kThreads, 0, s>>>(x, dy, t, n, d, tau, len, dw);
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
