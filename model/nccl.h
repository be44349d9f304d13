// NCCL all-reduce of device buffers, behind an interface the host code in train/ can use without
// CUDA or NCCL headers (STYLE.md 4). Implemented in model/cuda/nccl_comm.cc when the build found
// NCCL at configure time (DS2_HAS_NCCL); otherwise nccl_available() is false and the factories
// refuse in one line.
//
// Bootstrap (train/allreduce.cc): rank 0 calls nccl_unique_id(), the bytes are broadcast over
// MPI, every rank calls make_nccl_comm(backend, id, nranks, rank) (collective). Each rank must
// drive its own GPU: NCCL refuses two ranks of one communicator on the same device.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "model/backend.h"

namespace ds2::model {

class NcclComm {
 public:
  virtual ~NcclComm() = default;
  // Queues an in-place sum over all ranks of n floats at `data` (the backend's device memory)
  // on NCCL's own stream, after `event` (Backend::record_event) completes; returns at once.
  // Calls run in order, the same order on every rank.
  virtual void allreduce(float* data, size_t n, void* event) = 0;
  // Blocks until every queued all-reduce finished; CommError on an NCCL failure.
  virtual void synchronize() = 0;
};

// Whether this build has NCCL.
bool nccl_available();
// ncclGetUniqueId's bytes (rank 0 only). ConfigError without NCCL.
std::string nccl_unique_id();
// Collective over the `nranks` ranks that got `id`. `be` must be a CUDA backend on this rank's
// device (ConfigError otherwise or without NCCL; CommError when NCCL fails).
std::unique_ptr<NcclComm> make_nccl_comm(Backend& be, const std::string& id, int nranks, int rank);

}  // namespace ds2::model
