// Batch norm over valid (unpadded) positions on the GPU, statistics in double like the CPU.
//
// Statistics: kChannels: one thread block per channel walks the contiguous (t < len) * F run of
// each (n, c) plane; kRows: a block per 32 adjacent channels reads whole rows (coalesced, see
// bn_rows_stats_k); both reduce in shared memory, and thread 0 writes mean / invstd / running stats
// (or the backward sums). Two passes for the variance, as on the CPU. The affine apply and the dx
// pass are elementwise kernels over the whole tensor that also zero the padded positions.
#include "model/cuda/batch_norm.cuh"

namespace ds2::model::cuda {
namespace {

// Position p of channel k's valid set -> element offset, for p < count. Iterating "slots" keeps
// the per-thread loop simple: kRows walks all T * N rows (skipping invalid ones), kChannels all
// N * T * F positions of the channel (skipping padded frames).
struct ChannelIter {
  BnDims d;
  __device__ size_t size() const {
    return d.kind == BnLayout::kRows ? static_cast<size_t>(d.t) * d.n
                                     : static_cast<size_t>(d.n) * d.t * d.f;
  }
  // Offset of slot i of channel k, or SIZE_MAX when that slot is padding.
  __device__ size_t offset(size_t i, int k, const DevLengths& len) const {
    if (d.kind == BnLayout::kRows) {
      const int ti = static_cast<int>(i / d.n), j = static_cast<int>(i % d.n);
      return ti < len[j] ? i * d.c + k : ~size_t{0};
    }
    const size_t plane = static_cast<size_t>(d.t) * d.f;
    const int j = static_cast<int>(i / plane);
    const size_t q = i % plane;
    return static_cast<int>(q / d.f) < len[j] ? (static_cast<size_t>(j) * d.c + k) * plane + q
                                              : ~size_t{0};
  }
  // Channel of element e and whether it is valid.
  __device__ int channel(size_t e, const DevLengths& len, bool* valid) const {
    if (d.kind == BnLayout::kRows) {
      const size_t r = e / d.c;
      *valid = static_cast<int>(r / d.n) < len[r % d.n];
      return static_cast<int>(e % d.c);
    }
    const size_t plane = static_cast<size_t>(d.t) * d.f;
    const size_t jc = e / plane;
    *valid = static_cast<int>((e % plane) / d.f) < len[jc / d.c];
    return static_cast<int>(jc % d.c);
  }
};

template <int N>
__device__ void block_sum(double (&v)[N], double (*sh)[kThreads]) {
  for (int q = 0; q < N; ++q) sh[q][threadIdx.x] = v[q];
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w)
      for (int q = 0; q < N; ++q) sh[q][threadIdx.x] += sh[q][threadIdx.x + w];
    __syncthreads();
  }
  for (int q = 0; q < N; ++q) v[q] = sh[q][0];
  __syncthreads();
}

__global__ void bn_stats_k(BnDims d, DevLengths len, const float* x, float eps, float momentum,
                           float* save_mean, float* save_invstd, float* running_mean,
                           float* running_var) {
  __shared__ double sh[1][kThreads];
  const int k = blockIdx.x;
  const ChannelIter it{d};
  const size_t m = it.size();
  double s[1] = {0};
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    const size_t o = it.offset(i, k, len);
    if (o != ~size_t{0}) s[0] += x[o];
  }
  block_sum(s, sh);
  const double mean = d.count > 0 ? s[0] / d.count : 0.0;
  double q[1] = {0};
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    const size_t o = it.offset(i, k, len);
    if (o != ~size_t{0}) q[0] += (x[o] - mean) * (x[o] - mean);
  }
  block_sum(q, sh);
  if (threadIdx.x != 0) return;
  const double var = d.count > 0 ? q[0] / d.count : 1.0;
  save_mean[k] = static_cast<float>(mean);
  save_invstd[k] = static_cast<float>(1.0 / sqrt(var + eps));
  if (running_mean && d.count > 0) {
    running_mean[k] = static_cast<float>((1.0 - momentum) * running_mean[k] + momentum * mean);
    running_var[k] = static_cast<float>((1.0 - momentum) * running_var[k] + momentum * var);
  }
}

// kRows statistics, coalesced: x is (T N, C) with channels contiguous, so a block owns 32
// adjacent channels and a warp reads 32 consecutive floats of one row (the per-channel kernel
// above would read with stride C). Thread (x, y) walks rows y, y + kRowsY, ...; the kRowsY
// partials of a channel are added in a fixed tree (deterministic). Same two passes.
constexpr int kRowsY = 32;

