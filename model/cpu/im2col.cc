// im2col / col2im for the convolution GEMM on one utterance's (C, T, F) map.
//
// Row k = (i * C + c) * kf + j of the column matrix holds, for each output position
// (t', f') with t' in [t0, t0 + nt), the input x[c, t' st - pt + i, f' sf - pf + j], or 0
// where that index falls into the zero padding. The convolution is then W(C_out, K) * col.
#include <algorithm>
#include <cstring>
#include <vector>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {

namespace {

// The input frames [ts0, ts0 + nts) of every channel with frequency split by phase: bin
// m sf + p of (c, ts) at ((c nts + ts - ts0) sf + p) fp + m, fp = ceil(F / sf). A row of the
// column matrix then reads one contiguous run (bins f' sf + q of f' in [f_lo, f_hi) are the
// run of phase q mod sf starting at f_lo + floor(q / sf)) instead of a strided gather.
struct Phases {
  int ts0 = 0, nts = 0, fp = 0;
  std::vector<float> v;
  void frames(const ConvGeom& g, int t0, int nt) {
    ts0 = std::max(0, t0 * g.st - g.pt);
    nts = std::max(0, std::min(g.t_in, (t0 + nt - 1) * g.st - g.pt + g.kt) - ts0);
    fp = (g.f_in + g.sf - 1) / g.sf;
    v.resize(static_cast<size_t>(g.c_in) * nts * g.sf * fp);
  }
  float* plane(const ConvGeom& g, int c, int ts, int p) {
    return v.data() + ((static_cast<size_t>(c) * nts + (ts - ts0)) * g.sf + p) * fp;
  }
  // Where row offset q = j - pf reads for output bin f_lo: the phase plane and its first bin.
  static void source(const ConvGeom& g, int q, int f_lo, int* p, int* m0) {
    *p = ((q % g.sf) + g.sf) % g.sf;
    *m0 = f_lo + (q - *p) / g.sf;
  }
};

thread_local Phases tl_phases;

// f' range whose source bin f' sf - pf + j lies inside [0, F).
void bin_range(const ConvGeom& g, int j, int* f_lo, int* f_hi) {
  const int fo = g.f_out();
  *f_lo = std::max(0, (g.pf - j + g.sf - 1) / g.sf);
  *f_hi = g.f_in - 1 + g.pf - j < 0 ? 0 : std::min(fo, (g.f_in - 1 + g.pf - j) / g.sf + 1);
}

}  // namespace

void CpuBackend::im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) {
  const int fo = g.f_out(), k_rows = g.col_rows();
  const size_t ncols = static_cast<size_t>(nt) * fo;
  Phases& ph = tl_phases;
  if (g.sf > 1) {
    ph.frames(g, t0, nt);
    for (int c = 0; c < g.c_in; ++c)
      for (int ts = ph.ts0; ts < ph.ts0 + ph.nts; ++ts) {
        const float* src = x + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in;
        for (int p = 0; p < g.sf; ++p) {
          float* dst = ph.plane(g, c, ts, p);
          for (int m = 0; m * g.sf + p < g.f_in; ++m) dst[m] = src[m * g.sf + p];
        }
      }
  }
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int k = 0; k < k_rows; ++k) {
    const int i = k / (g.c_in * g.kf), c = (k / g.kf) % g.c_in, j = k % g.kf;
    float* row = col + static_cast<size_t>(k) * ncols;
    int f_lo, f_hi, p = 0, m0 = 0;
    bin_range(g, j, &f_lo, &f_hi);
    if (g.sf > 1) Phases::source(g, j - g.pf, f_lo, &p, &m0);
    for (int tt = 0; tt < nt; ++tt) {
      float* out = row + static_cast<size_t>(tt) * fo;
      const int ts = (t0 + tt) * g.st - g.pt + i;
      if (ts < 0 || ts >= g.t_in || f_lo >= f_hi) {
        std::fill_n(out, fo, 0.0f);
        continue;
      }
      const float* src = g.sf > 1 ? ph.plane(g, c, ts, p) + m0 - f_lo
                                  : x + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in - g.pf + j;
      std::fill(out, out + f_lo, 0.0f);
      std::memcpy(out + f_lo, src + f_lo, (f_hi - f_lo) * sizeof(float));
      std::fill(out + f_hi, out + fo, 0.0f);
    }
  }
}

