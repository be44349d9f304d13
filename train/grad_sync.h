// One synchronous data-parallel gradient step across ranks: local forward/backward with the
// gradient arena all-reduced in buckets WHILE the backward pass runs, then a small reduction of
// the step's counters.
//
// Buckets: the parameter arena is cut at parameter boundaries into runs of about bucket_bytes,
// planned from the END of the arena backward (the backward pass finishes the last layers first).
// Network::backward reports "every gradient at offsets >= o is final" after each layer; a bucket
// [begin, end) is started on the Allreducer as soon as o <= begin. The plan depends only on the
// model and bucket_bytes, so every rank starts the same buckets in the same order, and with a
// fixed algorithm the sums are bit-identical from run to run (what --resume relies on). On a
// device backend "final" means QUEUED: the Allreducer (given the backend) records an event after
// the queued kernels and its reduction waits on that event before it reads the bucket.
//
// Memory: everything here stays in the network backend's memory (device memory on a GPU): the
// averaging is Backend::scale, the norm Backend::sum_squares, the skipped-step BN restore a
// Backend::copy; only the step's six counters travel through the host.
//
// Normalization: ranks contribute the gradient of the SUM of their finite costs; after the
// reduction the arena is divided by the global count of utterances with a finite cost, giving
// the gradient of the mean per-utterance cost over the global batch (optimizer.h). A rank with an
// empty slice (global batch smaller than the rank count) contributes zeros and a count of 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/network.h"
#include "train/allreduce.h"
#include "train/loader.h"

namespace ds2::train {

struct GradBucket {
  size_t begin = 0, end = 0;  // floats [begin, end) of the parameter/gradient arena
};

// Buckets covering [0, num_params) in the order they become ready (descending offsets). A
// parameter is never split; a bucket closes once it holds >= bucket_bytes (one parameter larger
// than that is a bucket of its own). bucket_bytes = 0: one bucket per parameter.
std::vector<GradBucket> plan_buckets(const std::vector<model::ParamInfo>& params, size_t num_params,
                                     size_t bucket_bytes);

// The global outcome of one step, identical on every rank.
struct StepResult {
  double loss_sum = 0;     // sum of the finite costs over the global batch (nats)
  int64_t utts = 0;        // utterances in the global batch
  int64_t finite = 0;      // with a finite cost (the gradient's divisor)
  int64_t impossible = 0;  // no CTC alignment fits (excluded, counted; the batch still trains)
  int64_t nonfinite = 0;   // NaN/inf cost of a possible utterance: the step must be skipped
  double grad_norm = 0;    // L2 norm of the averaged gradient before clipping (may be NaN)
  bool stop = false;       // some rank asked to stop after this step
  // True when the parameters must not be updated from this step's gradient.
  bool skip() const;
  double mean_loss() const { return finite > 0 ? loss_sum / finite : 0.0; }
};

// Collective over ar.comm(). Zeroes net's gradients, runs forward_backward on `batch` (this
// rank's slice; n = 0 allowed) and leaves in net.grads() the gradient of the mean finite cost over
// the global batch, the same on every rank (left as the raw sum when the global finite count is
// 0). `stop_requested` is this rank's vote; the result's stop is the OR over ranks. When the
// result says skip(), the batch-norm running statistics are restored to what they were before
// the step, so a skipped step leaves the whole model (parameters and buffers) untouched.
StepResult global_gradient_step(model::Network& net, Allreducer& ar,
                                const std::vector<GradBucket>& buckets, const Batch& batch,
                                bool stop_requested);

}  // namespace ds2::train
