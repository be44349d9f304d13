// CTC loss on the CPU: the batch is split over OpenMP threads, one utterance per task; each
// utterance runs the banded log-space alpha/beta recursions of model/ctc.h on its own slot of
// the caller's workspace. The inner loops over states s call the shared cells of
// model/detail/math.h, which are branch-free so that the compiler vectorizes them; the
// per-utterance kernel is compiled for baseline x86-64, AVX2+FMA and AVX-512 (chosen at run
// time with __builtin_cpu_supports), since the project builds without -march.

// g++ keeps floating-point operations that may trap out of if-converted code under its default
// -ftrapping-math, which leaves the selects in math.h as branches and the loops scalar. Nothing
// here relies on FP exceptions; this applies to this file only (math.h is included below).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "model/ctc.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "model/detail/math.h"

namespace ds2::model {

namespace {

using detail::kNegInf;

// The vector loops over s run to a multiple of kVec past the band start, so that no row ends in
// a scalar remainder loop; rows have room for it, and the cells computed past the band are
// garbage that pad_row() then fences off with -inf (only the band and its pads are ever read).
constexpr int kVec = 8;
constexpr size_t kRowExtra = 4 + kVec;  // S + kRowExtra cells per row, indices -2 .. S + 9

// One utterance's scratch, carved from the workspace. Row pointers point at s = 0; every row
// also owns the two cells before it and kRowExtra - 2 after s = S - 1.
struct Slot {
  double* lsm;    // (T, C) log-softmax of the utterance's frames
  double* alpha;  // T rows of stride row_stride
  double* beta0;  // two beta rows
  double* beta1;
  double* emit;   // log y_t(l'_s) for the current frame
  double* pen;    // skip penalties, 0 or -inf (math.h)
  double* gamma;  // posteriors of the current frame
  double* acc;    // (C) posterior mass per class
  int32_t* ext;   // l'_s
  size_t row_stride;
};

constexpr size_t kAlign = 64;

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Bytes of one utterance's slot; the layout is the order of make_slot.
size_t slot_bytes(const CtcShape& sh) {
  const size_t t = static_cast<size_t>(sh.max_time), c = static_cast<size_t>(sh.alphabet);
  const size_t w = 2 * static_cast<size_t>(sh.max_label) + 1 + kRowExtra;
  return round_up(t * c * sizeof(double)) + round_up(t * w * sizeof(double)) +
         5 * round_up(w * sizeof(double)) + round_up(c * sizeof(double)) +
         round_up(w * sizeof(int32_t));
}

Slot make_slot(const CtcShape& sh, char* base) {
  const size_t t = static_cast<size_t>(sh.max_time), c = static_cast<size_t>(sh.alphabet);
  const size_t w = 2 * static_cast<size_t>(sh.max_label) + 1 + kRowExtra;
  auto take = [&base](size_t bytes) {
    char* p = base;
    base += round_up(bytes);
    return p;
  };
  Slot s{};
  s.row_stride = w;
  s.lsm = reinterpret_cast<double*>(take(t * c * sizeof(double)));
  s.alpha = reinterpret_cast<double*>(take(t * w * sizeof(double))) + 2;
  s.beta0 = reinterpret_cast<double*>(take(w * sizeof(double))) + 2;
  s.beta1 = reinterpret_cast<double*>(take(w * sizeof(double))) + 2;
  s.emit = reinterpret_cast<double*>(take(w * sizeof(double))) + 2;
  s.pen = reinterpret_cast<double*>(take(w * sizeof(double))) + 2;
  s.gamma = reinterpret_cast<double*>(take(w * sizeof(double))) + 2;
  s.acc = reinterpret_cast<double*>(take(c * sizeof(double)));
  s.ext = reinterpret_cast<int32_t*>(take(w * sizeof(int32_t))) + 2;
  return s;
}

// End of the vector loop for the band [lo, hi): lo + a multiple of kVec.
DS2_FORCE_INLINE int vec_end(int lo, int hi) { return lo + (hi - lo + kVec - 1) / kVec * kVec; }

// Writes -inf into the two cells on each side of the band [lo, hi) of a row.
DS2_FORCE_INLINE void pad_row(double* row, int lo, int hi) {
  row[lo - 2] = row[lo - 1] = kNegInf;
  row[hi] = row[hi + 1] = kNegInf;
}

// emit[s] = log y_t(l'_s) for s in [lo, hi).
DS2_FORCE_INLINE void gather_emit(const double* lsm_t, const int32_t* ext, double* emit, int lo,
                                  int hi) {
  for (int s = lo; s < hi; ++s) emit[s] = lsm_t[ext[s]];
}

// Zeroes utterance n's gradient rows t0 .. max_time - 1.
template <typename Real>
void zero_grad_rows(Real* grad, const CtcShape& sh, int n, int t0) {
  if (!grad) return;
  const size_t c = static_cast<size_t>(sh.alphabet);
  for (int t = t0; t < sh.max_time; ++t) {
    Real* g = grad + (static_cast<size_t>(t) * sh.batch + n) * c;
    std::fill(g, g + c, Real(0));
  }
}

// Loss (and gradient) of utterance n. Inputs were validated by the caller.
template <typename Real>
DS2_FORCE_INLINE void utterance_body(const Real* act, Real* grad, const int32_t* lab, int L, int T,
                                     const CtcShape& sh, int n, int blank, const Slot& w,
                                     Real* cost, uint8_t* impossible) {
  const int C = sh.alphabet, N = sh.batch, S = 2 * L + 1;
  const double inf = std::numeric_limits<double>::infinity();
  zero_grad_rows(grad, sh, n, T);
  if (T == 0 || ctc_min_frames(lab, L) > T) {
    // No frame and no label: the empty path, p = 1. Otherwise no alignment exists.
    const bool empty = (T == 0 && L == 0);
    *cost = empty ? Real(0) : static_cast<Real>(inf);
    *impossible = empty ? 0 : 1;
    zero_grad_rows(grad, sh, n, 0);
    return;
  }

  // Log-softmax of every frame, max-subtracted. The softmax itself goes straight into the
  // gradient rows (the gradient is softmax - posterior mass, finished by the backward pass).
  Real* const grad_n = grad ? grad + static_cast<size_t>(n) * C : nullptr;
  const size_t row = static_cast<size_t>(N) * C;  // distance between frames in act and grad
  for (int t = 0; t < T; ++t) {
    const Real* a = act + static_cast<size_t>(t) * row + static_cast<size_t>(n) * C;
    double* y = w.lsm + static_cast<size_t>(t) * C;
    double m = static_cast<double>(a[0]);
    for (int c = 1; c < C; ++c) m = std::max(m, static_cast<double>(a[c]));
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < C; ++c) {
      y[c] = static_cast<double>(a[c]) - m;
      sum += detail::exp_poly(y[c]);
    }
    const double lse = std::log(sum);
#pragma omp simd
    for (int c = 0; c < C; ++c) y[c] -= lse;
    if (grad_n) {
      Real* g = grad_n + static_cast<size_t>(t) * row;
#pragma omp simd
      for (int c = 0; c < C; ++c) g[c] = static_cast<Real>(detail::exp_poly(y[c]));
    }
  }

