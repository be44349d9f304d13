// Connectionist Temporal Classification loss (Graves et al. 2006) on the CPU, with gradients
// w.r.t. the pre-softmax activations.
//
// Algorithm. For one utterance with T frames, softmax outputs y_t(c) and label sequence l of
// length L, let l' be the extended sequence of length S = 2L + 1 with blanks interleaved:
// l' = (blank, l_1, blank, l_2, ..., l_L, blank). An alignment is a path pi of T symbols that
// maps to l after collapsing repeats and removing blanks; p(l|x) = sum_pi prod_t y_t(pi_t).
// In the lattice of (t, s), a path at state s at frame t moves at t+1 to s (repeat), s+1, or
// s+2 -- the skip s -> s+2 is allowed only when l'_{s+2} is a label distinct from l'_s (it
// jumps over a blank between two different labels; between equal labels the blank is needed).
//
//   alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l_1), alpha_0(s >= 2) = 0
//   alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip] alpha_{t-1}(s-2)) * y_t(l'_s)
//   beta_{T-1}(S-1) = y_{T-1}(blank), beta_{T-1}(S-2) = y_{T-1}(l_L), others 0
//   beta_t(s)  = (beta_{t+1}(s) + beta_{t+1}(s+1) + [skip] beta_{t+1}(s+2)) * y_t(l'_s)
//   p(l|x) = alpha_{T-1}(S-1) + alpha_{T-1}(S-2);   loss = -log p(l|x)
//
// Both alpha_t(s) and beta_t(s) include the emission y_t(l'_s), so the posterior of state s at
// frame t is gamma_t(s) = alpha_t(s) beta_t(s) / (y_t(l'_s) p). Through the softmax, the
// gradient w.r.t. the pre-softmax activations is
//   grad[t,c] = softmax[t,c] - sum_{s: l'_s = c} gamma_t(s)
//             = softmax[t,c] - exp(log(sum_{s: l'_s = c} alpha_t(s) beta'_t(s)) - log p(l|x))
// with beta'_t(s) = beta_t(s) / y_t(l'_s), the paths from (t, s) excluding the emission at t.
//
// Everything is computed in log space in double precision (model/detail/math.h), with
// log-sum-exp of the three predecessors; the log-softmax of each frame is computed once
// (max-subtracted) into the workspace. Only states on some complete alignment are visited: at
// frame t, s lies in the band [max(0, S - 2(T - t)), min(S, 2t + 2)). The alpha table is kept
// (T x S), beta only for two frames: the gradient of frame t is accumulated while beta runs
// backwards, first per state into gamma, then summed per class in one pass over C.
//
// A label sequence needs at least L + (number of equal adjacent labels) frames; with fewer the
// utterance has no alignment: its cost is +inf, impossible[n] = 1 and its gradient is zero.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ds2::model {

// Batch geometry: activations are (max_time, batch, alphabet); label sequences are at most
// max_label long. alphabet counts the blank.
struct CtcShape {
  int max_time = 0;
  int batch = 0;
  int alphabet = 0;
  int max_label = 0;
};

// Instruction sets the CPU kernel is built for (x86-64 builds with g++ or clang; elsewhere only
// kBaseline). kAuto picks the widest this CPU runs; the others exist for tests and benchmarks.
enum class CtcCpuIsa { kAuto, kBaseline, kAvx2, kAvx512 };

// Whether this build and this CPU can run `isa`.
bool ctc_cpu_isa_available(CtcCpuIsa isa);

// Bytes of caller-owned workspace for ctc_loss_cpu at this shape: one slot per utterance of
// about 8 * max_time * (2 * max_label + 13 + alphabet) bytes (the double alpha table and
// log-softmax; 2.2 MB at T = 700, L = 175, C = 29), so that any thread count can use it. Any call
// whose shape fits in a larger one can reuse its workspace, so cache by the maximum shape. Host
// memory, no alignment needed.
size_t ctc_cpu_workspace_bytes(const CtcShape& shape);

// The argument checks every backend's CTC makes before touching memory: shape, blank index,
// lengths within [0, max], non-null buffers, labels inside the alphabet and not the blank.
// Throws ConfigError naming the utterance and the field. Host pointers (labels, lengths).
void ctc_check_inputs(const void* act, const int32_t* labels, const int32_t* label_lengths,
                      const int32_t* input_lengths, const CtcShape& shape, const void* costs,
                      const uint8_t* impossible, int blank);

// CTC loss and gradient for a batch, all pointers in host memory.
//   act            pre-softmax activations, (T, N, C) row-major: act[(t * N + n) * C + c]; only
//                  t < input_lengths[n] is read (padding may hold anything, even NaN).
//   grad           nullable; d costs[n] / d act, same layout; zero for t >= input_lengths[n].
//   labels         the N label sequences concatenated (no blanks; values in [0, C) other than
//                  blank), label_lengths[n] each.
//   input_lengths  frames per utterance, each in [0, max_time].
//   costs[n]       -log p(labels_n | x_n) in nats; +inf when the utterance has no alignment.
//   impossible[n]  1 when it has no alignment (then its gradient is zero), else 0. An activation
//                  of -inf is probability 0 (all paths 0: impossible); NaN or +inf in a valid
//                  frame is not checked and gives a NaN cost.
//   workspace      ctc_cpu_workspace_bytes(shape) bytes (or more), owned by the caller.
//   num_threads    OpenMP threads over the batch; <= 0: OpenMP's default (OMP_NUM_THREADS).
//   blank          index of the blank symbol.
//   isa            kernel to run (results agree to ~1e-15 relative; FMA rounds differently).
// Throws ConfigError on an invalid shape, a negative or too long length, a label out of range
// or equal to blank, a missing buffer, or an unavailable isa; nothing is written then.
// Instantiated for float (the training path) and double (gradient checks); the lattice is
// double in both.
template <typename Real>
void ctc_loss_cpu(const Real* act, Real* grad, const int32_t* labels, const int32_t* label_lengths,
                  const int32_t* input_lengths, const CtcShape& shape, Real* costs,
                  uint8_t* impossible, void* workspace, int num_threads = 0, int blank = 0,
                  CtcCpuIsa isa = CtcCpuIsa::kAuto);

extern template void ctc_loss_cpu<float>(const float*, float*, const int32_t*, const int32_t*,
                                         const int32_t*, const CtcShape&, float*, uint8_t*, void*,
                                         int, int, CtcCpuIsa);
extern template void ctc_loss_cpu<double>(const double*, double*, const int32_t*, const int32_t*,
                                          const int32_t*, const CtcShape&, double*, uint8_t*, void*,
                                          int, int, CtcCpuIsa);

// Minimum frames for an alignment of `labels` (L plus one per pair of equal adjacent labels).
int ctc_min_frames(const int32_t* labels, int label_length);

}  // namespace ds2::model
