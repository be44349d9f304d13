// im2col / col2im and the conv time-tap helpers on the GPU, one thread per OUTPUT element.
//
// im2col: element (k, tt, f') of col, k = (i C + c) kf + j, reads x[c, (t0 + tt) st - pt + i,
// f' sf - pf + j] or 0 in the padding. col2im is written as a gather so that it needs no atomics:
// thread (c, ts, fs) of dx sums every col element that im2col would have read from it, i.e. over
// taps i with (ts + pt - i) divisible by st giving an output frame in [t0, t0 + nt), and taps j
// likewise in frequency.
#include "model/cuda/im2col.cuh"

namespace ds2::model::cuda {
namespace {

// fo = g.f_out(), passed in (ConvGeom's methods are host-only).
__global__ void im2col_k(ConvGeom g, int fo, const float* x, int t0, int nt, float* col,
                         size_t total) {
  DS2_GRID_LOOP(e, total) {
    const int fp = static_cast<int>(e % fo);
    const int tt = static_cast<int>((e / fo) % nt);
    const int k = static_cast<int>(e / (static_cast<size_t>(fo) * nt));
    const int i = k / (g.c_in * g.kf), c = (k / g.kf) % g.c_in, j = k % g.kf;
    const int ts = (t0 + tt) * g.st - g.pt + i, fs = fp * g.sf - g.pf + j;
    col[e] = (ts >= 0 && ts < g.t_in && fs >= 0 && fs < g.f_in)
                 ? x[(static_cast<size_t>(c) * g.t_in + ts) * g.f_in + fs]
                 : 0.0f;
  }
}

__global__ void col2im_k(ConvGeom g, int fo, const float* col, int t0, int nt, float* dx,
                         size_t total) {
  const size_t ncols = static_cast<size_t>(nt) * fo;
  DS2_GRID_LOOP(e, total) {
    const int fs = static_cast<int>(e % g.f_in);
    const int ts = static_cast<int>((e / g.f_in) % g.t_in);
    const int c = static_cast<int>(e / (static_cast<size_t>(g.f_in) * g.t_in));
    float acc = 0.0f;
    for (int i = 0; i < g.kt; ++i) {
      const int num = ts + g.pt - i;
      if (num < 0 || num % g.st) continue;
      const int tt = num / g.st - t0;
      if (tt < 0 || tt >= nt) continue;
      for (int j = 0; j < g.kf; ++j) {
        const int fn = fs + g.pf - j;
        if (fn < 0 || fn % g.sf) continue;
        const int fp = fn / g.sf;
        if (fp >= fo) continue;
        const int k = (i * g.c_in + c) * g.kf + j;
        acc += col[k * ncols + static_cast<size_t>(tt) * fo + fp];
      }
    }
    dx[e] += acc;
  }
}

// One thread per element (ch, t', f) of the output frames the chunk touches, t' in
// [t_lo, t_lo + nt): its taps i whose input frame s = t' - pt + i lies in the chunk, in
// increasing i (the CPU's order).
__global__ void tap_add_k(const float* p, int c, int kt, int s0, int m, int pt, int t_lo, int nt,
                          int f, float* z, int ldz) {
  const size_t ldp = static_cast<size_t>(m) * f, n = static_cast<size_t>(nt) * f;
  DS2_GRID_LOOP(e, n * c) {
    const int ch = static_cast<int>(e / n);
    const int tt = t_lo + static_cast<int>((e % n) / f), q = static_cast<int>(e % f);
    float* out = z + static_cast<size_t>(ch) * ldz + static_cast<size_t>(tt) * f + q;
    float acc = *out;
    for (int i = 0; i < kt; ++i) {
      const int s = tt - pt + i;
      if (s >= s0 && s < s0 + m)
        acc += p[(static_cast<size_t>(ch) * kt + i) * ldp + static_cast<size_t>(s - s0) * f + q];
    }
    *out = acc;
  }
}

__global__ void tap_gather_k(const float* dz, int ldz, int c, int kt, int s0, int m, int pt,
                             int t_out, int f, float* dp) {
  const size_t ldp = static_cast<size_t>(m) * f;
  DS2_GRID_LOOP(e, ldp * kt * c) {
    const size_t row = e / ldp;
    const int ch = static_cast<int>(row / kt), i = static_cast<int>(row % kt);
    const int s = s0 + static_cast<int>((e % ldp) / f), q = static_cast<int>(e % f);
    const int tt = s + pt - i;
    dp[e] = (tt >= 0 && tt < t_out)
                ? dz[static_cast<size_t>(ch) * ldz + static_cast<size_t>(tt) * f + q]
                : 0.0f;
  }
}

}  // namespace

cudaError_t launch_im2col(cudaStream_t s, const ConvGeom& g, const float* x, int t0, int nt,
                          float* col) {
  const size_t total = static_cast<size_t>(g.col_rows()) * nt * g.f_out();
  if (total) im2col_k<<<grid_for(total), kThreads, 0, s>>>(g, g.f_out(), x, t0, nt, col, total);
  return cudaGetLastError();
}
cudaError_t launch_col2im(cudaStream_t s, const ConvGeom& g, const float* col, int t0, int nt,
                          float* dx) {
  const size_t total = static_cast<size_t>(g.c_in) * g.t_in * g.f_in;
  if (total && nt > 0)
    col2im_k<<<grid_for(total), kThreads, 0, s>>>(g, g.f_out(), col, t0, nt, dx, total);
  return cudaGetLastError();
}
cudaError_t launch_conv_tap_add(cudaStream_t s, const float* p, int c, int kt, int s0, int m,
                                int pt, int t_out, int f, float* z, int ldz) {
  // Output frames reached by the chunk's taps: s + pt - i for s in [s0, s0 + m), i < kt.
  const int t_lo = s0 + pt - (kt - 1) > 0 ? s0 + pt - (kt - 1) : 0;
  const int t_hi = s0 + m + pt < t_out ? s0 + m + pt : t_out;
  const size_t total = t_hi > t_lo ? static_cast<size_t>(c) * (t_hi - t_lo) * f : 0;
  if (total)
    tap_add_k<<<grid_for(total), kThreads, 0, s>>>(p, c, kt, s0, m, pt, t_lo, t_hi - t_lo, f, z,
                                                   ldz);
  return cudaGetLastError();
}
cudaError_t launch_conv_tap_gather(cudaStream_t s, const float* dz, int ldz, int c, int kt, int s0,
                                   int m, int pt, int t_out, int f, float* dp) {
  const size_t total = static_cast<size_t>(c) * kt * m * f;
  if (total)
    tap_gather_k<<<grid_for(total), kThreads, 0, s>>>(dz, ldz, c, kt, s0, m, pt, t_out, f, dp);
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
