// Replica check: are the model copies on every rank still bit-identical?
//
// Synchronous data parallelism keeps one copy of the parameters and optimizer state per rank and
// relies on every rank applying the same update to the same values. Nothing in MPI promises that:
// MPI_Allreduce may sum in a rank-dependent order (the standard only "advises" identical
// results), a broken NIC or memory error changes one rank's copy, and a bug that makes one rank
// skip or repeat a step diverges silently -- only rank 0 checkpoints, so the others' state is
// never looked at. This check makes divergence visible.
//
// Cost: each rank hashes its tensors (bytes_digest, 4.1 GB/s on one core of the development
// machine: ~0.2 s for the 800 MB of parameters + velocity of a 100 M-parameter model, 6 ms for
// ds2-small's 25 MB) and all-gathers one 64-bit digest per tensor, a few KiB. The trainer runs it
// every
// --replica-check-every steps (default 100) and before every checkpoint.
//
// Batch-norm running statistics are NOT compared: each rank keeps statistics of its own slices
// by design (trainer.h); the averaged statistics that checkpoints store are computed on every
// rank from one all-gather of all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.h"

namespace ds2::train {

// One named tensor in host memory.
struct ReplicaTensor {
  std::string name;  // e.g. "rnn0.fwd.U" or "velocity/rnn0.fwd.U"
  const float* data = nullptr;
  size_t size = 0;  // floats
};

// A 64-bit digest of n floats' bytes (portable, deterministic; not cryptographic: it detects
// accidental divergence, any single changed bit among others included).
uint64_t tensor_digest(const float* x, size_t n);

// Collective over `world`; every rank passes the same list of names and sizes. Compares each
// tensor's digest with rank 0's; on any difference throws CommError on EVERY rank (all see the
// same gathered digests) naming `when` (e.g. "step 1200"), the ranks that differ from rank 0, the
// first differing tensor in list order and how many differ. A list whose names or sizes differ
// between ranks is a CommError too.
void check_replicas(const Comm& world, const std::vector<ReplicaTensor>& tensors,
                    const std::string& when);

}  // namespace ds2::train
