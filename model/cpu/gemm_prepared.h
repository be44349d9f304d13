// The CPU backend's products with a prepared right-hand side (Backend::prepare_b /
// gemm_prepared): the recurrent steps' (N, H) x (H, G H) products, 200 of them per layer and
// direction against the same U. OpenBLAS packs all of B on every call (16 x 768 x 256: 85
// GFLOP/s, and 54 for the backward's U^T); here B is packed once, in panels of 32 columns
// (each panel k x 32 floats, contiguous, the last one zero-padded), and an AVX-512 kernel
// computes 8 rows x 32 columns per tile from it (16 accumulators, one pass over k). Without
// AVX-512 the prepared B is the plain row-major op(B) and the product is OpenBLAS's NN sgemm.
// Internal to the CPU backend; declared here for its tests (tests/model/backend_test.cc).
#pragma once

#include <cstddef>

namespace ds2::model::cpu {

enum class PreparedKernel { kBlas, kAvx512 };

// kAvx512 where the CPU has AVX-512F, else kBlas.
PreparedKernel best_prepared_kernel();
// Floats of a prepared (k, n) B.
size_t prepared_floats(PreparedKernel kernel, int k, int n);
// out = op(B) (k, n), op(B) = B or B^T of the row-major `b` (leading dimension ldb), in the
// kernel's layout.
void prepare_b(PreparedKernel kernel, bool trans, int k, int n, const float* b, int ldb,
               float* out);
// C (m, n) = A (m, k) op(B) + beta C, row-major; `prepared` from prepare_b with the same k, n.
// beta is 0 (C is not read) or 1.
void gemm_prepared(PreparedKernel kernel, int m, int n, int k, const float* a, int lda,
                   const float* prepared, float beta, float* c, int ldc);

}  // namespace ds2::model::cpu