__device__ double rows_tree(double v, double (*sh)[33]) {
  sh[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  for (int w = kRowsY / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.y) < w)
      sh[threadIdx.y][threadIdx.x] += sh[threadIdx.y + w][threadIdx.x];
    __syncthreads();
  }
  const double r = sh[0][threadIdx.x];
  __syncthreads();
  return r;
}

__global__ void bn_rows_stats_k(BnDims d, DevLengths len, const float* x, float eps, float momentum,
                                float* save_mean, float* save_invstd, float* running_mean,
                                float* running_var) {
  __shared__ double sh[kRowsY][33];
  const int k = blockIdx.x * 32 + threadIdx.x;
  const bool col = k < d.c;
  const int rows = d.t * d.n;
  double s = 0;
  if (col)
    for (int r = threadIdx.y; r < rows; r += kRowsY)
      if (r / d.n < len[r % d.n]) s += x[static_cast<size_t>(r) * d.c + k];
  const double total = rows_tree(s, sh);  // every thread: rows_tree synchronizes the block
  const double mean = d.count > 0 ? total / d.count : 0.0;
  double q = 0;
  if (col)
    for (int r = threadIdx.y; r < rows; r += kRowsY)
      if (r / d.n < len[r % d.n]) {
        const double v = x[static_cast<size_t>(r) * d.c + k] - mean;
        q += v * v;
      }
  q = rows_tree(q, sh);
  if (threadIdx.y != 0 || !col) return;
  const double var = d.count > 0 ? q / d.count : 1.0;
  save_mean[k] = static_cast<float>(mean);
  save_invstd[k] = static_cast<float>(1.0 / sqrt(var + eps));
  if (running_mean && d.count > 0) {
    running_mean[k] = static_cast<float>((1.0 - momentum) * running_mean[k] + momentum * mean);
    running_var[k] = static_cast<float>((1.0 - momentum) * running_var[k] + momentum * var);
  }
}

__global__ void bn_rows_bwd_sums_k(BnDims d, DevLengths len, const float* x, const float* dy,
                                   const float* save_mean, const float* save_invstd, float* dgamma,
                                   float* dbeta, float* scratch) {
  __shared__ double sh[kRowsY][33];
  const int k = blockIdx.x * 32 + threadIdx.x;
  const bool col = k < d.c;
  const int rows = d.t * d.n;
  double s0 = 0, s1 = 0;
  if (col) {
    const double m = save_mean[k], is = save_invstd[k];
    for (int r = threadIdx.y; r < rows; r += kRowsY)
      if (r / d.n < len[r % d.n]) {
        const size_t o = static_cast<size_t>(r) * d.c + k;
        s0 += dy[o];
        s1 += dy[o] * (x[o] - m) * is;
      }
  }
  s0 = rows_tree(s0, sh);
  s1 = rows_tree(s1, sh);
  if (threadIdx.y != 0 || !col) return;
  dgamma[k] += static_cast<float>(s1);
  dbeta[k] += static_cast<float>(s0);
  scratch[k] = d.count > 0 ? static_cast<float>(s0 / d.count) : 0.0f;
  scratch[d.c + k] = d.count > 0 ? static_cast<float>(s1 / d.count) : 0.0f;
}

// y = x * scale + shift (valid) or 0; train: scale = gamma invstd, infer: gamma / sqrt(var + eps).
__global__ void bn_apply_k(BnDims d, DevLengths len, const float* x, const float* gamma,
                           const float* beta, const float* mean, const float* stat, bool infer,
                           float eps, float* y, size_t total) {
  const ChannelIter it{d};
  for (size_t e = blockIdx.x * size_t{blockDim.x} + threadIdx.x; e < total;
       e += size_t{blockDim.x} * gridDim.x) {
    bool valid;
    const int k = it.channel(e, len, &valid);
    if (!valid) {
      y[e] = 0.0f;
      continue;
    }
    const float scale = infer ? gamma[k] / sqrtf(stat[k] + eps) : gamma[k] * stat[k];
    const float shift = beta[k] - mean[k] * scale;
    y[e] = x[e] * scale + shift;
  }
}

