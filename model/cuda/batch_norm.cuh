// Launchers of the batch-norm kernels (batch_norm.cu); layouts and formulas as in model/backend.h
// and model/cpu/batch_norm.cc. `count` is the number of valid positions per channel (the same for
// every channel), computed on the host from the lengths.
#pragma once

#include "model/backend.h"
#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

struct BnDims {
  int kind = 0;  // BnLayout::Kind
  int n = 1, c = 1, t = 1, f = 1;
  double count = 0;
};

cudaError_t launch_bn_forward_train(cudaStream_t s, const BnDims& d, const DevLengths& len,
                                    const float* x, const float* gamma, const float* beta,
                                    float eps, float momentum, float* y, float* save_mean,
                                    float* save_invstd, float* running_mean, float* running_var);
cudaError_t launch_bn_forward_infer(cudaStream_t s, const BnDims& d, const DevLengths& len,
                                    const float* x, const float* gamma, const float* beta,
                                    const float* running_mean, const float* running_var, float eps,
                                    float* y);
// scratch: 2 C floats of device memory.
cudaError_t launch_bn_backward(cudaStream_t s, const BnDims& d, const DevLengths& len,
                               const float* x, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, float* dx,
                               float* dgamma, float* dbeta, float* scratch);

}  // namespace ds2::model::cuda