  // Extended labels and skip penalties (defined on the whole row, -2 .. S + kRowExtra - 3).
  for (int s = -2; s < S + static_cast<int>(kRowExtra) - 2; ++s) {
    w.ext[s] = (s >= 0 && s < S && (s & 1)) ? lab[(s - 1) / 2] : blank;
    w.pen[s] = kNegInf;
  }
  for (int s = 3; s < S; s += 2) w.pen[s] = (w.ext[s] != w.ext[s - 2]) ? 0.0 : kNegInf;

  // Forward: alpha rows, band only.
  const size_t ws = w.row_stride;
  for (int t = 0; t < T; ++t) {
    const int lo = detail::ctc_band_lo(S, T, t), hi = detail::ctc_band_hi(S, t);
    const int end = vec_end(lo, hi);
    double* cur = w.alpha + t * ws;
    double* emit = w.emit;
    gather_emit(w.lsm + static_cast<size_t>(t) * C, w.ext, emit, lo, end);
    if (t == 0) {
      for (int s = lo; s < hi; ++s) cur[s] = emit[s];
    } else {
      const double* prev = cur - ws;
      const double* pen = w.pen;
#pragma omp simd
      for (int s = lo; s < end; ++s) cur[s] = detail::ctc_alpha_cell(prev, pen, emit, s);
    }
    pad_row(cur, lo, hi);
  }
  const double* last = w.alpha + (T - 1) * ws;
  const double log_p = detail::log_add(last[S - 1], last[S - 2]);
  if (log_p == kNegInf) {  // only when activations are +-inf: no alignment has mass
    *cost = static_cast<Real>(inf);
    *impossible = 1;
    zero_grad_rows(grad, sh, n, 0);
    return;
  }
  *cost = static_cast<Real>(-log_p);
  *impossible = 0;
  if (!grad) return;

