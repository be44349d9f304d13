// CUDA backend: construction (stream, cuBLAS handle, pool), memory, and the host wrappers of the
// elementwise, batch-norm, convolution and recurrent kernels (*.cu). Each wrapper checks the
// launch with DS2_CUDA_CHECK; kernel faults surface at the next synchronizing call.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>

#include "model/cuda/batch_norm.cuh"
#include "model/cuda/check.h"
#include "model/cuda/cuda_backend.h"
#include "model/cuda/elementwise.cuh"
#include "model/cuda/im2col.cuh"
#include "model/cuda/optimizer.cuh"
#include "model/cuda/pool.h"
#include "model/cuda/rnn.cuh"

namespace ds2::model::cuda {

int CudaBackend::device_count(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = fmt::format("{} ({})", cudaGetErrorString(e), cudaGetErrorName(e));
    return 0;
  }
  if (count == 0 && why) *why = "no CUDA device";
  return count;
}

DevLengths CudaBackend::dev_lengths(const int32_t* lengths, int n) {
  DS2_REQUIRE(n >= 0, ConfigError, "cuda backend: batch of {} utterances", n);
  DevLengths d;
  d.ptr = nullptr;
  if (n <= kInlineBatch) {
    std::copy(lengths, lengths + n, d.v);
    return d;
  }
  // Large batches: a device copy per distinct lengths array, cached (a layer passes the same
  // array to every time step, so an RNN over T frames uploads it once, not T times).
  ++len_tick_;
  for (LengthsCopy& c : len_cache_) {
    if (c.host.size() == static_cast<size_t>(n) &&
        std::equal(lengths, lengths + n, c.host.begin())) {
      c.last_use = len_tick_;
      d.ptr = c.dev;
      return d;
    }
  }
  LengthsCopy* slot = &len_cache_[0];
  for (LengthsCopy& c : len_cache_)
    if (c.last_use < slot->last_use) slot = &c;
  // The old block goes back to the pool: reused only in stream order, after its last kernel.
  if (slot->dev) pool_->free(slot->dev);
  slot->dev = nullptr;
  slot->dev = static_cast<int32_t*>(pool_->alloc(static_cast<size_t>(n) * sizeof(int32_t)));
  slot->host.assign(lengths, lengths + n);
  slot->last_use = len_tick_;
  // From the cached host copy (it outlives the asynchronous copy).
  DS2_CUDA_CHECK(cudaMemcpyAsync(slot->dev, slot->host.data(), n * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
  d.ptr = slot->dev;
  return d;
}

void CudaBackend::use_device(int gpu) { DS2_CUDA_CHECK(cudaSetDevice(gpu)); }

std::string CudaBackend::device_label(int gpu) {
  cudaDeviceProp prop{};
  const cudaError_t e = cudaGetDeviceProperties(&prop, gpu);
  if (e != cudaSuccess) return cudaGetErrorString(e);
  return fmt::format("{}, sm_{}{}, {:.1f} GiB", prop.name, prop.major, prop.minor,
                     static_cast<double>(prop.totalGlobalMem) / (1 << 30));
}

CudaBackend::CudaBackend(bool tf32) {
  int count = 0;
  DS2_CUDA_CHECK(cudaGetDeviceCount(&count));
  DS2_REQUIRE(count > 0, CudaError, "cuda backend: no CUDA device");
  DS2_CUDA_CHECK(cudaGetDevice(&device_));
  cudaStream_t s = nullptr;
  DS2_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  stream_ = s;
  cudaStream_t ts = nullptr;
  DS2_CUDA_CHECK(cudaStreamCreateWithFlags(&ts, cudaStreamNonBlocking));
  transfer_stream_ = ts;
  cublasHandle_t h = nullptr;
  const cublasStatus_t st = cublasCreate(&h);
  if (st != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(s);
    DS2_THROW(CudaError, "cublasCreate failed: {}", cublasGetStatusString(st));
  }
  cublas_ = h;
  DS2_CUBLAS_CHECK(cublasSetStream(h, s));
  DS2_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  pool_ = std::make_unique<DevicePool>();
}

CudaBackend::~CudaBackend() {
  cudaStreamSynchronize(stream_);  // best effort: destructors do not throw
  cudaStreamSynchronize(transfer_stream_);
  if (sum_scratch_) cudaFree(sum_scratch_);
  for (LengthsCopy& c : len_cache_) c.dev = nullptr;  // the pool frees every block
  pool_.reset();
  cublasDestroy(cublas_);
  cudaStreamDestroy(transfer_stream_);
  cudaStreamDestroy(stream_);
}

void CudaBackend::scale(float* x, size_t n, float alpha) {
  DS2_CUDA_CHECK(launch_scale(stream_, x, n, alpha));
}
double CudaBackend::sum_squares(const float* x, size_t n) {
  if (!sum_scratch_)
    DS2_CUDA_CHECK(
        cudaMalloc(reinterpret_cast<void**>(&sum_scratch_), (kSumBlocks + 1) * sizeof(double)));
  DS2_CUDA_CHECK(launch_sum_squares(stream_, x, n, sum_scratch_));
  double s = 0;
  DS2_CUDA_CHECK(cudaMemcpyAsync(&s, sum_scratch_ + kSumBlocks, sizeof(double),
                                 cudaMemcpyDeviceToHost, stream_));
  synchronize();
  return s;
}
void CudaBackend::sgd_nesterov(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                               float wd) {
  DS2_CUDA_CHECK(launch_sgd_nesterov(stream_, p, grad, v, n, lr, mu, wd));
}
void CudaBackend::broadcast_rows(float* y, const float* row, int rows, int cols) {
  DS2_CUDA_CHECK(launch_broadcast_rows(stream_, y, row, rows, cols));
}

float* CudaBackend::alloc_host(size_t n) {
  void* p = nullptr;
  DS2_CUDA_CHECK(cudaMallocHost(&p, std::max<size_t>(n, 1) * sizeof(float)));
  return static_cast<float*>(p);
}
void CudaBackend::free_host(float* p) {
  if (p) cudaFreeHost(p);  // never throws (called from destructors)
}
void* CudaBackend::create_event() {
  cudaEvent_t e = nullptr;
  DS2_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void CudaBackend::destroy_event(void* e) {
  if (e) cudaEventDestroy(static_cast<cudaEvent_t>(e));
}
void CudaBackend::record_event(void* e) {
  DS2_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), stream_));
}
void CudaBackend::wait_event(void* e) {
  DS2_CUDA_CHECK(cudaSetDevice(device_));
  DS2_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(e)));
}
bool CudaBackend::event_done(void* e) {
  const cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e));
  if (r == cudaErrorNotReady) return false;
  DS2_CUDA_CHECK(r);
  return true;
}
// The current device is per host thread: the all-reduce thread that calls these sets it first.
void CudaBackend::transfer_download(float* host_dst, const float* src, size_t n) {
  if (!n) return;
  DS2_CUDA_CHECK(cudaSetDevice(device_));
  DS2_CUDA_CHECK(
      cudaMemcpyAsync(host_dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, transfer_stream_));
  DS2_CUDA_CHECK(cudaStreamSynchronize(transfer_stream_));
}
void CudaBackend::transfer_upload(float* dst, const float* host_src, size_t n) {
  if (!n) return;
  DS2_CUDA_CHECK(cudaSetDevice(device_));
  DS2_CUDA_CHECK(
      cudaMemcpyAsync(dst, host_src, n * sizeof(float), cudaMemcpyHostToDevice, transfer_stream_));
  DS2_CUDA_CHECK(cudaStreamSynchronize(transfer_stream_));
}

