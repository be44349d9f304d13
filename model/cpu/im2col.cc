// im2col / col2im for the convolution GEMM on one utterance's (C, T, F) map.
//
// Row k = (i * C + c) * kf + j of the column matrix holds, for each output position
// (t', f') with t' in [t0, t0 + nt), the input x[c, t' st - pt + i, f' sf - pf + j], or 0
// where that index falls into the zero padding. The convolution is then W(C_out, K) * col.
#include <algorithm>
#include <cstring>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {

void CpuBackend::im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) {
  const int fo = g.f_out(), k_rows = g.col_rows();
  const size_t ncols = static_cast<size_t>(nt) * fo;
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int k = 0; k < k_rows; ++k) {
    const int i = k / (g.c_in * g.kf), c = (k / g.kf) % g.c_in, j = k % g.kf;
    float* row = col + static_cast<size_t>(k) * ncols;
    // f' range whose source bin f' sf - pf + j lies inside [0, F).
    const int f_lo = std::max(0, (g.pf - j + g.sf - 1) / g.sf);
    const int f_hi =
        g.f_in - 1 + g.pf - j < 0 ? 0 : std::min(fo, (g.f_in - 1 + g.pf - j) / g.sf + 1);
    for (int tt = 0; tt < nt; ++tt) {
      float* out = row + static_cast<size_t>(tt) * fo;
      const int ts = (t0 + tt) * g.st - g.pt + i;
      if (ts < 0 || ts >= g.t_in || f_lo >= f_hi) {
        std::fill_n(out, fo, 0.0f);
        continue;
      }
      const float* src = x + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in - g.pf + j;
      std::fill(out, out + f_lo, 0.0f);
      if (g.sf == 1) {
        std::memcpy(out + f_lo, src + f_lo, (f_hi - f_lo) * sizeof(float));
      } else {
        for (int f = f_lo; f < f_hi; ++f) out[f] = src[f * g.sf];
      }
      std::fill(out + f_hi, out + fo, 0.0f);
    }
  }
}

void CpuBackend::col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) {
  const int fo = g.f_out();
  const size_t ncols = static_cast<size_t>(nt) * fo;
  // Parallel over input channels: each thread owns whole (T, F) planes, so no races.
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int c = 0; c < g.c_in; ++c) {
    for (int i = 0; i < g.kt; ++i)
      for (int j = 0; j < g.kf; ++j) {
        const int k = (i * g.c_in + c) * g.kf + j;
        const float* row = col + static_cast<size_t>(k) * ncols;
        const int f_lo = std::max(0, (g.pf - j + g.sf - 1) / g.sf);
        const int f_hi =
            g.f_in - 1 + g.pf - j < 0 ? 0 : std::min(fo, (g.f_in - 1 + g.pf - j) / g.sf + 1);
        for (int tt = 0; tt < nt; ++tt) {
          const int ts = (t0 + tt) * g.st - g.pt + i;
          if (ts < 0 || ts >= g.t_in) continue;
          const float* in = row + static_cast<size_t>(tt) * fo;
          float* dst = dx + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in - g.pf + j;
          for (int f = f_lo; f < f_hi; ++f) dst[f * g.sf] += in[f];
        }
      }
  }
}

void CpuBackend::conv_tap_sum(const float* p, int c, int kt, int nt, int f, float* z, int ldz) {
  const size_t ldp = static_cast<size_t>(nt + kt - 1) * f, n = static_cast<size_t>(nt) * f;
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int ch = 0; ch < c; ++ch) {
    float* zr = z + static_cast<size_t>(ch) * ldz;
    const float* p0 = p + static_cast<size_t>(ch) * kt * ldp;
    std::copy(p0, p0 + n, zr);
    for (int i = 1; i < kt; ++i) {
      const float* pr = p0 + i * ldp + static_cast<size_t>(i) * f;
      for (size_t q = 0; q < n; ++q) zr[q] += pr[q];
    }
  }
}

void CpuBackend::conv_tap_spread(const float* dz, int ldz, int c, int kt, int nt, int f,
                                 float* dp) {
  const size_t ldp = static_cast<size_t>(nt + kt - 1) * f, n = static_cast<size_t>(nt) * f;
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int ch = 0; ch < c; ++ch)
    for (int i = 0; i < kt; ++i) {
      float* row = dp + (static_cast<size_t>(ch) * kt + i) * ldp;
      const size_t lo = static_cast<size_t>(i) * f;
      std::fill(row, row + lo, 0.0f);
      std::copy(dz + static_cast<size_t>(ch) * ldz, dz + static_cast<size_t>(ch) * ldz + n,
                row + lo);
      std::fill(row + lo + n, row + ldp, 0.0f);
    }
}

}  // namespace ds2::model::cpu
