// CTC loss and gradient on the GPU: one thread block per utterance, the threads of the block
// spread over the lattice states s of one frame at a time. The recursions are the CPU's
// (model/ctc.h for the algorithm), using the SAME cells from model/detail/math.h
// (ctc_band_lo/hi, ctc_alpha_cell, ctc_beta_cell, ctc_posterior, exp_poly), in double and log
// space, over the band of states that lie on a complete alignment.
//
// Per utterance (slot in the workspace): log-softmax (T, C) computed one frame per thread; the
// extended labels and skip penalties; alpha for all T frames, rows padded with -inf cells at
// -2, -1 and beyond the band so the cells can read s-2 .. s+2 unconditionally; log p(l|x) from
// the last row. Backward, frame by frame from T-1: the beta row (two rows ping-pong), the
// posteriors gamma_t(s), then per class of the label one thread sums the gamma of the states
// labelled c and writes grad[t, n, c] = softmax - sum (a gather, deterministic, no atomics); the
// other classes keep the softmax. The states of a class are chained once per utterance (the
// first state of each class heads its chain, each state points to the next with the same
// label), so a frame costs O(S), not O(C S): with C = 5,000 (Mandarin) the per-class scan over
// all states would dominate. Frames t >= T and utterances without an alignment get zero
// gradient.
#include "model/cuda/ctc_op.cuh"
#include "model/detail/math.h"

