// One GPU per rank: which CUDA device a rank uses, chosen from its node-local rank.
//
// Rule: with `visible` CUDA devices (what CUDA_VISIBLE_DEVICES leaves; CUDA numbers them 0..n-1),
// node-local rank l uses device l mod visible, unless a device is requested (--gpu, or the
// DS2_GPU environment variable where a subcommand has no --gpu): then that one, which must be
// < visible. More ranks than GPUs on a node is allowed (ranks share a device) and warned about,
// because NCCL refuses two ranks on one device. Slurm's --gpus-per-task=1 gives every task one
// visible device, and the rule then picks device 0 of each task's own set.
//
// The NodePlace comes from core/node.h's node_place(), called by train/ and eval/ (model/ knows
// nothing of MPI). select_gpu() is called once per process, before any backend is created.
#pragma once

#include <string>

#include "core/node.h"

namespace ds2::model {

// Device index for this rank (see above); requested < 0: none requested. ConfigError when
// visible < 1 or requested >= visible.
int gpu_for_rank(const NodePlace& p, int visible, int requested);

struct GpuChoice {
  int gpu = -1;     // device made current; -1 for the CPU
  int visible = 0;  // CUDA devices this process sees
};

// device "cpu": does nothing, returns {-1, 0}. device "cuda": refuses in one line
// (ConfigError) when the build has no CUDA backend or this machine has no usable device;
// otherwise picks gpu_for_rank(p, visible, requested), makes it the current device
// (cudaSetDevice) and logs "rank r on host h uses GPU g of n (name)". requested < 0: DS2_GPU
// when set (a non-negative integer, else ConfigError), else none.
GpuChoice select_gpu(const std::string& device, const NodePlace& p, int requested = -1);

}  // namespace ds2::model
