// Launchers of the whole-arena training-step kernels (optimizer.cu): scale, sum of squares, the
// Nesterov SGD update, the row broadcast. Semantics: the same-named ops of model/backend.h.
#pragma once

#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

// Blocks of the sum-of-squares reduction; its scratch holds kSumBlocks + 1 doubles.
constexpr int kSumBlocks = 240;

cudaError_t launch_scale(cudaStream_t s, float* x, size_t n, float alpha);
// scratch[kSumBlocks] (device, doubles) = sum of x^2; scratch[0..kSumBlocks) are the partials.
cudaError_t launch_sum_squares(cudaStream_t s, const float* x, size_t n, double* scratch);
cudaError_t launch_sgd_nesterov(cudaStream_t s, float* p, const float* grad, float* v, size_t n,
                                float lr, float mu, float wd);
cudaError_t launch_broadcast_rows(cudaStream_t s, float* y, const float* row, int rows, int cols);

}  // namespace ds2::model::cuda
