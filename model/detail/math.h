// Numerics shared by the CPU and CUDA backends: written once, compiled by g++ and nvcc, so the
// two backends cannot drift apart. Everything here is an inline DS2_HOSTDEVICE function on plain
// values or pointers; no CUDA header and no std:: function that is missing on the device.
//
// Contents
//   kNegInf, clamp, log_add          log-space helpers (reference precision, ::exp/::log1p)
//   exp_poly, log_poly               branch-free double exp/log (relative error < 2e-14) built
//                                    from +, *, / and bit operations only, so a loop over them
//                                    vectorizes on the CPU and runs the same on the GPU
//   exp_polyf                        the same for float (relative error < 4e-7), for the GRU cell
//   log_sum_exp3                     log(e^a + e^b + e^c) with -inf handling, 2 exp + 1 log
//   ctc_band_lo/hi, ctc_alpha_cell,  one cell of the CTC alpha/beta recursions (see model/ctc.h
//   ctc_beta_cell, ctc_posterior     for the algorithm); the CPU loops over s, a CUDA kernel
//                                    runs one thread per (utterance, s) cell
//
// The CTC lattice is computed in double precision in log space on every backend: log alpha
// reaches -1e5 for long utterances with confident activations, where float's spacing (0.008)
// would already be a visible error in the gradient exp(log alpha + log beta - log p).
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define DS2_HOSTDEVICE __host__ __device__
#else
#define DS2_HOSTDEVICE
#endif
// Forced inlining for the hot helpers: the CPU path compiles its loops a second time for AVX2 and
// needs these inlined (and so vectorized) there too.
#if defined(__CUDACC__)
#define DS2_FORCE_INLINE __forceinline__
#elif defined(__GNUC__)
#define DS2_FORCE_INLINE inline __attribute__((always_inline))
#else
#define DS2_FORCE_INLINE inline
#endif

namespace ds2::model::detail {

constexpr double kNegInf = -__builtin_huge_val();
constexpr float kNegInfF = -__builtin_huge_valf();

template <typename T>
DS2_HOSTDEVICE inline T clamp(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// log(e^a + e^b); either may be -inf (then the other is returned, -inf + -inf = -inf).
DS2_HOSTDEVICE inline double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  return a > b ? a + ::log1p(::exp(b - a)) : b + ::log1p(::exp(a - b));
}
DS2_HOSTDEVICE inline float log_add(float a, float b) {
  if (a == kNegInfF) return b;
  if (b == kNegInfF) return a;
  return a > b ? a + ::log1pf(::expf(b - a)) : b + ::log1pf(::expf(a - b));
}

// ---- bit casts (memcpy on the host, intrinsics on the device) ----------------------------------
DS2_HOSTDEVICE DS2_FORCE_INLINE int64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return __double_as_longlong(x);
#else
  int64_t i;
  memcpy(&i, &x, sizeof i);
  return i;
#endif
}
DS2_HOSTDEVICE DS2_FORCE_INLINE double double_of(int64_t i) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(i);
#else
  double x;
  memcpy(&x, &i, sizeof x);
  return x;
#endif
}

DS2_HOSTDEVICE DS2_FORCE_INLINE int32_t bits_of(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_int(x);
#else
  int32_t i;
  memcpy(&i, &x, sizeof i);
  return i;
#endif
}
DS2_HOSTDEVICE DS2_FORCE_INLINE float float_of(int32_t i) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(i);
#else
  float x;
  memcpy(&x, &i, sizeof x);
  return x;
#endif
}

// 1.5 * 2^52: adding it rounds a double of magnitude < 2^51 to an integer held in the low
// mantissa bits (round to nearest even), which avoids double<->int64 conversions that SSE2
// cannot vectorize.
constexpr double kRoundMagic = 6755399441055744.0;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split for exact k * ln2
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kLog2e = 1.44269504088896338700e+00;
constexpr double kExpMin = -708.0;  // below this exp_poly returns exactly 0 (incl. -inf, NaN)
constexpr double kExpMax = 709.0;   // above this it saturates at e^709

// e^x for any x: 0 for x < -708 or NaN, e^709 for x > 709, else with relative error < 2e-14
// (ample for a lattice whose results are rounded to float). Range reduction x = k ln2 + r,
// |r| <= ln2/2, then a degree-11 Taylor polynomial for e^r (truncation 0.347^12/12! = 6e-15).
DS2_HOSTDEVICE DS2_FORCE_INLINE double exp_poly(double x) {
  // Selects are between constants only, so g++ if-converts (vectorizes) loops over this under
  // its default -ftrapping-math.
  const double keep = x >= kExpMin ? 1.0 : 0.0;  // 0 also for NaN
  x = x > kExpMin ? x : kExpMin;
  x = x < kExpMax ? x : kExpMax;
  const double kd_magic = x * kLog2e + kRoundMagic;
  const double kd = kd_magic - kRoundMagic;
  const int64_t k = bits_of(kd_magic) - bits_of(kRoundMagic);
  const double r = (x - kd * kLn2Hi) - kd * kLn2Lo;
  double p = 1.0 / 39916800.0;  // 1/11!
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const double scale = double_of((k + 1023) << 52);  // 2^k, k in [-1022, 1023]
  return p * scale * keep;
}