void CudaBackend::synchronize() { DS2_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
size_t CudaBackend::pool_bytes() const { return pool_->bytes_held(); }
size_t CudaBackend::pool_mallocs() const { return pool_->num_mallocs(); }

float* CudaBackend::alloc(size_t n) {
  return static_cast<float*>(pool_->alloc(std::max<size_t>(n, 1) * sizeof(float)));
}
void CudaBackend::free(float* p) { pool_->free(p); }

void CudaBackend::upload(float* dst, const float* src, size_t n) {
  // Pageable source: returns once src has been staged, so the caller may reuse it.
  if (n)
    DS2_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, stream_));
}
void CudaBackend::download(float* dst, const float* src, size_t n) {
  if (n)
    DS2_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  synchronize();
}
void CudaBackend::copy(float* dst, const float* src, size_t n) {
  // cudaMemcpyDefault (unified addressing): either side may also be host memory, so a caller
  // such as Network::forward, which copies its `features` argument, may pass a host pointer.
  if (n && dst != src)
    DS2_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDefault, stream_));
}
void CudaBackend::fill(float* x, size_t n, float value) {
  DS2_CUDA_CHECK(launch_fill(stream_, x, n, value));
}

void CudaBackend::axpy(size_t n, float alpha, const float* x, float* y) {
  DS2_CUDA_CHECK(launch_axpy(stream_, n, alpha, x, y));
}
void CudaBackend::add_bias(float* y, const float* bias, int rows, int cols) {
  DS2_CUDA_CHECK(launch_add_bias(stream_, y, bias, rows, cols));
}
void CudaBackend::bias_grad(const float* dy, int rows, int cols, float* db) {
  DS2_CUDA_CHECK(launch_bias_grad(stream_, dy, rows, cols, db));
}
void CudaBackend::clipped_relu(float* x, size_t n, float clip) {
  DS2_CUDA_CHECK(launch_clipped_relu(stream_, x, n, clip));
}
void CudaBackend::clipped_relu_backward(const float* y, float* dy, size_t n, float clip) {
  DS2_CUDA_CHECK(launch_clipped_relu_backward(stream_, y, dy, n, clip));
}
void CudaBackend::mask_rows(float* x, int t0, int t, int n, int d, const int32_t* lengths) {
  DS2_CUDA_CHECK(launch_mask_rows(stream_, x, t0, t, n, d, dev_lengths(lengths, n)));
}
void CudaBackend::mask_maps(float* x, int n, int c, int t, int f, const int32_t* lengths) {
  DS2_CUDA_CHECK(launch_mask_maps(stream_, x, n, c, t, f, dev_lengths(lengths, n)));
}
void CudaBackend::maps_to_rows(const float* x, float* y, int n, int c, int t, int f) {
  DS2_CUDA_CHECK(launch_maps_rows(stream_, x, y, n, c, t, f, true));
}
void CudaBackend::rows_to_maps(const float* y, float* x, int n, int c, int t, int f) {
  DS2_CUDA_CHECK(launch_maps_rows(stream_, y, x, n, c, t, f, false));
}
void CudaBackend::softmax(const float* x, float* y, int rows, int cols) {
  DS2_CUDA_CHECK(launch_softmax(stream_, x, y, rows, cols));
}

