// Products with a prepared right-hand side (model/cpu/gemm_prepared.h): B packed once in
// panels of 32 columns, an AVX-512 tile kernel of R <= 8 rows x 32 columns. A tile keeps its
// 2 R accumulators in registers over the whole k loop: per k it loads the panel's two vectors
// of row k once and broadcasts one element of each of its R rows of A (2 R FMAs per 2 + R
// loads), so it runs at the FMA ports' rate while the panel (k x 128 bytes: 32 KiB at k = 256)
// stays in L1 for the second tile of a 16-row product. Each C element is one chain of FMAs in
// k order: the same bits on any thread count and for any m.
#include "model/cpu/gemm_prepared.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DS2_HAVE_AVX512_KERNEL 1
#endif

namespace ds2::model::cpu {

namespace {

constexpr int kPanel = 32;  // columns per panel: two AVX-512 vectors

size_t panels(int n) { return static_cast<size_t>((n + kPanel - 1) / kPanel); }

#ifdef DS2_HAVE_AVX512_KERNEL
#define DS2_AVX512 __attribute__((target("avx512f,fma")))

// C rows [0, R) x the panel's 32 columns (m0/m1: the valid columns of its two halves).
template <int R>
DS2_AVX512 void tile(int k, const float* a, int lda, const float* panel, float beta, float* c,
                     int ldc, __mmask16 m0, __mmask16 m1) {
  __m512 lo[R], hi[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_ps();
  for (int kk = 0; kk < k; ++kk) {
    const __m512 b0 = _mm512_loadu_ps(panel + static_cast<size_t>(kk) * kPanel);
    const __m512 b1 = _mm512_loadu_ps(panel + static_cast<size_t>(kk) * kPanel + 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[static_cast<size_t>(r) * lda + kk]);
      lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
      hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* cr = c + static_cast<size_t>(r) * ldc;
    if (beta != 0.0f) {
      lo[r] = _mm512_add_ps(lo[r], _mm512_maskz_loadu_ps(m0, cr));
      hi[r] = _mm512_add_ps(hi[r], _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, lo[r]);
    _mm512_mask_storeu_ps(cr + 16, m1, hi[r]);
  }
}

using Tile = void (*)(int, const float*, int, const float*, float, float*, int, __mmask16,
                      __mmask16);
constexpr Tile kTiles[9] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>,
                            tile<5>, tile<6>, tile<7>, tile<8>};

DS2_AVX512 void gemm_avx512(int m, int n, int k, const float* a, int lda, const float* p,
                            float beta, float* c, int ldc) {
  const size_t np = panels(n);
  for (size_t q = 0; q < np; ++q) {
    const int rem = n - static_cast<int>(q) * kPanel;
    const auto m0 = static_cast<__mmask16>(rem >= 16 ? 0xffffu : (1u << rem) - 1);
    const auto m1 = static_cast<__mmask16>(rem >= 32   ? 0xffffu
                                           : rem <= 16 ? 0u
                                                       : (1u << (rem - 16)) - 1);
    const float* panel = p + q * static_cast<size_t>(k) * kPanel;
    float* cq = c + q * kPanel;
    for (int i = 0; i < m; i += 8) {
      const int rows = std::min(8, m - i);
      kTiles[rows](k, a + static_cast<size_t>(i) * lda, lda, panel, beta,
                   cq + static_cast<size_t>(i) * ldc, ldc, m0, m1);
    }
  }
}
#undef DS2_AVX512
#endif

}  // namespace

PreparedKernel best_prepared_kernel() {
#ifdef DS2_HAVE_AVX512_KERNEL
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
    return PreparedKernel::kAvx512;
#endif
  return PreparedKernel::kBlas;
}

size_t prepared_floats(PreparedKernel kernel, int k, int n) {
  if (kernel == PreparedKernel::kBlas) return static_cast<size_t>(k) * n;
  return panels(n) * kPanel * static_cast<size_t>(k);
}

void prepare_b(PreparedKernel kernel, bool trans, int k, int n, const float* b, int ldb,
               float* out) {
  // op(B)(kk, j) = trans ? b[j ldb + kk] : b[kk ldb + j]
  auto at = [&](int kk, int j) {
    return trans ? b[static_cast<size_t>(j) * ldb + kk] : b[static_cast<size_t>(kk) * ldb + j];
  };
  if (kernel == PreparedKernel::kBlas) {
    for (int kk = 0; kk < k; ++kk) {
      float* row = out + static_cast<size_t>(kk) * n;
      if (!trans) {
        std::memcpy(row, b + static_cast<size_t>(kk) * ldb, sizeof(float) * n);
      } else {
        for (int j = 0; j < n; ++j) row[j] = at(kk, j);
      }
    }
    return;
  }
  const size_t np = panels(n);
  for (size_t q = 0; q < np; ++q) {
    const int j0 = static_cast<int>(q) * kPanel, width = std::min(kPanel, n - j0);
    float* panel = out + q * static_cast<size_t>(k) * kPanel;
    if (trans) {  // read each source row (a column of op(B)) once, in order
      for (int j = 0; j < kPanel; ++j)
        for (int kk = 0; kk < k; ++kk)
          panel[static_cast<size_t>(kk) * kPanel + j] = j < width ? at(kk, j0 + j) : 0.0f;
    } else {
      for (int kk = 0; kk < k; ++kk) {
        float* dst = panel + static_cast<size_t>(kk) * kPanel;
        std::memcpy(dst, b + static_cast<size_t>(kk) * ldb + j0, sizeof(float) * width);
        std::fill(dst + width, dst + kPanel, 0.0f);
      }
    }
  }
}

void gemm_prepared(PreparedKernel kernel, int m, int n, int k, const float* a, int lda,
                   const float* prepared, float beta, float* c, int ldc) {
  DS2_REQUIRE(beta == 0.0f || beta == 1.0f, Error, "gemm_prepared: beta {} (0 or 1)", beta);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0.0f)
      for (int i = 0; i < m; ++i)
        std::fill(c + static_cast<size_t>(i) * ldc, c + static_cast<size_t>(i) * ldc + n, 0.0f);
    return;
  }
#ifdef DS2_HAVE_AVX512_KERNEL
  if (kernel == PreparedKernel::kAvx512) {
    gemm_avx512(m, n, k, a, lda, prepared, beta, c, ldc);
    return;
  }
#endif
  DS2_REQUIRE(kernel == PreparedKernel::kBlas, Error,
              "gemm_prepared: no AVX-512 kernel in this build");
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, prepared, n, beta,
              c, ldc);
}

}  // namespace ds2::model::cpu
