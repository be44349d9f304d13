// CUDA GEMM: row-major C = alpha op(A) op(B) + beta C through column-major cuBLAS, by computing
// C^T = op(B)^T op(A)^T (a row-major matrix is its transpose in column-major order, so the
// operands swap and keep their own transpose flags and leading dimensions).
#include <cublas_v2.h>

#include "model/cuda/check.h"
#include "model/cuda/cuda_backend.h"

namespace ds2::model::cuda {

void CudaBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  DS2_CUBLAS_CHECK(cublasSgemm(cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                               trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda,
                               &beta, c, ldc));
}

}  // namespace ds2::model::cuda
