// Host-side error checks of the CUDA backend: DS2_CUDA_CHECK(stmt) and DS2_CUBLAS_CHECK(stmt)
// throw ds2::CudaError naming the failed statement, the CUDA error and file:line, e.g.
//   "cudaMalloc(&p, bytes) failed: out of memory (cudaErrorMemoryAllocation)
//    [model/cuda/pool.cc:40]". Only for .cc files (uses fmt through core/error.h).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/error.h"

#define DS2_CUDA_CHECK(stmt)                                                               \
  do {                                                                                     \
    const cudaError_t ds2_cuda_err_ = (stmt);                                              \
    if (ds2_cuda_err_ != cudaSuccess)                                                      \
      DS2_THROW(CudaError, "{} failed: {} ({})", #stmt, cudaGetErrorString(ds2_cuda_err_), \
                cudaGetErrorName(ds2_cuda_err_));                                          \
  } while (0)

#define DS2_CUBLAS_CHECK(stmt)                                                             \
  do {                                                                                     \
    const cublasStatus_t ds2_cublas_st_ = (stmt);                                          \
    if (ds2_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                           \
      DS2_THROW(CudaError, "{} failed: {}", #stmt, cublasGetStatusString(ds2_cublas_st_)); \
  } while (0)