// e^x in float for x in [-87, 88] (clamped to it outside, and NaN is taken as -87: callers that
// must propagate NaN test for it), relative error < 4e-7 (float rounding of the steps below; the
// polynomial's truncation is 0.347^8/8! = 5e-9). x = k ln2 + r with ln2 split so that k ln2_hi is
// exact (ln2_hi has 9 significant bits, |k| <= 127), then a degree-7 Taylor polynomial for e^r.
DS2_HOSTDEVICE DS2_FORCE_INLINE float exp_polyf(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23, the float analogue of kRoundMagic
  constexpr float kLn2HiF = 0.693359375f, kLn2LoF = -2.12194440054690583e-4f;
  x = x > -87.0f ? x : -87.0f;
  x = x < 88.0f ? x : 88.0f;
  const float kd_magic = x * 1.44269504088896341f + kMagic;
  const float kd = kd_magic - kMagic;
  const int32_t k = bits_of(kd_magic) - bits_of(kMagic);
  const float r = (x - kd * kLn2HiF) - kd * kLn2LoF;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * float_of((k + 127) << 23);  // 2^k, k in [-126, 127]
}

// ln x for positive normal x (the caller guarantees it; CTC calls it on [1, 3]), absolute error
// < 1e-14. x = 2^e m with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(z), z = (m-1)/(m+1),
// |z| <= 0.1716, summed to z^17 (truncation 0.1716^19/19 = 1.5e-16).
DS2_HOSTDEVICE DS2_FORCE_INLINE double log_poly(double x) {
  const int64_t b = bits_of(x);
  const int64_t e = (b >> 52) - 1023;
  double m = double_of((b & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);  // [1, 2)
  const bool big = m > 1.41421356237309504880;
  m *= big ? 0.5 : 1.0;
  // int64 -> double for |e| < 2^31 without cvtsi2sd (vectorizes on SSE2): same magic trick.
  const double ed = double_of(bits_of(kRoundMagic) + e) - kRoundMagic + (big ? 1.0 : 0.0);
  const double z = (m - 1.0) / (m + 1.0);
  const double w = z * z;
  double p = 1.0 / 17;
  p = p * w + 1.0 / 15;
  p = p * w + 1.0 / 13;
  p = p * w + 1.0 / 11;
  p = p * w + 1.0 / 9;
  p = p * w + 1.0 / 7;
  p = p * w + 1.0 / 5;
  p = p * w + 1.0 / 3;
  const double lm = 2.0 * z + 2.0 * z * w * p;
  return ed * kLn2Hi + (lm + ed * kLn2Lo);
}

// log(e^a + e^b + e^c). Any argument may be -inf; all three -inf gives -inf. Branch-free.
DS2_HOSTDEVICE DS2_FORCE_INLINE double log_sum_exp3(double a, double b, double c) {
  const double hi = a > b ? a : b;
  const double lo = a > b ? b : a;
  const double m = hi > c ? hi : c;
  const double mid = hi > c ? c : hi;
  // exp_poly(-inf) = 0 and exp_poly(NaN) = 0 (m = -inf), so the sum stays in [1, 3].
  const double r = m + log_poly(1.0 + exp_poly(lo - m) + exp_poly(mid - m));
  return m == kNegInf ? kNegInf : r;  // r is NaN there
}

// ---- CTC recursion cells (see the block comment in model/ctc.h) ------------------------------
//
// Extended label l' of length S = 2L + 1: l'_s = blank for even s, labels[(s - 1) / 2] for odd s.
// skip_pen[s] = 0 when the transition s-2 -> s is allowed (s odd, s >= 3, l'_s != l'_{s-2}),
// -inf otherwise; skip_pen has S + 2 entries (the last two -inf) so beta can read s + 2.
// Rows of alpha / beta hold log values at indices -2 .. S+1 (callers pad two -inf cells on each
// side of the band [lo, hi) they computed), emit[s] = log softmax_t(l'_s).

// Band of states that lie on some complete alignment at frame t of T: s >= S - 2(T - t) (can
// still reach the last two states) and s < 2t + 2 (reachable from the first two).
DS2_HOSTDEVICE inline int ctc_band_lo(int S, int T, int t) {
  const int lo = S - 2 * (T - t);
  return lo > 0 ? lo : 0;
}
DS2_HOSTDEVICE inline int ctc_band_hi(int S, int t) {
  const int hi = 2 * t + 2;
  return hi < S ? hi : S;
}

// log alpha_t(s) from row t-1: paths ending in state s at frame t (emission at t included).
DS2_HOSTDEVICE DS2_FORCE_INLINE double ctc_alpha_cell(const double* prev, const double* skip_pen,
                                                      const double* emit, int s) {
  return log_sum_exp3(prev[s], prev[s - 1], prev[s - 2] + skip_pen[s]) + emit[s];
}

// log beta_t(s) from row t+1: paths from state s at frame t to the end (emission at t included).
DS2_HOSTDEVICE DS2_FORCE_INLINE double ctc_beta_cell(const double* next, const double* skip_pen,
                                                     const double* emit, int s) {
  return log_sum_exp3(next[s], next[s + 1], next[s + 2] + skip_pen[s + 2]) + emit[s];
}

// Posterior of state s at frame t: alpha_t(s) beta_t(s) / (y_t(l'_s) p(l|x)); the emission is
// counted in both alpha and beta, hence the - emit. 0 off the lattice.
DS2_HOSTDEVICE DS2_FORCE_INLINE double ctc_posterior(double log_alpha, double log_beta, double emit,
                                                     double log_p) {
  return exp_poly(log_alpha + log_beta - emit - log_p);
}

}  // namespace ds2::model::detail