void CpuBackend::col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) {
  const int fo = g.f_out();
  const size_t ncols = static_cast<size_t>(nt) * fo;
  // With sf > 1 the sums go to phase planes (contiguous adds, zeroed first), then into dx.
  Phases& ph = tl_phases;
  if (g.sf > 1) {
    ph.frames(g, t0, nt);
    std::fill(ph.v.begin(), ph.v.end(), 0.0f);
  }
  // Parallel over input channels: each thread owns whole (T, F) planes, so no races.
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int c = 0; c < g.c_in; ++c) {
    for (int i = 0; i < g.kt; ++i)
      for (int j = 0; j < g.kf; ++j) {
        const int k = (i * g.c_in + c) * g.kf + j;
        const float* row = col + static_cast<size_t>(k) * ncols;
        int f_lo, f_hi, p = 0, m0 = 0;
        bin_range(g, j, &f_lo, &f_hi);
        if (g.sf > 1) Phases::source(g, j - g.pf, f_lo, &p, &m0);
        for (int tt = 0; tt < nt; ++tt) {
          const int ts = (t0 + tt) * g.st - g.pt + i;
          if (ts < 0 || ts >= g.t_in) continue;
          const float* in = row + static_cast<size_t>(tt) * fo;
          float* dst = g.sf > 1 ? ph.plane(g, c, ts, p) + m0 - f_lo
                                : dx + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in - g.pf + j;
          for (int f = f_lo; f < f_hi; ++f) dst[f] += in[f];
        }
      }
    if (g.sf > 1)
      for (int ts = ph.ts0; ts < ph.ts0 + ph.nts; ++ts) {
        float* out = dx + (static_cast<size_t>(c) * g.t_in + ts) * g.f_in;
        for (int p = 0; p < g.sf; ++p) {
          const float* src = ph.plane(g, c, ts, p);
          for (int m = 0; m * g.sf + p < g.f_in; ++m) out[m * g.sf + p] += src[m];
        }
      }
  }
}

void CpuBackend::conv_tap_add(const float* p, int c, int kt, int s0, int m, int pt, int t_out,
                              int f, float* z, int ldz) {
  const size_t ldp = static_cast<size_t>(m) * f;
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int ch = 0; ch < c; ++ch)
    for (int i = 0; i < kt; ++i) {  // frames s with 0 <= s + pt - i < t_out, as one run
      const int lo = std::max(s0, i - pt), hi = std::min(s0 + m, t_out + i - pt);
      if (lo >= hi) continue;
      const float* src =
          p + (static_cast<size_t>(ch) * kt + i) * ldp + static_cast<size_t>(lo - s0) * f;
      float* dst = z + static_cast<size_t>(ch) * ldz + static_cast<size_t>(lo + pt - i) * f;
      const size_t n = static_cast<size_t>(hi - lo) * f;
      for (size_t q = 0; q < n; ++q) dst[q] += src[q];
    }
}

void CpuBackend::conv_tap_gather(const float* dz, int ldz, int c, int kt, int s0, int m, int pt,
                                 int t_out, int f, float* dp) {
  const size_t ldp = static_cast<size_t>(m) * f;
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int ch = 0; ch < c; ++ch)
    for (int i = 0; i < kt; ++i) {
      float* row = dp + (static_cast<size_t>(ch) * kt + i) * ldp;
      const int lo = std::min(std::max(s0, i - pt), s0 + m);
      const int hi = std::max(lo, std::min(s0 + m, t_out + i - pt));
      std::fill(row, row + static_cast<size_t>(lo - s0) * f, 0.0f);
      const float* src = dz + static_cast<size_t>(ch) * ldz + static_cast<size_t>(lo + pt - i) * f;
      std::copy(src, src + static_cast<size_t>(hi - lo) * f,
                row + static_cast<size_t>(lo - s0) * f);
      std::fill(row + static_cast<size_t>(hi - s0) * f, row + ldp, 0.0f);
    }
}

}  // namespace ds2::model::cpu
