// CPU backend: the whole-arena ops of a training step (scale, sum of squares, the Nesterov SGD
// update, the row broadcast), events and transfers. These are the reference the CUDA backend is
// compared with, and the exact arithmetic ds2 train has always done on the host: one sequential
// double sum for the norm, float elementwise updates in index order.
#include <cstring>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {

void CpuBackend::scale(float* x, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}

double CpuBackend::sum_squares(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void CpuBackend::sgd_nesterov(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                              float wd) {
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i] + wd * p[i];
    v[i] = mu * v[i] + g;
    p[i] -= lr * (g + mu * v[i]);
  }
}

void CpuBackend::broadcast_rows(float* y, const float* row, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    std::memcpy(y + static_cast<size_t>(r) * cols, row, static_cast<size_t>(cols) * sizeof(float));
}

// A distinct non-null handle per event, so callers can keep one per bucket like on a device.
void* CpuBackend::create_event() { return new char(0); }
void CpuBackend::destroy_event(void* e) { delete static_cast<char*>(e); }

void CpuBackend::transfer_download(float* host_dst, const float* src, size_t n) {
  copy(host_dst, src, n);
}
void CpuBackend::transfer_upload(float* dst, const float* host_src, size_t n) {
  copy(dst, host_src, n);
}

}  // namespace ds2::model::cpu
