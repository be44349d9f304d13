// Launchers of the elementwise, layout and softmax kernels (elementwise.cu). Each queues one
// kernel on `s` and returns cudaGetLastError() (launch errors only; faults surface at the next
// synchronization). Semantics and layouts: the same-named ops of model/backend.h.
#pragma once

#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

cudaError_t launch_fill(cudaStream_t s, float* x, size_t n, float value);
cudaError_t launch_axpy(cudaStream_t s, size_t n, float alpha, const float* x, float* y);
cudaError_t launch_add_bias(cudaStream_t s, float* y, const float* bias, int rows, int cols);
cudaError_t launch_bias_grad(cudaStream_t s, const float* dy, int rows, int cols, float* db);
cudaError_t launch_clipped_relu(cudaStream_t s, float* x, size_t n, float clip);
cudaError_t launch_clipped_relu_backward(cudaStream_t s, const float* y, float* dy, size_t n,
                                         float clip);
cudaError_t launch_mask_rows(cudaStream_t s, float* x, int t0, int t, int n, int d,
                             const DevLengths& len);
cudaError_t launch_mask_maps(cudaStream_t s, float* x, int n, int c, int t, int f,
                             const DevLengths& len);
// to_rows: (N, C, T, F) -> (T, N, C F); else the inverse.
cudaError_t launch_maps_rows(cudaStream_t s, const float* src, float* dst, int n, int c, int t,
                             int f, bool to_rows);
cudaError_t launch_softmax(cudaStream_t s, const float* x, float* y, int rows, int cols);

}  // namespace ds2::model::cuda
