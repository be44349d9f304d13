// The CUDA backend: cuBLAS for every GEMM, one small kernel family per model/cuda/*.cu file for
// the rest (same file names as model/cpu/). All work is queued on one stream owned by the backend,
// in call order; download() (and ctc_loss, which returns host costs) synchronize with it, so a
// caller that only exchanges data through upload/download sees the CPU backend's semantics.
//
// Memory: alloc/free go through a caching pool (DevicePool, pool.h): a freed block is kept
// for reuse by a later alloc of the same rounded size, so the per-step Buffer::ensure /
// temporary allocations never reach cudaMalloc once the shapes have been seen. Blocks are
// returned to CUDA when the backend is destroyed (or when cudaMalloc fails and the cache is
// trimmed). Reuse is safe without events because every op runs on the backend's one stream.
//
// This header is compiled by the host compiler in model/ (the factory) and must not include CUDA
// headers: the stream and cuBLAS handle are forward-declared opaque pointers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

struct CUstream_st;
struct cublasContext;

namespace ds2::model::cuda {

class DevicePool;
struct DevLengths;  // common.cuh

class CudaBackend final : public Backend {
 public:
  // Uses the current CUDA device (cudaGetDevice). tf32: let cuBLAS use TF32 tensor cores for the
  // fp32 GEMMs (about 1e-3 relative error per product; off by default). Throws CudaError when no
  // device is usable.
  explicit CudaBackend(bool tf32 = false);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  // CUDA devices usable by this process; 0 with *why set to the CUDA error (or "no CUDA device")
  // when there is none, e.g. on a machine without a GPU or driver. Never throws.
  static int device_count(std::string* why);
  // Makes device `gpu` current for the calling thread (cudaSetDevice); CudaError on failure.
  static void use_device(int gpu);
  // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" for logs; the CUDA error text when it fails.
  static std::string device_label(int gpu);

  Device device() const override { return Device::kCuda; }
  int num_threads() const override { return 1; }
  int device_index() const override { return device_; }
  // Blocks until all queued work has finished; rethrows a kernel fault as CudaError.
  void synchronize();
  // Bytes held by the pool (in use + cached) and the number of cudaMalloc calls so far.
  size_t pool_bytes() const;
  size_t pool_mallocs() const;

  float* alloc(size_t n) override;
  void free(float* p) override;
  void upload(float* dst, const float* src, size_t n) override;
  void download(float* dst, const float* src, size_t n) override;
  // Device to device; also accepts a host pointer on either side (unified addressing).
  void copy(float* dst, const float* src, size_t n) override;
  void fill(float* x, size_t n, float value) override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override;
  size_t prepared_size(int k, int n) const override { return static_cast<size_t>(k) * n; }
  void prepare_b(bool trans, int k, int n, const float* b, int ldb, float* prepared) override;
  void gemm_prepared(int m, int n, int k, const float* a, int lda, const float* prepared,
                     float beta, float* c, int ldc) override;
  void axpy(size_t n, float alpha, const float* x, float* y) override;
  void add_bias(float* y, const float* bias, int rows, int cols) override;
  void bias_grad(const float* dy, int rows, int cols, float* db) override;

  void clipped_relu(float* x, size_t n, float clip) override;
  void clipped_relu_backward(const float* y, float* dy, size_t n, float clip) override;
  void mask_rows(float* x, int t0, int t, int n, int d, const int32_t* lengths) override;
  void mask_maps(float* x, int n, int c, int t, int f, const int32_t* lengths) override;
  void maps_to_rows(const float* x, float* y, int n, int c, int t, int f) override;
  void rows_to_maps(const float* y, float* x, int n, int c, int t, int f) override;
  void softmax(const float* x, float* y, int rows, int cols) override;

  void bn_forward_train(const BnLayout& l, const float* x, const float* gamma, const float* beta,
                        float eps, float momentum, float* y, float* save_mean, float* save_invstd,
                        float* running_mean, float* running_var) override;
  void bn_forward_infer(const BnLayout& l, const float* x, const float* gamma, const float* beta,
                        const float* running_mean, const float* running_var, float eps,
                        float* y) override;
  void bn_backward(const BnLayout& l, const float* x, const float* dy, const float* gamma,
                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                   float* dbeta) override;

  void im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) override;
  void col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) override;
  void conv_tap_add(const float* p, int c, int kt, int s0, int m, int pt, int t_out, int f,
                    float* z, int ldz) override;
  void conv_tap_gather(const float* dz, int ldz, int c, int kt, int s0, int m, int pt, int t_out,
                       int f, float* dp) override;

  void rnn_step_forward(int t, int n, int h, const int32_t* lengths, const float* a,
                        const float* uh, float clip, float* hout) override;
  void rnn_step_backward(int t, int n, int h, const int32_t* lengths, const float* hout,
                         const float* dh, float clip, float* da) override;
  void gru_step_forward(int t, int n, int h, const int32_t* lengths, const float* xg,
                        const float* uh, const float* h_prev, float* hout, float* saved) override;
  void gru_step_backward(int t, int n, int h, const int32_t* lengths, const float* h_prev,
                         const float* saved, const float* dh, float* dxg, float* duh,
                         float* dh_prev) override;
  void lookahead_forward(const float* x, const float* w, int t, int n, int d, int tau,
                         const int32_t* lengths, float* y) override;
  void lookahead_backward(const float* x, const float* w, const float* dy, int t, int n, int d,
                          int tau, const int32_t* lengths, float* dx, float* dw) override;

  void scale(float* x, size_t n, float alpha) override;
  double sum_squares(const float* x, size_t n) override;
  void sgd_nesterov(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                    float wd) override;
  void broadcast_rows(float* y, const float* row, int rows, int cols) override;

  // Pinned host memory (cudaMallocHost). Events are cudaEvent_t (timing disabled) recorded on
  // the compute stream. Transfers run on a second stream (transfer_stream_) and synchronize it.
  float* alloc_host(size_t n) override;
  void free_host(float* p) override;
  void* create_event() override;
  void destroy_event(void* e) override;
  void record_event(void* e) override;
  void wait_event(void* e) override;
  bool event_done(void* e) override;
  void transfer_download(float* host_dst, const float* src, size_t n) override;
  void transfer_upload(float* dst, const float* host_src, size_t n) override;
  // The compute stream, for a caller that queues its own work after the backend's (NCCL).
  CUstream_st* stream() const { return stream_; }

  // Workspace in DEVICE memory (the caller allocates it with alloc()).
  size_t ctc_workspace_bytes(const CtcShape& shape) override;
  void ctc_loss(const float* act, float* grad, const int32_t* labels, const int32_t* label_lengths,
                const int32_t* input_lengths, const CtcShape& shape, float* costs,
                uint8_t* impossible, void* workspace) override;

 private:
  // The lengths argument of a kernel: inline up to kInlineBatch utterances, else a cached device
  // copy (common.cuh).
  DevLengths dev_lengths(const int32_t* lengths, int n);
  struct LengthsCopy {
    std::vector<int32_t> host;
    int32_t* dev = nullptr;  // pool block
    uint64_t last_use = 0;
  };
  std::array<LengthsCopy, 4> len_cache_;
  uint64_t len_tick_ = 0;

  int device_ = 0;
  CUstream_st* stream_ = nullptr;
  CUstream_st* transfer_stream_ = nullptr;
  double* sum_scratch_ = nullptr;  // sum_squares partials (device), kSumBlocks + 1 doubles
  cublasContext* cublas_ = nullptr;
  std::unique_ptr<DevicePool> pool_;
};

}  // namespace ds2::model::cuda
