// CPU GEMM: row-major cblas_sgemm from OpenBLAS, threaded by OpenMP, not by OpenBLAS.
//
// OpenBLAS runs single-threaded (set in the backend's constructor); a large product is split
// into num_threads blocks of columns (or rows, whichever dimension is larger), each one
// single-threaded sgemm call inside one OpenMP region. One threading runtime means no
// oversubscription: with OpenBLAS's own pthreads, OpenMP workers spin-waiting between our
// elementwise regions would compete with OpenBLAS's threads for the same cores (measured: a
// quarter of all cycles at 2 threads). Small products (the per-time-step recurrent GEMMs,
// e.g. 16 x 768 x 256) run on the calling thread: splitting them costs more in
// synchronization than it gains.
#include <cblas.h>

#include <algorithm>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {
namespace {
constexpr double kSmallGemm = 4.0 * 1024 * 1024;  // m * n * k below which one thread is used
constexpr int kAlign = 16;                        // block edges on 16 floats (one AVX-512 line)

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}
}  // namespace

void CpuBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                      int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  const int parts = static_cast<double>(m) * n * k < kSmallGemm ? 1 : threads_;
  if (parts <= 1) {
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool by_cols = n >= m;
  const int extent = by_cols ? n : m;
  const int block = ((extent + parts - 1) / parts + kAlign - 1) / kAlign * kAlign;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    const int lo = p * block, len = std::min(extent, lo + block) - lo;
    if (len <= 0) continue;
    if (by_cols) {
      const float* bp = trans_b ? b + static_cast<size_t>(lo) * ldb : b + lo;
      sgemm(trans_a, trans_b, m, len, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
    } else {
      const float* ap = trans_a ? a + lo : a + static_cast<size_t>(lo) * lda;
      sgemm(trans_a, trans_b, len, n, k, alpha, ap, lda, b, ldb, beta,
            c + static_cast<size_t>(lo) * ldc, ldc);
    }
  }
}

size_t CpuBackend::prepared_size(int k, int n) const { return prepared_floats(prepared_, k, n); }

void CpuBackend::prepare_b(bool trans, int k, int n, const float* b, int ldb, float* prepared) {
  cpu::prepare_b(prepared_, trans, k, n, b, ldb, prepared);
}

void CpuBackend::gemm_prepared(int m, int n, int k, const float* a, int lda, const float* prepared,
                               float beta, float* c, int ldc) {
  cpu::gemm_prepared(prepared_, m, n, k, a, lda, prepared, beta, c, ldc);
}

}  // namespace ds2::model::cpu
