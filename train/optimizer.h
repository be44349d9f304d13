// SGD with Nesterov momentum, a per-epoch annealed learning rate and gradient clipping by global
// L2 norm, as Deep Speech 2 trains (Amodei et al. 2016, sec. 3: Nesterov momentum, the learning
// rate divided by a constant factor after every epoch, gradients clipped by norm).
//
// Loss convention (what `lr` is relative to): the trainer sums the CTC costs (nats) of every
// utterance with a finite cost over the GLOBAL batch (all ranks), and divides the summed
// gradient by that count before clipping, so the optimizer sees the gradient of the MEAN
// per-utterance cost. The learning rate therefore does not depend on the batch size or the rank
// count, and a batch where some utterances were impossible/non-finite is averaged over the rest.
//
// Update (momentum buffer v independent of lr, as in PyTorch / Sutskever et al. 2013):
//   g  = clip(grad) + weight_decay * p
//   v  = momentum * v + g
//   p -= lr * (g + momentum * v)                       (Nesterov look-ahead form)
// Clipping: with n = ||grad||_2 over the whole parameter arena (computed in double),
//   grad *= clip_norm / n  when n > clip_norm  (clip_norm <= 0: no clipping).
// Learning rate of epoch e (0-based): lr / anneal^e.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/options.h"
#include "model/backend.h"
#include "model/tensor.h"

namespace ds2::train {

struct OptimizerOptions {
  // Per-utterance-mean gradient (see above). DS2 used 1e-4..6e-4 with momentum 0.99 at batch
  // 512; with momentum 0.9 and small batches 3e-4 is a sane start.
  double lr = 3e-4;
  double momentum = 0.9;
  double anneal = 1.1;      // lr divided by this after every epoch (1: constant)
  double clip_norm = 400;   // max global L2 norm of the averaged gradient; <= 0: off
  double weight_decay = 0;  // L2 penalty coefficient (added to the gradient)

  // The learning rate of 0-based epoch `epoch`.
  double lr_for_epoch(int epoch) const;
  // Registers --lr, --momentum, --anneal, --clip-norm, --weight-decay (validated on notify:
  // ConfigError for lr <= 0, momentum outside [0, 1), anneal <= 0, weight_decay < 0).
  void add_to(po::options_description& d);
};

// L2 norm of n floats, accumulated in double (deterministic: a fixed sequential order). Host
// memory.
double global_norm(const float* g, size_t n);

// Scales g in place so its L2 norm is at most max_norm (no-op when max_norm <= 0 or the norm is
// already within it). Returns the norm BEFORE clipping. Host memory.
double clip_by_global_norm(float* g, size_t n, double max_norm);

// The same on `be`'s memory (device memory on a GPU backend), as backend ops (sum_squares,
// scale): what the trainer uses, so gradients never leave the device. On the CPU backend the
// arithmetic is exactly the host functions' above.
double global_norm(model::Backend& be, const float* g, size_t n);
// Clips g given its norm (already computed, e.g. StepResult::grad_norm): g *= max_norm / norm
// when norm > max_norm > 0. Returns norm.
double clip_to_norm(model::Backend& be, float* g, size_t n, double norm, double max_norm);

// The Nesterov momentum update on one flat parameter arena, in a backend's memory (the
// backend's sgd_nesterov op). The state is the velocity vector, one float per parameter in the
// same memory, saved in checkpoints for an exact resume.
class SgdNesterov {
 public:
  // The arena lives in `be`'s memory; `be` must outlive the optimizer.
  SgdNesterov(model::Backend& be, size_t n, double momentum, double weight_decay = 0);
  // Host memory (a CPU backend of its own): for callers without a network.
  SgdNesterov(size_t n, double momentum, double weight_decay = 0);
  ~SgdNesterov();
  SgdNesterov(const SgdNesterov&) = delete;
  SgdNesterov& operator=(const SgdNesterov&) = delete;

  // params[i] -= ... per the update above, with learning rate `lr`. `n` must equal size().
  // grads are the (already averaged and clipped) gradients; they are not modified.
  void step(float* params, const float* grads, size_t n, double lr);

  size_t size() const { return n_; }
  // Velocity, downloaded to the host (checkpoints). set_velocity uploads it and throws
  // FormatError when the size differs.
  std::vector<float> velocity() const;
  void set_velocity(const std::vector<float>& v);
  // The velocity in the backend's memory (size() floats), e.g. for Backend::host_view.
  const float* velocity_data() const { return v_.data(); }
  model::Backend& backend() const { return *be_; }

 private:
  std::unique_ptr<model::Backend> own_;  // the host constructor's CPU backend
  model::Backend* be_;
  size_t n_;
  model::Buffer v_;
  float momentum_, weight_decay_;
};

}  // namespace ds2::train