namespace {
BnDims bn_dims(const BnLayout& l) {
  BnDims d;
  d.kind = l.kind;
  d.n = l.n;
  d.c = l.c;
  d.t = l.t;
  d.f = l.f;
  double m = 0;
  for (int j = 0; j < l.n; ++j) m += std::max(0, std::min(l.t, l.lengths[j]));
  d.count = l.kind == BnLayout::kChannels ? m * l.f : m;
  return d;
}
}  // namespace

void CudaBackend::bn_forward_train(const BnLayout& l, const float* x, const float* gamma,
                                   const float* beta, float eps, float momentum, float* y,
                                   float* save_mean, float* save_invstd, float* running_mean,
                                   float* running_var) {
  DS2_CUDA_CHECK(launch_bn_forward_train(stream_, bn_dims(l), dev_lengths(l.lengths, l.n), x, gamma,
                                         beta, eps, momentum, y, save_mean, save_invstd,
                                         running_mean, running_var));
}

void CudaBackend::bn_forward_infer(const BnLayout& l, const float* x, const float* gamma,
                                   const float* beta, const float* running_mean,
                                   const float* running_var, float eps, float* y) {
  DS2_CUDA_CHECK(launch_bn_forward_infer(stream_, bn_dims(l), dev_lengths(l.lengths, l.n), x, gamma,
                                         beta, running_mean, running_var, eps, y));
}

