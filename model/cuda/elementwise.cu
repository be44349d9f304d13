// Elementwise, layout and softmax kernels of the CUDA backend. Grid-stride loops over the output
// elements (one thread per output, no atomics, so results do not depend on the launch shape);
// bias_grad sums columns in double like the CPU, 32 columns per block (coalesced); softmax is one
// warp per row with the max and the sum reduced by shuffles (sum in double).
#include "model/cuda/elementwise.cuh"

namespace ds2::model::cuda {
namespace {

__global__ void fill_k(float* x, size_t n, float v) { DS2_GRID_LOOP(i, n) x[i] = v; }
__global__ void axpy_k(size_t n, float alpha, const float* x, float* y) {
  DS2_GRID_LOOP(i, n) y[i] += alpha * x[i];
}
__global__ void add_bias_k(float* y, const float* bias, size_t n, int cols) {
  DS2_GRID_LOOP(i, n) y[i] += bias[i % cols];
}
// Column sums, column-parallel: a block of 32 x kColRows threads owns 32 adjacent columns; thread
// (x, y) sums rows y, y + kColRows, ... of column x in double (a warp reads 32 consecutive floats
// of one row: coalesced), then the kColRows partials are added in a fixed tree (deterministic).
constexpr int kColRows = 32;
__global__ void bias_grad_k(const float* dy, int rows, int cols, float* db) {
  __shared__ double sh[kColRows][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  double s = 0;
  if (c < cols)
    for (int r = threadIdx.y; r < rows; r += kColRows) s += dy[static_cast<size_t>(r) * cols + c];
  sh[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  for (int w = kColRows / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.y) < w)
      sh[threadIdx.y][threadIdx.x] += sh[threadIdx.y + w][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && c < cols) db[c] += static_cast<float>(sh[0][threadIdx.x]);
}
__global__ void relu_k(float* x, size_t n, float clip) {
  DS2_GRID_LOOP(i, n) x[i] = fminf(fmaxf(x[i], 0.0f), clip);
}
__global__ void relu_bwd_k(const float* y, float* dy, size_t n, float clip) {
  DS2_GRID_LOOP(i, n) dy[i] = (y[i] > 0.0f && y[i] < clip) ? dy[i] : 0.0f;
}
__global__ void mask_rows_k(float* x, int t0, int n, int d, size_t total, DevLengths len) {
  DS2_GRID_LOOP(i, total) {
    const size_t row = i / d;
    const int ti = static_cast<int>(row / n), j = static_cast<int>(row % n);
    if (t0 + ti >= len[j]) x[i] = 0.0f;
  }
}
__global__ void mask_maps_k(float* x, int n, int c, int t, int f, size_t total, DevLengths len) {
  DS2_GRID_LOOP(i, total) {
    const size_t plane = i / (static_cast<size_t>(t) * f);  // j * c + ch
    const int ti = static_cast<int>((i / f) % t);
    const int j = static_cast<int>(plane / c);
    if (ti >= len[j]) x[i] = 0.0f;
  }
}
// i indexes the rows tensor (T, N, C F).
__global__ void maps_rows_k(const float* src, float* dst, int n, int c, int t, int f, size_t total,
                            bool to_rows) {
  DS2_GRID_LOOP(i, total) {
    const int ff = static_cast<int>(i % f);
    const int ch = static_cast<int>((i / f) % c);
    const size_t row = i / (static_cast<size_t>(c) * f);
    const int j = static_cast<int>(row % n), ti = static_cast<int>(row / n);
    const size_t m = ((static_cast<size_t>(j) * c + ch) * t + ti) * f + ff;
    if (to_rows)
      dst[i] = src[m];
    else
      dst[m] = src[i];
  }
}
// One warp per row; y may alias x (each lane reads x[c] before writing y[c] for its own c).
__global__ void softmax_k(const float* x, float* y, int rows, int cols) {
  const int warps = blockDim.x / 32;
  const int r = blockIdx.x * warps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;
  const float* xr = x + static_cast<size_t>(r) * cols;
  float* yr = y + static_cast<size_t>(r) * cols;
  float mx = -INFINITY;
  for (int c = lane; c < cols; c += 32) mx = fmaxf(mx, xr[c]);
  for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  double s = 0;
  for (int c = lane; c < cols; c += 32) s += expf(xr[c] - mx);
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  const float inv = static_cast<float>(1.0 / s);
  for (int c = lane; c < cols; c += 32) yr[c] = expf(xr[c] - mx) * inv;
}

}  // namespace

cudaError_t launch_fill(cudaStream_t s, float* x, size_t n, float value) {
  if (n) fill_k<<<grid_for(n), kThreads, 0, s>>>(x, n, value);
  return cudaGetLastError();
}
cudaError_t launch_axpy(cudaStream_t s, size_t n, float alpha, const float* x, float* y) {
  if (n) axpy_k<<<grid_for(n), kThreads, 0, s>>>(n, alpha, x, y);
  return cudaGetLastError();
}
cudaError_t launch_add_bias(cudaStream_t s, float* y, const float* bias, int rows, int cols) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n) add_bias_k<<<grid_for(n), kThreads, 0, s>>>(y, bias, n, cols);
  return cudaGetLastError();
}
cudaError_t launch_bias_grad(cudaStream_t s, const float* dy, int rows, int cols, float* db) {
  if (cols > 0) bias_grad_k<<<(cols + 31) / 32, dim3(32, kColRows), 0, s>>>(dy, rows, cols, db);
  return cudaGetLastError();
}
cudaError_t launch_clipped_relu(cudaStream_t s, float* x, size_t n, float clip) {
  if (n) relu_k<<<grid_for(n), kThreads, 0, s>>>(x, n, clip);
  return cudaGetLastError();
}
cudaError_t launch_clipped_relu_backward(cudaStream_t s, const float* y, float* dy, size_t n,
                                         float clip) {
  if (n) relu_bwd_k<<<grid_for(n), kThreads, 0, s>>>(y, dy, n, clip);
  return cudaGetLastError();
}
cudaError_t launch_mask_rows(cudaStream_t s, float* x, int t0, int t, int n, int d,
                             const DevLengths& len) {
  const size_t total = static_cast<size_t>(t) * n * d;
  if (total) mask_rows_k<<<grid_for(total), kThreads, 0, s>>>(x, t0, n, d, total, len);
  return cudaGetLastError();
}
cudaError_t launch_mask_maps(cudaStream_t s, float* x, int n, int c, int t, int f,
                             const DevLengths& len) {
  const size_t total = static_cast<size_t>(n) * c * t * f;
  if (total) mask_maps_k<<<grid_for(total), kThreads, 0, s>>>(x, n, c, t, f, total, len);
  return cudaGetLastError();
}
cudaError_t launch_maps_rows(cudaStream_t s, const float* src, float* dst, int n, int c, int t,
                             int f, bool to_rows) {
  const size_t total = static_cast<size_t>(n) * c * t * f;
  if (total) maps_rows_k<<<grid_for(total), kThreads, 0, s>>>(src, dst, n, c, t, f, total, to_rows);
  return cudaGetLastError();
}
cudaError_t launch_softmax(cudaStream_t s, const float* x, float* y, int rows, int cols) {
  constexpr int kWarps = kThreads / 32;
  if (rows > 0 && cols > 0)
    softmax_k<<<(rows + kWarps - 1) / kWarps, kThreads, 0, s>>>(x, y, rows, cols);
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
