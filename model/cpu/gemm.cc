// CPU GEMM: row-major cblas_sgemm from OpenBLAS (threads set by the backend's constructor).
#include <cblas.h>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {

void CpuBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                      int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace ds2::model::cpu
