// CPU batch norm over valid (unpadded) positions, statistics in double.
//
// Training forward: mean_c = sum(x) / M_c and var_c = sum((x - mean_c)^2) / M_c over the M_c
// valid positions of channel c (two passes, so no cancellation), y = gamma (x - mean) invstd +
// beta with invstd = 1 / sqrt(var + eps). Backward, with xhat = (x - mean) invstd:
//   dbeta = sum(dy), dgamma = sum(dy xhat),
//   dx = gamma invstd (dy - dbeta / M - xhat dgamma / M).
// kRows layouts reduce rows in per-thread partial sums; kChannels layouts go channel by channel.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/cpu/cpu_backend.h"

namespace ds2::model::cpu {
namespace {

bool row_valid(const BnLayout& l, long r) { return r / l.n < l.lengths[r % l.n]; }

// Per-channel sums of f(x, dy, channel) over valid rows of a (T*N, C) tensor, in double.
template <typename F>
void rows_reduce(const BnLayout& l, int threads, int nsum, std::vector<double>& out, F f) {
  const long rows = static_cast<long>(l.t) * l.n;
  const int c = l.c;
  out.assign(static_cast<size_t>(nsum) * c, 0.0);
  std::vector<std::vector<double>> part(threads);
#pragma omp parallel num_threads(threads)
  {
    auto& p = part[omp_get_thread_num()];
    p.assign(static_cast<size_t>(nsum) * c, 0.0);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; ++r)
      if (row_valid(l, r)) f(r, p.data());
  }
  for (auto& p : part)
    for (size_t i = 0; i < p.size(); ++i) out[i] += p[i];
}

std::vector<double> valid_counts(const BnLayout& l) {
  double m = 0;
  for (int j = 0; j < l.n; ++j) m += std::max(0, std::min(l.t, l.lengths[j]));
  if (l.kind == BnLayout::kChannels) m *= l.f;
  return std::vector<double>(l.c, m);
}

// Applies fn(channel, ptr, count) to each contiguous valid run of a (N, C, T, F) channel.
template <typename F>
void channel_runs(const BnLayout& l, int ch, F fn) {
  for (int j = 0; j < l.n; ++j) {
    const int len = std::max(0, std::min(l.t, l.lengths[j]));
    fn((static_cast<size_t>(j) * l.c + ch) * l.t * l.f, static_cast<size_t>(len) * l.f);
  }
}

// y = x * scale[c] + shift[c] at valid positions, 0 at padded ones.
void apply_affine(const BnLayout& l, const float* x, const float* scale_p, const float* shift_p,
                  float* y, int threads_) {
  const int c = l.c;
  std::vector<float> scale(scale_p, scale_p + c), shift(shift_p, shift_p + c);
  if (l.kind == BnLayout::kRows) {
    const long rows = static_cast<long>(l.t) * l.n;
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (long r = 0; r < rows; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * c;
      if (!row_valid(l, r)) {
        std::fill_n(yr, c, 0.0f);
        continue;
      }
      for (int k = 0; k < c; ++k) yr[k] = xr[k] * scale[k] + shift[k];
    }
  } else {
    const size_t plane = static_cast<size_t>(l.t) * l.f;
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
    for (int j = 0; j < l.n; ++j)
      for (int k = 0; k < c; ++k) {
        const size_t off = (static_cast<size_t>(j) * c + k) * plane;
        const size_t m = static_cast<size_t>(std::max(0, std::min(l.t, l.lengths[j]))) * l.f;
        for (size_t i = 0; i < m; ++i) y[off + i] = x[off + i] * scale[k] + shift[k];
        std::fill(y + off + m, y + off + plane, 0.0f);
      }
  }
}

}  // namespace

void CpuBackend::bn_forward_train(const BnLayout& l, const float* x, const float* gamma,
                                  const float* beta, float eps, float momentum, float* y,
                                  float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var) {
  const int c = l.c;
  std::vector<double> cnt = valid_counts(l), mean(c), var(c);
  if (l.kind == BnLayout::kRows) {
    std::vector<double> s;
    rows_reduce(l, threads_, 1, s, [&](long r, double* p) {
      const float* xr = x + r * c;
      for (int k = 0; k < c; ++k) p[k] += xr[k];
    });
    for (int k = 0; k < c; ++k) mean[k] = cnt[k] > 0 ? s[k] / cnt[k] : 0.0;
    rows_reduce(l, threads_, 1, s, [&](long r, double* p) {
      const float* xr = x + r * c;
      for (int k = 0; k < c; ++k) {
        const double d = xr[k] - mean[k];
        p[k] += d * d;
      }
    });
    for (int k = 0; k < c; ++k) var[k] = cnt[k] > 0 ? s[k] / cnt[k] : 1.0;
  } else {
#pragma omp parallel for num_threads(threads_) schedule(dynamic)
    for (int k = 0; k < c; ++k) {
      double s = 0, q = 0;
      channel_runs(l, k, [&](size_t off, size_t m) {
        for (size_t i = 0; i < m; ++i) s += x[off + i];
      });
      const double mu = cnt[k] > 0 ? s / cnt[k] : 0.0;
      channel_runs(l, k, [&](size_t off, size_t m) {
        for (size_t i = 0; i < m; ++i) q += (x[off + i] - mu) * (x[off + i] - mu);
      });
      mean[k] = mu;
      var[k] = cnt[k] > 0 ? q / cnt[k] : 1.0;
    }
  }
  for (int k = 0; k < c; ++k) {
    save_mean[k] = static_cast<float>(mean[k]);
    save_invstd[k] = static_cast<float>(1.0 / std::sqrt(var[k] + eps));
    if (running_mean && cnt[k] > 0) {
      running_mean[k] = static_cast<float>((1.0 - momentum) * running_mean[k] + momentum * mean[k]);
      running_var[k] = static_cast<float>((1.0 - momentum) * running_var[k] + momentum * var[k]);
    }
  }
  std::vector<float> scale(c), shift(c);
  for (int k = 0; k < c; ++k) {
    scale[k] = gamma[k] * save_invstd[k];
    shift[k] = beta[k] - save_mean[k] * scale[k];
  }
  apply_affine(l, x, scale.data(), shift.data(), y, threads_);
}

