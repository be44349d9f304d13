// Bucketed gradient all-reduce overlapped with the backward pass (see grad_sync.h).
#include "train/grad_sync.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "train/optimizer.h"

namespace ds2::train {

bool StepResult::skip() const { return finite == 0 || nonfinite > 0 || !std::isfinite(grad_norm); }

std::vector<GradBucket> plan_buckets(const std::vector<model::ParamInfo>& params, size_t num_params,
                                     size_t bucket_bytes) {
  std::vector<model::ParamInfo> sorted = params;
  std::sort(sorted.begin(), sorted.end(), [](const model::ParamInfo& a, const model::ParamInfo& b) {
    return a.offset > b.offset;
  });
  std::vector<GradBucket> out;
  size_t end = num_params;
  for (const auto& p : sorted) {
    // Parameters tile the arena; any alignment gap after p joins p's bucket.
    const size_t begin = p.offset;
    if ((end - begin) * sizeof(float) >= bucket_bytes) {
      out.push_back({begin, end});
      end = begin;
    }
  }
  if (end > 0) out.push_back({0, end});
  return out;
}

StepResult global_gradient_step(model::Network& net, Allreducer& ar,
                                const std::vector<GradBucket>& buckets, const Batch& batch,
                                bool stop_requested) {
  net.zero_grad();
  float* grads = net.grads();
  // The training-mode forward updates the batch-norm running statistics before anyone knows
  // whether the step will be skipped: keep them to put back (a NaN batch would otherwise leave
  // NaN statistics for good, averaged into every later checkpoint). A few floats per channel.
  // Kept in the backend's memory (a device-to-device copy on a GPU; the CUDA pool recycles the
  // block, so no cudaMalloc per step).
  model::Backend& be = net.backend();
  const size_t nb = net.num_buffer_floats();
  model::Buffer bn_before(&be, nb);
  if (nb > 0) be.copy(bn_before.data(), net.buffers(), nb);
  size_t next = 0;  // next bucket to start; buckets are in descending offset order
  auto start_ready = [&](size_t ready_from) {
    for (; next < buckets.size() && buckets[next].begin >= ready_from; ++next)
      ar.start(grads + buckets[next].begin, buckets[next].end - buckets[next].begin);
  };
  // counters: loss_sum, utts, finite, impossible, nonfinite (possible), stop
  double c[6] = {0, 0, 0, 0, 0, stop_requested ? 1.0 : 0.0};
  if (batch.n > 0) {
    model::LossResult r =
        net.forward_backward(batch.features.data(), batch.lengths.data(), batch.n, batch.t,
                             batch.labels.data(), batch.label_lengths.data(), start_ready);
    int64_t impossible = 0;
    for (uint8_t x : r.impossible) impossible += x;
    c[0] = r.total;
    c[1] = batch.n;
    c[2] = batch.n - r.num_nonfinite;
    c[3] = static_cast<double>(impossible);
    c[4] = static_cast<double>(r.num_nonfinite - impossible);
  }
  start_ready(0);  // all of them (an empty slice contributes zeros)
  ar.wait_all();
  ar.sum(c, 6);
  StepResult s;
  s.loss_sum = c[0];
  s.utts = static_cast<int64_t>(c[1]);
  s.finite = static_cast<int64_t>(c[2]);
  s.impossible = static_cast<int64_t>(c[3]);
  s.nonfinite = static_cast<int64_t>(c[4]);
  s.stop = c[5] > 0;
  const size_t n = net.num_params();
  if (s.finite > 0) be.scale(grads, n, static_cast<float>(1.0 / static_cast<double>(s.finite)));
  s.grad_norm = global_norm(be, grads, n);
  if (s.skip() && nb > 0) be.copy(net.buffers(), bn_before.data(), nb);
  return s;
}

}  // namespace ds2::train
