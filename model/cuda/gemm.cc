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

// op(B) (k, n) row-major: cublasSgeam's C = alpha op(A) + beta op(B) with beta 0, in column-major
// terms the (n, k) matrix op(B)^T from b^T (ldb columns), transposed or not.
void CudaBackend::prepare_b(bool trans, int k, int n, const float* b, int ldb, float* prepared) {
  if (k == 0 || n == 0) return;
  const float one = 1.0f, zero = 0.0f;
  DS2_CUBLAS_CHECK(cublasSgeam(cublas_, trans ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, n, k, &one,
                               b, ldb, &zero, prepared, n, prepared, n));
}

void CudaBackend::gemm_prepared(int m, int n, int k, const float* a, int lda, const float* prepared,
                                float beta, float* c, int ldc) {
  gemm(false, false, m, n, k, 1.0f, a, lda, prepared, n, beta, c, ldc);
}

}  // namespace ds2::model::cuda
