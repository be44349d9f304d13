// The operations the DS2 network needs, as one interface with one implementation per device:
// model/cpu/ (OpenBLAS sgemm + OpenMP loops; the reference) and model/cuda/ (cuBLAS and custom
// kernels; built with DS2_CUDA=ON, or AUTO when a toolkit is found) with the same file names.
// Layers (model/*.cc) call only these operations, so they run on any backend.
//
// Conventions for every op: matrices are row-major; float pointers live in the backend's
// memory space (host for cpu); `lengths` arrays (int32 per utterance) are always HOST memory;
// an op that "accumulates" adds into its output, every other op overwrites it. Positions that
// are padding (frame t >= lengths[n]) are written as zero by every op that takes lengths.
// Ops run synchronously with respect to the caller on the CPU backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ds2::model {

struct CtcShape;  // model/ctc.h

enum class Device { kCpu, kCuda };

// "cpu" or "cuda"; anything else is a ConfigError naming the value.
Device parse_device(const std::string& name);
std::string device_name(Device d);

// Geometry of a 2-D convolution over (C, T, F) maps; kernel kt x kf, stride st x sf,
// zero padding pt frames before and after in time and pf bins on both sides in frequency.
struct ConvGeom {
  int c_in = 1, t_in = 0, f_in = 0;
  int c_out = 1, kt = 1, kf = 1, st = 1, sf = 1, pt = 0, pf = 0;
  int t_out() const { return (t_in + 2 * pt - kt) / st + 1; }
  int f_out() const { return (f_in + 2 * pf - kf) / sf + 1; }
  int col_rows() const { return c_in * kt * kf; }  // K of the conv GEMM
};

// Batch-norm layout and validity mask.
//   kRows:     x is (T * N, C) time-major rows; row t * N + n is valid iff t < lengths[n].
//   kChannels: x is (N, C, T, F); element (n, c, t, f) is valid iff t < lengths[n].
// Statistics are per channel C over the valid positions only.
struct BnLayout {
  enum Kind { kRows, kChannels } kind = kRows;
  int n = 1, c = 1, t = 1, f = 1;
  const int32_t* lengths = nullptr;  // host, n entries
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  // Threads used by this backend's loops and its BLAS (cpu); 1 for cuda.
  virtual int num_threads() const = 0;
  // The CUDA device index the backend runs on; -1 for the CPU.
  virtual int device_index() const { return -1; }

  // ---- memory ----
  virtual float* alloc(size_t n) = 0;  // n floats, 64-byte aligned; throws on failure
  virtual void free(float* p) = 0;
  virtual void upload(float* dst, const float* host_src, size_t n) = 0;
  virtual void download(float* host_dst, const float* src, size_t n) = 0;
  // The n floats at src (this backend's memory) readable on the host: src itself on the CPU
  // backend (no copy), else a download into *buf (resized to n).
  const float* host_view(const float* src, size_t n, std::vector<float>* buf) {
    if (device() == Device::kCpu) return src;
    buf->resize(n);
    download(buf->data(), src, n);
    return buf->data();
  }
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  virtual void fill(float* x, size_t n, float value) = 0;