// dgamma += sum dy xhat, dbeta += sum dy; scratch = (mean dy, mean dy xhat).
__global__ void bn_bwd_sums_k(BnDims d, DevLengths len, const float* x, const float* dy,
                              const float* save_mean, const float* save_invstd, float* dgamma,
                              float* dbeta, float* scratch) {
  __shared__ double sh[2][kThreads];
  const int k = blockIdx.x;
  const ChannelIter it{d};
  const size_t m = it.size();
  double s[2] = {0, 0};
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    const size_t o = it.offset(i, k, len);
    if (o == ~size_t{0}) continue;
    s[0] += dy[o];
    s[1] += dy[o] * (x[o] - save_mean[k]) * save_invstd[k];
  }
  block_sum(s, sh);
  if (threadIdx.x != 0) return;
  dgamma[k] += static_cast<float>(s[1]);
  dbeta[k] += static_cast<float>(s[0]);
  scratch[k] = d.count > 0 ? static_cast<float>(s[0] / d.count) : 0.0f;
  scratch[d.c + k] = d.count > 0 ? static_cast<float>(s[1] / d.count) : 0.0f;
}

__global__ void bn_dx_k(BnDims d, DevLengths len, const float* x, const float* dy,
                        const float* gamma, const float* save_mean, const float* save_invstd,
                        const float* scratch, float* dx, size_t total) {
  const ChannelIter it{d};
  for (size_t e = blockIdx.x * size_t{blockDim.x} + threadIdx.x; e < total;
       e += size_t{blockDim.x} * gridDim.x) {
    bool valid;
    const int k = it.channel(e, len, &valid);
    if (!valid) {
      dx[e] = 0.0f;
      continue;
    }
    const float g = gamma[k] * save_invstd[k];
    const float xh = (x[e] - save_mean[k]) * save_invstd[k];
    dx[e] = g * (dy[e] - scratch[k] - xh * scratch[d.c + k]);
  }
}

size_t total_of(const BnDims& d) {
  return d.kind == BnLayout::kRows ? static_cast<size_t>(d.t) * d.n * d.c
                                   : static_cast<size_t>(d.n) * d.c * d.t * d.f;
}

}  // namespace

cudaError_t launch_bn_forward_train(cudaStream_t s, const BnDims& d, const DevLengths& len,
                                    const float* x, const float* gamma, const float* beta,
                                    float eps, float momentum, float* y, float* save_mean,
                                    float* save_invstd, float* running_mean, float* running_var) {
  if (d.c <= 0) return cudaSuccess;
  if (d.kind == BnLayout::kRows)
    bn_rows_stats_k<<<(d.c + 31) / 32, dim3(32, kRowsY), 0, s>>>(
        d, len, x, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  else
    bn_stats_k<<<d.c, kThreads, 0, s>>>(d, len, x, eps, momentum, save_mean, save_invstd,
                                        running_mean, running_var);
  const size_t total = total_of(d);
  if (total)
    bn_apply_k<<<grid_for(total), kThreads, 0, s>>>(d, len, x, gamma, beta, save_mean, save_invstd,
                                                    false, eps, y, total);
  return cudaGetLastError();
}

cudaError_t launch_bn_forward_infer(cudaStream_t s, const BnDims& d, const DevLengths& len,
                                    const float* x, const float* gamma, const float* beta,
                                    const float* running_mean, const float* running_var, float eps,
                                    float* y) {
  const size_t total = total_of(d);
  if (total)
    bn_apply_k<<<grid_for(total), kThreads, 0, s>>>(d, len, x, gamma, beta, running_mean,
                                                    running_var, true, eps, y, total);
  return cudaGetLastError();
}

cudaError_t launch_bn_backward(cudaStream_t s, const BnDims& d, const DevLengths& len,
                               const float* x, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, float* dx,
                               float* dgamma, float* dbeta, float* scratch) {
  if (d.c <= 0) return cudaSuccess;
  if (d.kind == BnLayout::kRows)
    bn_rows_bwd_sums_k<<<(d.c + 31) / 32, dim3(32, kRowsY), 0, s>>>(
        d, len, x, dy, save_mean, save_invstd, dgamma, dbeta, scratch);
  else
    bn_bwd_sums_k<<<d.c, kThreads, 0, s>>>(d, len, x, dy, save_mean, save_invstd, dgamma, dbeta,
                                           scratch);
  const size_t total = total_of(d);
  if (dx && total)
    bn_dx_k<<<grid_for(total), kThreads, 0, s>>>(d, len, x, dy, gamma, save_mean, save_invstd,
                                                 scratch, dx, total);
  return cudaGetLastError();
}

}  // namespace ds2::model::cuda