void CpuBackend::bn_forward_infer(const BnLayout& l, const float* x, const float* gamma,
                                  const float* beta, const float* running_mean,
                                  const float* running_var, float eps, float* y) {
  std::vector<float> scale(l.c), shift(l.c);
  for (int k = 0; k < l.c; ++k) {
    scale[k] = gamma[k] / std::sqrt(running_var[k] + eps);
    shift[k] = beta[k] - running_mean[k] * scale[k];
  }
  apply_affine(l, x, scale.data(), shift.data(), y, threads_);
}

void CpuBackend::bn_backward(const BnLayout& l, const float* x, const float* dy, const float* gamma,
                             const float* save_mean, const float* save_invstd, float* dx,
                             float* dgamma, float* dbeta) {
  const int c = l.c;
  std::vector<double> cnt = valid_counts(l), sdy(c), sdyx(c);
  if (l.kind == BnLayout::kRows) {
    std::vector<double> s;
    rows_reduce(l, threads_, 2, s, [&](long r, double* p) {
      const float* xr = x + r * c;
      const float* dr = dy + r * c;
      for (int k = 0; k < c; ++k) {
        p[k] += dr[k];
        p[c + k] += dr[k] * (xr[k] - save_mean[k]) * save_invstd[k];
      }
    });
    for (int k = 0; k < c; ++k) {
      sdy[k] = s[k];
      sdyx[k] = s[c + k];
    }
  } else {
#pragma omp parallel for num_threads(threads_) schedule(dynamic)
    for (int k = 0; k < c; ++k) {
      double a = 0, b = 0;
      channel_runs(l, k, [&](size_t off, size_t m) {
        for (size_t i = 0; i < m; ++i) {
          a += dy[off + i];
          b += dy[off + i] * (x[off + i] - save_mean[k]) * save_invstd[k];
        }
      });
      sdy[k] = a;
      sdyx[k] = b;
    }
  }
  for (int k = 0; k < c; ++k) {
    dgamma[k] += static_cast<float>(sdyx[k]);
    dbeta[k] += static_cast<float>(sdy[k]);
  }
  if (!dx) return;
  std::vector<float> g(c), mdy(c), mdyx(c);
  for (int k = 0; k < c; ++k) {
    g[k] = gamma[k] * save_invstd[k];
    mdy[k] = cnt[k] > 0 ? static_cast<float>(sdy[k] / cnt[k]) : 0.0f;
    mdyx[k] = cnt[k] > 0 ? static_cast<float>(sdyx[k] / cnt[k]) : 0.0f;
  }
  if (l.kind == BnLayout::kRows) {
    const long rows = static_cast<long>(l.t) * l.n;
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (long r = 0; r < rows; ++r) {
      float* dxr = dx + r * c;
      if (!row_valid(l, r)) {
        std::fill_n(dxr, c, 0.0f);
        continue;
      }
      const float* xr = x + r * c;
      const float* dr = dy + r * c;
      for (int k = 0; k < c; ++k) {
        const float xh = (xr[k] - save_mean[k]) * save_invstd[k];
        dxr[k] = g[k] * (dr[k] - mdy[k] - xh * mdyx[k]);
      }
    }
  } else {
    const size_t plane = static_cast<size_t>(l.t) * l.f;
#pragma omp parallel for num_threads(threads_) schedule(static) collapse(2)
    for (int j = 0; j < l.n; ++j)
      for (int k = 0; k < c; ++k) {
        const size_t off = (static_cast<size_t>(j) * c + k) * plane;
        const size_t m = static_cast<size_t>(std::max(0, std::min(l.t, l.lengths[j]))) * l.f;
        for (size_t i = 0; i < m; ++i) {
          const float xh = (x[off + i] - save_mean[k]) * save_invstd[k];
          dx[off + i] = g[k] * (dy[off + i] - mdy[k] - xh * mdyx[k]);
        }
        std::fill(dx + off + m, dx + off + plane, 0.0f);
      }
  }
}

}  // namespace ds2::model::cpu