  // ---- BLAS-like ----
  // C(m, n) = alpha * op(A) * op(B) + beta * C; op(A) is (m, k), op(B) is (k, n).
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc) = 0;
  virtual void axpy(size_t n, float alpha, const float* x, float* y) = 0;  // y += alpha x
  // Products against one right-hand side many times over (the recurrent steps' h_{t-1} U, T per
  // layer and direction): prepare_b stores op(B) (k, n) of the row-major `b` once, in this
  // backend's layout (prepared_size(k, n) floats), and gemm_prepared computes
  // C(m, n) = A(m, k) op(B) + beta C with it, beta 0 or 1, for small m. CPU: B packed in
  // panels for its own kernel (model/cpu/gemm_prepared.h); CUDA: op(B) row-major, cuBLAS.
  virtual size_t prepared_size(int k, int n) const = 0;
  virtual void prepare_b(bool trans, int k, int n, const float* b, int ldb, float* prepared) = 0;
  virtual void gemm_prepared(int m, int n, int k, const float* a, int lda, const float* prepared,
                             float beta, float* c, int ldc) = 0;
  // y(rows, cols) += bias(cols) broadcast over rows.
  virtual void add_bias(float* y, const float* bias, int rows, int cols) = 0;
  // db(cols) += column sums of dy(rows, cols).
  virtual void bias_grad(const float* dy, int rows, int cols, float* db) = 0;

  // ---- elementwise ----
  virtual void clipped_relu(float* x, size_t n, float clip) = 0;  // x = min(max(x, 0), clip)
  // dy *= (0 < y < clip), y the forward output.
  virtual void clipped_relu_backward(const float* y, float* dy, size_t n, float clip) = 0;
  // Zeroes padded rows of a time-major (T, N, D) tensor (rows t = t0 .. t0 + T - 1).
  virtual void mask_rows(float* x, int t0, int t, int n, int d, const int32_t* lengths) = 0;
  // Zeroes padded frames of an (N, C, T, F) tensor.
  virtual void mask_maps(float* x, int n, int c, int t, int f, const int32_t* lengths) = 0;
  // (N, C, T, F) <-> (T, N, C * F), feature index c * F + f.
  virtual void maps_to_rows(const float* x, float* y, int n, int c, int t, int f) = 0;
  virtual void rows_to_maps(const float* y, float* x, int n, int c, int t, int f) = 0;
  // Row-wise softmax of x(rows, cols) into y (may alias x).
  virtual void softmax(const float* x, float* y, int rows, int cols) = 0;

  // ---- batch norm (see BnLayout); eps added to the biased variance ----
  // Training: batch statistics over valid positions. mean/invstd (C) are saved for backward;
  // running stats (C, may be null) become (1 - momentum) * running + momentum * batch (biased
  // variance). A channel with no valid position uses mean 0, variance 1.
  virtual void bn_forward_train(const BnLayout& l, const float* x, const float* gamma,
                                const float* beta, float eps, float momentum, float* y,
                                float* save_mean, float* save_invstd, float* running_mean,
                                float* running_var) = 0;
  virtual void bn_forward_infer(const BnLayout& l, const float* x, const float* gamma,
                                const float* beta, const float* running_mean,
                                const float* running_var, float eps, float* y) = 0;
  // dx overwritten (null: skipped); dgamma, dbeta accumulate. dy at padded positions ignored.
  virtual void bn_backward(const BnLayout& l, const float* x, const float* dy, const float* gamma,
                           const float* save_mean, const float* save_invstd, float* dx,
                           float* dgamma, float* dbeta) = 0;

  // ---- convolution helpers (one utterance's (C, T, F) map; output frames [t0, t0 + nt)) ----
  // col(K, nt * F') with K = c_in * kt * kf ordered (kt, c_in, kf); column (t' - t0) F' + f'.
  // t0 may be negative (frames outside [0, T) read as zero padding).
  virtual void im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) = 0;
  // dx(C, T, F) += the scatter of col (accumulates).
  virtual void col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) = 0;

  // Time-tap helpers of the stride-1 convolution (conv.cc). p holds, for the m input frames
  // s0 .. s0 + m - 1, every tap's partial output: rows (c, i), i < kt, of m F columns. Tap i of
  // input frame s belongs to output frame s + pt - i:
  // z[c, (s + pt - i) F + f] += p[c kt + i, (s - s0) F + f] wherever 0 <= s + pt - i < t_out,
  // adding each output element's taps in increasing i (z has leading dim ldz).
  virtual void conv_tap_add(const float* p, int c, int kt, int s0, int m, int pt, int t_out, int f,
                            float* z, int ldz) = 0;
  // The adjoint: dp[c kt + i, (s - s0) F + f] = dz[c, (s + pt - i) F + f] where
  // 0 <= s + pt - i < t_out, else 0.
  virtual void conv_tap_gather(const float* dz, int ldz, int c, int kt, int s0, int m, int pt,
                               int t_out, int f, float* dp) = 0;

  // ---- recurrent steps for one time step t of a batch of n rows, hidden size h ----
  // Simple RNN: hout = clip_relu(a + uh), a and uh (n, h); padded rows -> 0.
  virtual void rnn_step_forward(int t, int n, int h, const int32_t* lengths, const float* a,
                                const float* uh, float clip, float* hout) = 0;
  // da = dh * (0 < hout < clip); padded rows -> 0.
  virtual void rnn_step_backward(int t, int n, int h, const int32_t* lengths, const float* hout,
                                 const float* dh, float clip, float* da) = 0;
  // GRU (gate order z, r, c): xg = input part (n, 3h), uh = U h_prev + b (n, 3h).
  //   z = sig(xz + uz), r = sig(xr + ur), c = tanh(xc + r * uc), h = (1 - z) c + z h_prev.
  // saved (n, 4h) keeps z, r, c, uc for the backward step. Padded rows: h = 0, saved = 0.
  virtual void gru_step_forward(int t, int n, int h, const int32_t* lengths, const float* xg,
                                const float* uh, const float* h_prev, float* hout,
                                float* saved) = 0;
  // From dh (n, h), the total gradient at h_t: dxg (n, 3h) for the input part, duh (n, 3h) for
  // U h_prev + b, and dh_prev = dh * z (the direct path; the caller adds duh U^T). Padded rows 0.
  virtual void gru_step_backward(int t, int n, int h, const int32_t* lengths, const float* h_prev,
                                 const float* saved, const float* dh, float* dxg, float* duh,
                                 float* dh_prev) = 0;

  // Runs task(0) .. task(count - 1), which must write disjoint memory, and returns when all are
  // done. The CPU backend runs them concurrently when it has 2 or more threads, each task on ONE
  // thread (ops called inside a task run single-threaded there: nested OpenMP regions are
  // inactive); with more threads than tasks the rest wait. Meant for chains of small ops that
  // cannot use the threads themselves (the recurrent steps of two directions). Results do not
  // depend on it: an op computes the same bits on one thread as on many. The default (and a
  // device backend) runs the tasks in order.
  virtual void parallel_tasks(int count, const std::function<void(int)>& task) {
    for (int i = 0; i < count; ++i) task(i);
  }

  // ---- lookahead (row) convolution on (T, N, D): y[t] = sum_j w[j] * x[t + j], j = 0..tau,
  // terms with t + j >= lengths[n] dropped; w is (tau + 1, D). ----
  virtual void lookahead_forward(const float* x, const float* w, int t, int n, int d, int tau,
                                 const int32_t* lengths, float* y) = 0;
  // dx overwritten, dw accumulates.
  virtual void lookahead_backward(const float* x, const float* w, const float* dy, int t, int n,
                                  int d, int tau, const int32_t* lengths, float* dx, float* dw) = 0;

  // ---- whole-arena arithmetic of a training step (train/: gradient averaging, clipping and
  // the optimizer run here, so parameters, gradients and momentum never leave the device) ----
  virtual void scale(float* x, size_t n, float alpha) = 0;  // x *= alpha
  // sum of x[i]^2 accumulated in double; returns on the host (a device backend synchronizes).
  // CPU: one sequential pass (deterministic, the reference); CUDA: a fixed-grid tree in double
  // (deterministic too, a different order).
  virtual double sum_squares(const float* x, size_t n) = 0;
  // SGD with Nesterov momentum (train/optimizer.h), elementwise in float:
  //   g = grad + wd p;  v = mu v + g;  p -= lr (g + mu v).
  virtual void sgd_nesterov(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                            float wd) = 0;
  // y(rows, cols) = row(cols) in every row (the recurrent step's bias, one op for the batch).
  virtual void broadcast_rows(float* y, const float* row, int rows, int cols) = 0;

  // ---- host staging, events, transfers for another thread (the all-reduce's) ----
  // n floats of HOST memory, page-locked on a device backend (fast DMA; what the ring all-reduce
  // stages device gradients through), plain aligned memory on the CPU.
  virtual float* alloc_host(size_t n) = 0;
  virtual void free_host(float* p) = 0;
  // Events mark a point in the backend's queue of work. record_event(e): e completes when every
  // op called so far has finished (the CPU backend runs ops synchronously: always complete).
  // wait_event blocks the calling thread until then; event_done polls. Events come from
  // create_event and are reused (record again); destroy_event releases one. Any thread may wait.
  virtual void* create_event() = 0;
  virtual void destroy_event(void* e) = 0;
  virtual void record_event(void* e) = 0;
  virtual void wait_event(void* e) = 0;
  virtual bool event_done(void* e) = 0;
  // Synchronous copies between backend memory and host memory that do NOT queue behind the
  // compute ops (a device backend uses a second stream): for the all-reduce thread, which calls
  // them after wait_event on the ops that wrote `src`. Safe to call from one other thread while
  // the owner keeps queueing ops.
  virtual void transfer_download(float* host_dst, const float* src, size_t n) = 0;
  virtual void transfer_upload(float* dst, const float* host_src, size_t n) = 0;

  // ---- CTC (model/ctc.h); act, grad in backend memory, the rest host ----
  virtual size_t ctc_workspace_bytes(const CtcShape& shape) = 0;
  virtual void ctc_loss(const float* act, float* grad, const int32_t* labels,
                        const int32_t* label_lengths, const int32_t* input_lengths,
                        const CtcShape& shape, float* costs, uint8_t* impossible,
                        void* workspace) = 0;
};

// The backend for `device` with `num_threads` threads (0: omp_get_max_threads(), i.e. the
// OMP_NUM_THREADS setting). The CPU backend runs all its work, GEMMs included, on that many
// OpenMP threads and sets OpenBLAS's own pool to 1 (process-wide), so ranks sharing a node do
// not oversubscribe when each gets its share. Asking for cuda in a build without the CUDA
// backend throws ConfigError.
std::unique_ptr<Backend> make_backend(Device device, int num_threads = 0);

}  // namespace ds2::model
