// RAII MPI environment and a communicator wrapper with typed collectives.
//
// Every MPI call goes through DS2_MPI_CHECK, which throws CommError naming the call. The
// communicator uses MPI_ERRORS_RETURN so a failure becomes an exception; `main` turns an
// uncaught exception into abort_all(), which takes every rank down with the reason printed
// once, so a failing rank never leaves the others hung in a collective.
//
// All collectives must be called by every rank of the communicator, in the same order.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

#define DS2_MPI_CHECK(call)                                                                  \
  do {                                                                                       \
    int ds2_mpi_rc_ = (call);                                                                \
    if (ds2_mpi_rc_ != MPI_SUCCESS) ::ds2::mpi_fail(#call, ds2_mpi_rc_, __FILE__, __LINE__); \
  } while (0)

namespace ds2 {

[[noreturn]] void mpi_fail(const char* call, int rc, const char* file, int line);

// Maps a C++ arithmetic type to its MPI datatype.
template <typename T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, int32_t>)
    return MPI_INT32_T;
  else if constexpr (std::is_same_v<T, int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, uint32_t>)
    return MPI_UINT32_T;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return MPI_UINT8_T;
  else
    static_assert(sizeof(T) == 0, "no MPI datatype for this type");
}

// Initializes MPI (thread level FUNNELED by default, or what `required` asks) on construction
// and finalizes on destruction. Works for a plain single process too (singleton MPI).
class MpiEnv {
 public:
  MpiEnv(int* argc, char*** argv, int required = MPI_THREAD_FUNNELED);
  ~MpiEnv();
  MpiEnv(const MpiEnv&) = delete;
  MpiEnv& operator=(const MpiEnv&) = delete;
  int provided() const { return provided_; }

 private:
  int provided_ = 0;
  bool owns_ = false;
};

// A communicator: rank, size and typed collectives. Non-owning for MPI_COMM_WORLD; dup()
// returns an owning copy (freed on destruction) so a library's traffic cannot match another's.
class Comm {
 public:
  Comm() : Comm(MPI_COMM_WORLD) {}
  explicit Comm(MPI_Comm c, bool owned = false);
  ~Comm();
  Comm(Comm&& o) noexcept;
  Comm& operator=(Comm&& o) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  static Comm world() { return Comm(MPI_COMM_WORLD); }
  Comm dup() const;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  MPI_Comm raw() const { return comm_; }

  void barrier() const;

  // In-place sum (or op) over all ranks of n elements.
  template <typename T>
  void allreduce(T* data, size_t n, MPI_Op op = MPI_SUM) const {
    DS2_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), mpi_type<T>(), op, comm_));
  }
  template <typename T>
  T allreduce_value(T v, MPI_Op op = MPI_SUM) const {
    allreduce(&v, 1, op);
    return v;
  }
  template <typename T>
  void bcast(T* data, size_t n, int root = 0) const {
    DS2_MPI_CHECK(MPI_Bcast(data, static_cast<int>(n), mpi_type<T>(), root, comm_));
  }
  void bcast_string(std::string& s, int root = 0) const;

  // Every rank contributes one value; every rank gets all of them in rank order.
  template <typename T>
  std::vector<T> allgather_value(T v) const {
    std::vector<T> out(size_);
    DS2_MPI_CHECK(MPI_Allgather(&v, 1, mpi_type<T>(), out.data(), 1, mpi_type<T>(), comm_));
    return out;
  }
  // Variable-length gather of byte strings to every rank, in rank order.
  std::vector<std::string> allgather_strings(const std::string& mine) const;
  // The same to `root` only (the others get an empty vector): for results that only the root
  // writes, so no other rank holds them all. One call moves < 2 GiB in all (CommError beyond):
  // callers with more cut their data into rounds.
  std::vector<std::string> gather_strings(const std::string& mine, int root = 0) const;
  // The inverse: `root` passes one string per rank (others pass nothing); each rank gets its own.
  std::string scatter_strings(const std::vector<std::string>& parts, int root = 0) const;

  // Point to point: one byte string (< 2 GiB) to `dest`, received whole by recv_string from
  // `src` (its length probed first). Blocking; messages between two ranks arrive in send order.
  void send_string(const std::string& s, int dest, int tag = 0) const;
  std::string recv_string(int src, int tag = 0) const;

  // True when any rank passes true: used to agree on failure before a collective step.
  bool any(bool mine) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0;
  int size_ = 1;
};

// Prints `reason` and aborts every rank of MPI_COMM_WORLD (or exits when MPI is not up).
[[noreturn]] void abort_all(const std::string& reason, int code = 1);

// The rank within this node (for picking a GPU or sizing thread pools), from
// MPI_Comm_split_type(SHARED).
int local_rank(const Comm& c);
int local_size(const Comm& c);

}  // namespace ds2
