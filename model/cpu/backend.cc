// CPU backend: construction (thread count), memory and the elementwise/layout ops.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {

CpuBackend::CpuBackend(int num_threads) {
  DS2_REQUIRE(num_threads >= 0, ConfigError, "model.num_threads: must be >= 0 (got {})",
              num_threads);
  threads_ = num_threads > 0 ? num_threads : omp_get_max_threads();
  // OpenBLAS stays single-threaded: gemm.cc splits large products over OpenMP threads itself.
  openblas_set_num_threads(1);
}

float* CpuBackend::alloc(size_t n) {
  size_t bytes = ((std::max<size_t>(n, 1) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  DS2_REQUIRE(p, Error, "cpu backend: cannot allocate {} bytes", bytes);
  return static_cast<float*>(p);
}

void CpuBackend::free(float* p) { std::free(p); }

void CpuBackend::upload(float* dst, const float* src, size_t n) { copy(dst, src, n); }
void CpuBackend::download(float* dst, const float* src, size_t n) { copy(dst, src, n); }
void CpuBackend::copy(float* dst, const float* src, size_t n) {
  if (n && dst != src) std::memmove(dst, src, n * sizeof(float));
}
void CpuBackend::fill(float* x, size_t n, float value) { std::fill(x, x + n, value); }

void CpuBackend::parallel_tasks(int count, const std::function<void(int)>& task) {
  const int team = std::min(count, threads_);
  if (team <= 1 || omp_in_parallel()) {
    for (int i = 0; i < count; ++i) task(i);
    return;
  }
  // One task per thread in turn; the first exception is rethrown after the region.
  std::exception_ptr error;
#pragma omp parallel for num_threads(team) schedule(static, 1)
  for (int i = 0; i < count; ++i) {
    try {
      task(i);
    } catch (...) {
#pragma omp critical(ds2_parallel_tasks)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

void CpuBackend::axpy(size_t n, float alpha, const float* x, float* y) {
  const long nn = static_cast<long>(n);
#pragma omp parallel for num_threads(threads_) schedule(static) if (nn > 65536)
  for (long i = 0; i < nn; ++i) y[i] += alpha * x[i];
}

void CpuBackend::add_bias(float* y, const float* bias, int rows, int cols) {
#pragma omp parallel for num_threads(threads_) schedule(static) if (rows * cols > 65536)
  for (int r = 0; r < rows; ++r) {
    float* yr = y + static_cast<size_t>(r) * cols;
    for (int c = 0; c < cols; ++c) yr[c] += bias[c];
  }
}

void CpuBackend::bias_grad(const float* dy, int rows, int cols, float* db) {
  // Column sums in double, over blocks of columns (one per task) read row by row: each column
  // still sums its rows in order, so the bits do not depend on the blocks or the threads.
  constexpr int kBlock = 256;
  const int blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(threads_) schedule(static) if (rows * cols > 65536)
  for (int bi = 0; bi < blocks; ++bi) {
    const int c0 = bi * kBlock, nc = std::min(kBlock, cols - c0);
    double s[kBlock] = {};
    for (int r = 0; r < rows; ++r) {
      const float* row = dy + static_cast<size_t>(r) * cols + c0;
      for (int c = 0; c < nc; ++c) s[c] += row[c];
    }
    for (int c = 0; c < nc; ++c) db[c0 + c] += static_cast<float>(s[c]);
  }
}

void CpuBackend::clipped_relu(float* x, size_t n, float clip) {
  const long nn = static_cast<long>(n);
#pragma omp parallel for num_threads(threads_) schedule(static) if (nn > 65536)
  for (long i = 0; i < nn; ++i) x[i] = std::min(std::max(x[i], 0.0f), clip);
}

void CpuBackend::clipped_relu_backward(const float* y, float* dy, size_t n, float clip) {
  const long nn = static_cast<long>(n);
#pragma omp parallel for num_threads(threads_) schedule(static) if (nn > 65536)
  for (long i = 0; i < nn; ++i) dy[i] = (y[i] > 0.0f && y[i] < clip) ? dy[i] : 0.0f;
}

void CpuBackend::mask_rows(float* x, int t0, int t, int n, int d, const int32_t* lengths) {
  for (int i = 0; i < t; ++i)
    for (int j = 0; j < n; ++j)
      if (t0 + i >= lengths[j]) std::fill_n(x + (static_cast<size_t>(i) * n + j) * d, d, 0.0f);
}

void CpuBackend::mask_maps(float* x, int n, int c, int t, int f, const int32_t* lengths) {
  for (int j = 0; j < n; ++j) {
    const int len = std::max(0, std::min(t, lengths[j]));
    if (len == t) continue;
    for (int ch = 0; ch < c; ++ch)
      std::fill_n(x + ((static_cast<size_t>(j) * c + ch) * t + len) * f,
                  static_cast<size_t>(t - len) * f, 0.0f);
  }
}

void CpuBackend::maps_to_rows(const float* x, float* y, int n, int c, int t, int f) {
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int ti = 0; ti < t; ++ti)
    for (int j = 0; j < n; ++j) {
      float* yr = y + (static_cast<size_t>(ti) * n + j) * c * f;
      for (int ch = 0; ch < c; ++ch)
        std::memcpy(yr + ch * f, x + ((static_cast<size_t>(j) * c + ch) * t + ti) * f,
                    f * sizeof(float));
    }
}

void CpuBackend::rows_to_maps(const float* y, float* x, int n, int c, int t, int f) {
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
  for (int ti = 0; ti < t; ++ti)
    for (int j = 0; j < n; ++j) {
      const float* yr = y + (static_cast<size_t>(ti) * n + j) * c * f;
      for (int ch = 0; ch < c; ++ch)
        std::memcpy(x + ((static_cast<size_t>(j) * c + ch) * t + ti) * f, yr + ch * f,
                    f * sizeof(float));
    }
}

void CpuBackend::softmax(const float* x, float* y, int rows, int cols) {
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * cols;
    float* yr = y + static_cast<size_t>(r) * cols;
    float mx = -INFINITY;
    for (int c = 0; c < cols; ++c) mx = std::max(mx, xr[c]);
    double s = 0;
    for (int c = 0; c < cols; ++c) {
      yr[c] = std::exp(xr[c] - mx);
      s += yr[c];
    }
    const float inv = static_cast<float>(1.0 / s);
    for (int c = 0; c < cols; ++c) yr[c] *= inv;
  }
}

}  // namespace ds2::model::cpu
