// Chunked, pipelined ring all-reduce (sum) over MPI point-to-point. The schedule and its cost are
// explained at the top of ring_allreduce.cc. Used through train/allreduce.h (Allreducer); exposed
// here for the benchmark and tests.
#pragma once

#include <mpi.h>

#include <cstddef>

namespace ds2::train {

struct RingParams {
  size_t chunk_bytes = size_t(1) << 20;  // pipelining unit; rounded down to whole elements (>= 1)
  int depth = 4;                         // chunks in flight per direction (>= 1)
};

// Bytes of workspace ring_allreduce needs for `count` elements of `elem_size` bytes over `nranks`.
size_t ring_workspace_bytes(size_t count, int nranks, size_t elem_size, const RingParams& p);

// In-place sum of `count` elements at `data` (host memory) over every rank of `comm`. Collective:
// all ranks call it with the same count and params. `workspace` holds at least
// ring_workspace_bytes(...) bytes, suitably aligned for T, and is clobbered. Every MPI call is
// checked (CommError). On return all ranks hold bit-identical sums. T is float or double.
template <typename T>
void ring_allreduce(MPI_Comm comm, T* data, size_t count, const RingParams& p, void* workspace,
                    size_t workspace_bytes);

}  // namespace ds2::train
