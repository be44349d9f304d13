// Whole-arena kernels of a training step on the GPU.
//
// sgd_nesterov rounds every product and sum separately (__fmul_rn/__fadd_rn: no fused
// multiply-add), so it is bit-identical to the CPU reference loop (model/cpu/optimizer.cc).
// sum_squares: a fixed grid of kSumBlocks blocks, each a grid-stride sum in double and a shared-
// memory tree, then one block adds the partials in index order; the grid does not depend on the
// device, so the result is deterministic (it differs from the CPU's sequential sum only by the
// order of the double additions: ~1e-16 relative).
#include "model/cuda/optimizer.cuh"

namespace ds2::model::cuda {
namespace {

__global__ void scale_k(float* x, size_t n, float alpha) { DS2_GRID_LOOP(i, n) x[i] *= alpha; }

__global__ void sum_squares_k(const float* x, size_t n, double* partial) {
  __shared__ double sh[kThreads];
  double s = 0;
  DS2_GRID_LOOP(i, n) s += static_cast<double>(x[i]) * x[i];
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

__global__ void sum_partials_k(double* partial) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double s = 0;
  for (int b = 0; b < kSumBlocks; ++b) s += partial[b];
  partial[kSumBlocks] = s;
}

__global__ void sgd_nesterov_k(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                               float wd) {
  DS2_GRID_LOOP(i, n) {
    const float g = __fadd_rn(grad[i], __fmul_rn(wd, p[i]));
    const float vi = __fadd_rn(__fmul_rn(mu, v[i]), g);
    v[i] = vi;
    p[i] = __fsub_rn(p[i], __fmul_rn(lr, __fadd_rn(g, __fmul_rn(mu, vi))));
  }
}

__global__ void broadcast_rows_k(float* y, const float* row, size_t total, int cols) {
  DS2_GRID_LOOP(i, total) y[i] = row[i % cols];
}

}  // namespace

cudaError_t launch_scale(cudaStream_t s, float* x, size_t n, float alpha) {
  if (n) scale_k<<<grid_for(n), kThreads, 0, s>>>(x, n, alpha);
  return cudaGetLastError();
}

cudaError_t launch_sum_squares(cudaStream_t s, const float* x, size_t n, double* scratch) {
  sum_squares_k<<<kSumBlocks, kThreads, 0, s>>>(x, n, scratch);
  sum_partials_k<<<1, 32, 0, s>>>(scratch);
  return cudaGetLastError();
}

cudaError_t launch_sgd_nesterov(cudaStream_t s, float* p, const float* grad, float* v, size_t n,
                                float lr, float mu, float wd) {
  if (n) sgd_nesterov_k<<<grid_for(n), kThreads, 0, s>>>(p, grad, v, n, lr, mu, wd);
  return cudaGetLastError();
}

cudaError_t launch_broadcast_rows(cudaStream_t s, float* y, const float* row, int rows, int cols) {
  const size_t total = static_cast<size_t>(rows) * cols;
  if (total) broadcast_rows_k<<<grid_for(total), kThreads, 0, s>>>(y, row, total, cols);
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