  // Backward: beta rows (two), gradient of each frame as soon as its beta row is known.
  double* next = w.beta1;
  double* cur = w.beta0;
  for (int t = T - 1; t >= 0; --t) {
    const int lo = detail::ctc_band_lo(S, T, t), hi = detail::ctc_band_hi(S, t);
    const int end = vec_end(lo, hi);
    const double* lsm_t = w.lsm + static_cast<size_t>(t) * C;
    double* emit = w.emit;
    gather_emit(lsm_t, w.ext, emit, lo, end);
    if (t == T - 1) {
      for (int s = lo; s < hi; ++s) cur[s] = emit[s];  // band = {S-2, S-1}
    } else {
      const double* pen = w.pen;
#pragma omp simd
      for (int s = lo; s < end; ++s) cur[s] = detail::ctc_beta_cell(next, pen, emit, s);
    }
    pad_row(cur, lo, hi);
    const double* alpha_t = w.alpha + t * ws;
    double* gamma = w.gamma;
#pragma omp simd
    for (int s = lo; s < end; ++s)  // past hi: garbage, never summed below
      gamma[s] = detail::ctc_posterior(alpha_t[s], cur[s], emit[s], log_p);

    double* acc = w.acc;
    std::fill(acc, acc + C, 0.0);
    double blank_a = 0, blank_b = 0;  // blanks are the even states: two chains for latency
    int s = lo;
    for (; s + 1 < hi; s += 2) {
      if (s & 1) {
        acc[w.ext[s]] += gamma[s];
        blank_a += gamma[s + 1];
      } else {
        blank_b += gamma[s];
        acc[w.ext[s + 1]] += gamma[s + 1];
      }
    }
    if (s < hi) {
      if (s & 1)
        acc[w.ext[s]] += gamma[s];
      else
        blank_a += gamma[s];
    }
    acc[blank] += blank_a + blank_b;

    Real* g = grad_n + static_cast<size_t>(t) * row;  // holds the softmax (forward pass)
    for (int c = 0; c < C; ++c) g[c] = static_cast<Real>(static_cast<double>(g[c]) - acc[c]);
    std::swap(cur, next);
  }
}

template <typename Real>
void utterance_generic(const Real* act, Real* grad, const int32_t* lab, int L, int T,
                       const CtcShape& sh, int n, int blank, const Slot& w, Real* cost,
                       uint8_t* impossible) {
  utterance_body(act, grad, lab, L, T, sh, n, blank, w, cost, impossible);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same kernel for AVX2+FMA and AVX-512 (4 and 8 doubles per vector); the inline helpers of
// math.h are inlined into each and vectorized for its instruction set.
#define DS2_CTC_X86_CLONES 1
template <typename Real>
__attribute__((target("avx2,fma"))) void utterance_avx2(const Real* act, Real* grad,
                                                        const int32_t* lab, int L, int T,
                                                        const CtcShape& sh, int n, int blank,
                                                        const Slot& w, Real* cost,
                                                        uint8_t* impossible) {
  utterance_body(act, grad, lab, L, T, sh, n, blank, w, cost, impossible);
}
#if defined(__clang__)
#define DS2_CTC_AVX512_TARGET "avx512f,avx512dq,avx512vl,fma"
#else  // g++ otherwise keeps 256-bit vectors for AVX-512 code
#define DS2_CTC_AVX512_TARGET "avx512f,avx512dq,avx512vl,fma,prefer-vector-width=512"
#endif
template <typename Real>
__attribute__((target(DS2_CTC_AVX512_TARGET))) void utterance_avx512(
    const Real* act, Real* grad, const int32_t* lab, int L, int T, const CtcShape& sh, int n,
    int blank, const Slot& w, Real* cost, uint8_t* impossible) {
  utterance_body(act, grad, lab, L, T, sh, n, blank, w, cost, impossible);
}
#endif

bool isa_available(CtcCpuIsa isa) {
  switch (isa) {
    case CtcCpuIsa::kAuto:
    case CtcCpuIsa::kBaseline:
      return true;
#ifdef DS2_CTC_X86_CLONES
    case CtcCpuIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CtcCpuIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
    default:
      return false;
  }
}

// The kernel for `isa`; kAuto: the widest this CPU runs.
template <typename Real>
auto pick_kernel(CtcCpuIsa isa) {
  DS2_REQUIRE(isa_available(isa), ConfigError,
              "ctc: instruction set {} is not available in this build or on this CPU",
              static_cast<int>(isa));
  auto* kernel = &utterance_generic<Real>;
#ifdef DS2_CTC_X86_CLONES
  if (isa == CtcCpuIsa::kAuto)
    isa = isa_available(CtcCpuIsa::kAvx512) ? CtcCpuIsa::kAvx512
          : isa_available(CtcCpuIsa::kAvx2) ? CtcCpuIsa::kAvx2
                                            : CtcCpuIsa::kBaseline;
  if (isa == CtcCpuIsa::kAvx2) kernel = &utterance_avx2<Real>;
  if (isa == CtcCpuIsa::kAvx512) kernel = &utterance_avx512<Real>;
#endif
  return kernel;
}

}  // namespace

void ctc_check_inputs(const void* act, const int32_t* labels, const int32_t* label_lengths,
                      const int32_t* input_lengths, const CtcShape& sh, const void* costs,
                      const uint8_t* impossible, int blank) {
  DS2_REQUIRE(sh.max_time >= 0 && sh.batch >= 0 && sh.max_label >= 0 && sh.alphabet >= 2,
              ConfigError, "ctc: invalid shape max_time={} batch={} alphabet={} max_label={}",
              sh.max_time, sh.batch, sh.alphabet, sh.max_label);
  DS2_REQUIRE(blank >= 0 && blank < sh.alphabet, ConfigError,
              "ctc: blank index {} outside the alphabet [0, {})", blank, sh.alphabet);
  if (sh.batch == 0) return;
  DS2_REQUIRE(label_lengths && input_lengths && costs && impossible, ConfigError,
              "ctc: null lengths, costs or impossible buffer");
  size_t offset = 0;
  for (int n = 0; n < sh.batch; ++n) {
    const int t = input_lengths[n], l = label_lengths[n];
    DS2_REQUIRE(t >= 0 && t <= sh.max_time, ConfigError,
                "ctc: input_lengths[{}] = {} outside [0, max_time = {}]", n, t, sh.max_time);
    DS2_REQUIRE(l >= 0 && l <= sh.max_label, ConfigError,
                "ctc: label_lengths[{}] = {} outside [0, max_label = {}]", n, l, sh.max_label);
    DS2_REQUIRE(l == 0 || labels, ConfigError, "ctc: null labels");
    DS2_REQUIRE(t == 0 || act, ConfigError, "ctc: null activations");
    for (int i = 0; i < l; ++i) {
      const int32_t v = labels[offset + static_cast<size_t>(i)];
      DS2_REQUIRE(v >= 0 && v < sh.alphabet && v != blank, ConfigError,
                  "ctc: utterance {} label {} = {} is not a symbol of [0, {}) other than "
                  "blank {}",
                  n, i, v, sh.alphabet, blank);
    }
    offset += static_cast<size_t>(l);
  }
}

bool ctc_cpu_isa_available(CtcCpuIsa isa) { return isa_available(isa); }

int ctc_min_frames(const int32_t* labels, int label_length) {
  int frames = label_length;
  for (int i = 1; i < label_length; ++i) frames += (labels[i] == labels[i - 1]) ? 1 : 0;
  return frames;
}

size_t ctc_cpu_workspace_bytes(const CtcShape& shape) {
  if (shape.batch <= 0 || shape.max_time <= 0 || shape.alphabet <= 0 || shape.max_label < 0)
    return 0;
  return static_cast<size_t>(shape.batch) * slot_bytes(shape) + kAlign;
}

template <typename Real>
void ctc_loss_cpu(const Real* act, Real* grad, const int32_t* labels, const int32_t* label_lengths,
                  const int32_t* input_lengths, const CtcShape& shape, Real* costs,
                  uint8_t* impossible, void* workspace, int num_threads, int blank, CtcCpuIsa isa) {
  ctc_check_inputs(act, labels, label_lengths, input_lengths, shape, costs, impossible, blank);
  DS2_REQUIRE(shape.batch == 0 || workspace || ctc_cpu_workspace_bytes(shape) == 0, ConfigError,
              "ctc: null workspace");
  auto* utterance = pick_kernel<Real>(isa);
  const int N = shape.batch;
  if (N == 0) return;
  if (shape.max_time == 0) {  // no frames at all: only empty labels have an alignment
    for (int n = 0; n < N; ++n) {
      impossible[n] = label_lengths[n] == 0 ? 0 : 1;
      costs[n] = impossible[n] ? std::numeric_limits<Real>::infinity() : Real(0);
    }
    return;
  }
  char* base = static_cast<char*>(workspace);
  base += (kAlign - reinterpret_cast<uintptr_t>(base) % kAlign) % kAlign;
  const size_t slot = slot_bytes(shape);
  const int threads = num_threads > 0 ? num_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && N > 1)
  for (int n = 0; n < N; ++n) {
    size_t offset = 0;  // where utterance n's labels start (O(N) per task, N is small)
    for (int i = 0; i < n; ++i) offset += static_cast<size_t>(label_lengths[i]);
    const Slot w = make_slot(shape, base + static_cast<size_t>(n) * slot);
    utterance(act, grad, labels + offset, label_lengths[n], input_lengths[n], shape, n, blank, w,
              costs + n, impossible + n);
  }
}

template void ctc_loss_cpu<float>(const float*, float*, const int32_t*, const int32_t*,
                                  const int32_t*, const CtcShape&, float*, uint8_t*, void*, int,
                                  int, CtcCpuIsa);
template void ctc_loss_cpu<double>(const double*, double*, const int32_t*, const int32_t*,
                                   const int32_t*, const CtcShape&, double*, uint8_t*, void*, int,
                                   int, CtcCpuIsa);

}  // namespace ds2::model