namespace ds2::model::cuda {
namespace {

using detail::kNegInf;

constexpr size_t kAlign = 256;
size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct Header {
  double* costs;
  int32_t* in_len;
  int32_t* lab_len;
  int32_t* status;
  int32_t* labels;  // (N, max_label), row n = utterance n's labels
};

__device__ Header header_of(const CtcDevLayout& lay, char* base) {
  const size_t n = static_cast<size_t>(lay.batch);
  Header h;
  h.costs = reinterpret_cast<double*>(base);
  h.in_len = reinterpret_cast<int32_t*>(base + n * 8);
  h.lab_len = h.in_len + n;
  h.status = h.lab_len + n;
  h.labels = h.status + n;
  return h;
}

struct Slot {
  double *lsm, *alpha, *beta0, *beta1, *emit, *pen, *gamma;
  int32_t* ext;
  int32_t* chain;  // odd s: the next odd state with the same label (S: none)
  int32_t* head;   // odd s: 1 when no earlier state has its label
};

__device__ Slot slot_of(const CtcDevLayout& lay, char* base) {
  const size_t t = lay.max_time, c = lay.alphabet, w = lay.row;
  Slot s;
  double* d = reinterpret_cast<double*>(base);
  s.lsm = d;
  d += t * c;
  s.alpha = d + 2;
  d += t * w;
  s.beta0 = d + 2;
  d += w;
  s.beta1 = d + 2;
  d += w;
  s.emit = d + 2;
  d += w;
  s.pen = d + 2;
  d += w;
  s.gamma = d + 2;
  d += w;
  s.ext = reinterpret_cast<int32_t*>(d) + 2;
  s.chain = s.ext + w;
  s.head = s.chain + w;
  return s;
}

__device__ void zero_rows(float* grad, const CtcDevLayout& lay, int n, int t0) {
  if (!grad) return;
  const size_t c = lay.alphabet, rows = lay.max_time > t0 ? lay.max_time - t0 : 0;
  for (size_t e = threadIdx.x; e < rows * c; e += blockDim.x)
    grad[((t0 + e / c) * lay.batch + n) * c + e % c] = 0.0f;
}

__global__ void __launch_bounds__(kThreads)
    ctc_k(CtcDevLayout lay, const float* act, float* grad, char* ws) {
  const int n = blockIdx.x, tid = threadIdx.x, nt = blockDim.x;
  const Header hd = header_of(lay, ws);
  const Slot w = slot_of(lay, ws + lay.header_bytes + n * lay.slot_bytes);
  const int T = hd.in_len[n], L = hd.lab_len[n], S = 2 * L + 1, C = lay.alphabet, N = lay.batch;
  const int32_t* lab = hd.labels + static_cast<size_t>(n) * lay.max_label;
  __shared__ double log_p_sh;

  zero_rows(grad, lay, n, T);
  if (hd.status[n] != 0) {
    if (tid == 0 && hd.status[n] == 2) hd.costs[n] = 0.0;
    zero_rows(grad, lay, n, 0);
    return;
  }
  const size_t row = static_cast<size_t>(N) * C;
  // Log-softmax of each frame (one thread per frame); grad starts as the softmax.
  for (int t = tid; t < T; t += nt) {
    const float* a = act + t * row + static_cast<size_t>(n) * C;
    double* y = w.lsm + static_cast<size_t>(t) * C;
    double m = a[0];
    for (int c = 1; c < C; ++c) m = fmax(m, static_cast<double>(a[c]));
    double sum = 0;
    for (int c = 0; c < C; ++c) {
      y[c] = static_cast<double>(a[c]) - m;
      sum += detail::exp_poly(y[c]);
    }
    const double lse = log(sum);
    for (int c = 0; c < C; ++c) y[c] -= lse;
    if (grad) {
      float* g = grad + t * row + static_cast<size_t>(n) * C;
      for (int c = 0; c < C; ++c) g[c] = static_cast<float>(detail::exp_poly(y[c]));
    }
  }
  const int wcells = static_cast<int>(lay.row) - 2;  // indices -2 .. row - 3
  for (int s = tid - 2; s < wcells; s += nt) {
    w.ext[s] = (s >= 0 && s < S && (s & 1)) ? lab[(s - 1) / 2] : lay.blank;
    w.pen[s] = kNegInf;
  }
  __syncthreads();
  for (int s = 3 + 2 * tid; s < S; s += 2 * nt)
    w.pen[s] = (w.ext[s] != w.ext[s - 2]) ? 0.0 : kNegInf;
  for (int s = 1 + 2 * tid; s < S; s += 2 * nt) {  // the chains of equal labels, O(L^2) once
    int next = S, first = 1;
    for (int u = s + 2; u < S && next == S; u += 2)
      if (w.ext[u] == w.ext[s]) next = u;
    for (int u = 1; u < s && first; u += 2)
      if (w.ext[u] == w.ext[s]) first = 0;
    w.chain[s] = next;
    w.head[s] = first;
  }
  __syncthreads();

  // Alpha, frame by frame; every cell of the row is written (-inf outside the band).
  for (int t = 0; t < T; ++t) {
    const int lo = detail::ctc_band_lo(S, T, t), hi = detail::ctc_band_hi(S, t);
    const double* lsm_t = w.lsm + static_cast<size_t>(t) * C;
    for (int s = lo + tid; s < hi; s += nt) w.emit[s] = lsm_t[w.ext[s]];
    __syncthreads();
    double* cur = w.alpha + t * lay.row;
    const double* prev = cur - lay.row;
    for (int s = tid - 2; s < wcells; s += nt) {
      double v = kNegInf;
      if (s >= lo && s < hi)
        v = t == 0 ? w.emit[s] : detail::ctc_alpha_cell(prev, w.pen, w.emit, s);
      cur[s] = v;
    }
    __syncthreads();
  }
  if (tid == 0) {
    const double* last = w.alpha + (T - 1) * lay.row;
    log_p_sh = detail::log_add(last[S - 1], last[S - 2]);
  }
  __syncthreads();
  const double log_p = log_p_sh;
  if (log_p == kNegInf) {  // +-inf activations: no alignment has mass
    if (tid == 0) hd.costs[n] = -kNegInf;
    zero_rows(grad, lay, n, 0);
    return;
  }
  if (tid == 0) hd.costs[n] = -log_p;
  if (!grad) return;

  double* cur = w.beta0;
  double* next = w.beta1;
  for (int t = T - 1; t >= 0; --t) {
    const int lo = detail::ctc_band_lo(S, T, t), hi = detail::ctc_band_hi(S, t);
    const double* lsm_t = w.lsm + static_cast<size_t>(t) * C;
    for (int s = lo + tid; s < hi; s += nt) w.emit[s] = lsm_t[w.ext[s]];
    __syncthreads();
    for (int s = tid - 2; s < wcells; s += nt) {
      double v = kNegInf;
      if (s >= lo && s < hi)
        v = t == T - 1 ? w.emit[s] : detail::ctc_beta_cell(next, w.pen, w.emit, s);
      cur[s] = v;
    }
    __syncthreads();
    const double* alpha_t = w.alpha + t * lay.row;
    for (int s = lo + tid; s < hi; s += nt)
      w.gamma[s] = detail::ctc_posterior(alpha_t[s], cur[s], w.emit[s], log_p);
    __syncthreads();
    float* g = grad + t * row + static_cast<size_t>(n) * C;
    // The sums run over the band's states in increasing s, as a scan of all states would.
    if (tid == nt - 1) {
      double acc = 0;
      for (int s = lo + (lo & 1); s < hi; s += 2) acc += w.gamma[s];
      g[lay.blank] = static_cast<float>(static_cast<double>(g[lay.blank]) - acc);
    }
    for (int s = 1 + 2 * tid; s < S; s += 2 * nt) {
      if (!w.head[s]) continue;
      double acc = 0;
      for (int u = s; u < S; u = w.chain[u])
        if (u >= lo && u < hi) acc += w.gamma[u];
      const int c = w.ext[s];
      g[c] = static_cast<float>(static_cast<double>(g[c]) - acc);
    }
    __syncthreads();  // emit / gamma / rows are rewritten by the next frame
    double* tmp = cur;
    cur = next;
    next = tmp;
  }
}

}  // namespace

CtcDevLayout ctc_dev_layout(int max_time, int batch, int alphabet, int max_label, int blank) {
  CtcDevLayout lay;
  lay.max_time = max_time;
  lay.batch = batch;
  lay.alphabet = alphabet;
  lay.max_label = max_label;
  lay.blank = blank;
  lay.row = 2 * static_cast<size_t>(max_label) + 1 + 4;
  const size_t n = batch;
  lay.header_bytes = round_up(n * 8 + 3 * n * 4 + n * static_cast<size_t>(max_label) * 4);
  const size_t t = max_time, c = alphabet, w = lay.row;
  lay.slot_bytes = round_up((t * c + t * w + 5 * w) * 8 + 3 * w * 4);
  return lay;
}

cudaError_t launch_ctc(cudaStream_t s, const CtcDevLayout& lay, const float* act, float* grad,
                       void* workspace) {
  if (lay.batch > 0)
    ctc_k<<<lay.batch, kThreads, 0, s>>>(lay, act, grad, static_cast<char*>(workspace));
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