void CudaBackend::bn_backward(const BnLayout& l, const float* x, const float* dy,
                              const float* gamma, const float* save_mean, const float* save_invstd,
                              float* dx, float* dgamma, float* dbeta) {
  float* scratch = alloc(2 * static_cast<size_t>(std::max(l.c, 1)));
  // Returned to the pool at once: a later alloc reuses it only in stream order.
  const cudaError_t e =
      launch_bn_backward(stream_, bn_dims(l), dev_lengths(l.lengths, l.n), x, dy, gamma, save_mean,
                         save_invstd, dx, dgamma, dbeta, scratch);
  free(scratch);
  DS2_CUDA_CHECK(e);
}

void CudaBackend::im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) {
  DS2_CUDA_CHECK(launch_im2col(stream_, g, x, t0, nt, col));
}
void CudaBackend::col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) {
  DS2_CUDA_CHECK(launch_col2im(stream_, g, col, t0, nt, dx));
}
void CudaBackend::conv_tap_add(const float* p, int c, int kt, int s0, int m, int pt, int t_out,
                               int f, float* z, int ldz) {
  DS2_CUDA_CHECK(launch_conv_tap_add(stream_, p, c, kt, s0, m, pt, t_out, f, z, ldz));
}
void CudaBackend::conv_tap_gather(const float* dz, int ldz, int c, int kt, int s0, int m, int pt,
                                  int t_out, int f, float* dp) {
  DS2_CUDA_CHECK(launch_conv_tap_gather(stream_, dz, ldz, c, kt, s0, m, pt, t_out, f, dp));
}

void CudaBackend::rnn_step_forward(int t, int n, int h, const int32_t* lengths, const float* a,
                                   const float* uh, float clip, float* hout) {
  DS2_CUDA_CHECK(
      launch_rnn_step_forward(stream_, t, n, h, dev_lengths(lengths, n), a, uh, clip, hout));
}
void CudaBackend::rnn_step_backward(int t, int n, int h, const int32_t* lengths, const float* hout,
                                    const float* dh, float clip, float* da) {
  DS2_CUDA_CHECK(
      launch_rnn_step_backward(stream_, t, n, h, dev_lengths(lengths, n), hout, dh, clip, da));
}
void CudaBackend::gru_step_forward(int t, int n, int h, const int32_t* lengths, const float* xg,
                                   const float* uh, const float* h_prev, float* hout,
                                   float* saved) {
  DS2_CUDA_CHECK(launch_gru_step_forward(stream_, t, n, h, dev_lengths(lengths, n), xg, uh, h_prev,
                                         hout, saved));
}
void CudaBackend::gru_step_backward(int t, int n, int h, const int32_t* lengths,
                                    const float* h_prev, const float* saved, const float* dh,
                                    float* dxg, float* duh, float* dh_prev) {
  DS2_CUDA_CHECK(launch_gru_step_backward(stream_, t, n, h, dev_lengths(lengths, n), h_prev, saved,
                                          dh, dxg, duh, dh_prev));
}
void CudaBackend::lookahead_forward(const float* x, const float* w, int t, int n, int d, int tau,
                                    const int32_t* lengths, float* y) {
  DS2_CUDA_CHECK(launch_lookahead_forward(stream_, x, w, t, n, d, tau, dev_lengths(lengths, n), y));
}
void CudaBackend::lookahead_backward(const float* x, const float* w, const float* dy, int t, int n,
                                     int d, int tau, const int32_t* lengths, float* dx, float* dw) {
  DS2_CUDA_CHECK(
      launch_lookahead_backward(stream_, x, w, dy, t, n, d, tau, dev_lengths(lengths, n), dx, dw));
}

}  // namespace ds2::model::cuda
