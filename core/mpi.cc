// MpiEnv, Comm and abort_all (mpi.h). Variable-length strings travel as a gather of lengths then
// one MPI_*v call of the bytes (each limited to 2^31 bytes, as MPI counts are int); abort_all
// prints the reason once and takes every rank down with MPI_Abort.
#include "core/mpi.h"

#include <cstdio>
#include <cstdlib>

#include "core/log.h"

namespace ds2 {

void mpi_fail(const char* call, int rc, const char* file, int line) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) len = 0;
  throw CommError(fmt::format("{} failed: {} [{}:{}]", call, std::string(buf, len),
                              detail::short_path(file), line));
}

MpiEnv::MpiEnv(int* argc, char*** argv, int required) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    DS2_MPI_CHECK(MPI_Init_thread(argc, argv, required, &provided_));
    owns_ = true;
  } else {
    MPI_Query_thread(&provided_);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiEnv::~MpiEnv() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Comm::Comm(MPI_Comm c, bool owned) : comm_(c), owned_(owned) {
  DS2_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  DS2_MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

Comm::~Comm() {
  if (owned_ && comm_ != MPI_COMM_NULL) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
}

Comm::Comm(Comm&& o) noexcept : comm_(o.comm_), owned_(o.owned_), rank_(o.rank_), size_(o.size_) {
  o.comm_ = MPI_COMM_NULL;
  o.owned_ = false;
}

Comm& Comm::operator=(Comm&& o) noexcept {
  if (this != &o) {
    this->~Comm();
    comm_ = o.comm_;
    owned_ = o.owned_;
    rank_ = o.rank_;
    size_ = o.size_;
    o.comm_ = MPI_COMM_NULL;
    o.owned_ = false;
  }
  return *this;
}

Comm Comm::dup() const {
  MPI_Comm c;
  DS2_MPI_CHECK(MPI_Comm_dup(comm_, &c));
  DS2_MPI_CHECK(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN));
  return Comm(c, true);
}

void Comm::barrier() const { DS2_MPI_CHECK(MPI_Barrier(comm_)); }

void Comm::bcast_string(std::string& s, int root) const {
  int64_t n = static_cast<int64_t>(s.size());
  bcast(&n, 1, root);
  s.resize(static_cast<size_t>(n));
  if (n > 0) DS2_MPI_CHECK(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_));
}

std::vector<std::string> Comm::allgather_strings(const std::string& mine) const {
  DS2_REQUIRE(mine.size() < (1u << 31), CommError, "allgather_strings: {} bytes is too large",
              mine.size());
  std::vector<int> lens = allgather_value<int32_t>(static_cast<int32_t>(mine.size()));
  std::vector<int> displs(size_, 0);
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = static_cast<int>(total);
    total += lens[r];
  }
  DS2_REQUIRE(total < (int64_t(1) << 31), CommError, "allgather_strings: {} bytes in all", total);
  std::string all(static_cast<size_t>(total), '\0');
  DS2_MPI_CHECK(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(),
                               lens.data(), displs.data(), MPI_CHAR, comm_));
  std::vector<std::string> out(size_);
  for (int r = 0; r < size_; ++r) out[r] = all.substr(displs[r], lens[r]);
  return out;
}

std::vector<std::string> Comm::gather_strings(const std::string& mine, int root) const {
  DS2_REQUIRE(mine.size() < (1u << 31), CommError, "gather_strings: {} bytes is too large",
              mine.size());
  const int32_t len = static_cast<int32_t>(mine.size());
  std::vector<int> lens(rank_ == root ? size_ : 0);
  DS2_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT32_T, lens.data(), 1, MPI_INT32_T, root, comm_));
  std::vector<int> displs(lens.size(), 0);
  int64_t total = 0;
  for (size_t r = 0; r < lens.size(); ++r) {
    displs[r] = static_cast<int>(total);
    total += lens[r];
  }
  DS2_REQUIRE(total < (int64_t(1) << 31), CommError, "gather_strings: {} bytes in all", total);
  std::string all(static_cast<size_t>(total), '\0');
  DS2_MPI_CHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(),
                            MPI_CHAR, root, comm_));
  std::vector<std::string> out(lens.size());
  for (size_t r = 0; r < lens.size(); ++r) out[r] = all.substr(displs[r], lens[r]);
  return out;
}

std::string Comm::scatter_strings(const std::vector<std::string>& parts, int root) const {
  std::vector<int> lens, displs;
  std::string all;
  if (rank_ == root) {
    DS2_REQUIRE(parts.size() == static_cast<size_t>(size_), CommError,
                "scatter_strings: {} parts for {} ranks", parts.size(), size_);
    for (const auto& p : parts) {
      displs.push_back(static_cast<int>(all.size()));
      lens.push_back(static_cast<int>(p.size()));
      all += p;
      DS2_REQUIRE(all.size() < (1u << 31), CommError, "scatter_strings: {} bytes in all",
                  all.size());
    }
  }
  int32_t len = 0;
  DS2_MPI_CHECK(MPI_Scatter(lens.data(), 1, MPI_INT32_T, &len, 1, MPI_INT32_T, root, comm_));
  std::string mine(static_cast<size_t>(len), '\0');
  DS2_MPI_CHECK(MPI_Scatterv(all.data(), lens.data(), displs.data(), MPI_CHAR, mine.data(), len,
                             MPI_CHAR, root, comm_));
  return mine;
}

void Comm::send_string(const std::string& s, int dest, int tag) const {
  DS2_REQUIRE(s.size() < (1u << 31), CommError, "send_string: {} bytes is too large", s.size());
  DS2_MPI_CHECK(MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, dest, tag, comm_));
}

std::string Comm::recv_string(int src, int tag) const {
  MPI_Status st;
  DS2_MPI_CHECK(MPI_Probe(src, tag, comm_, &st));
  int n = 0;
  DS2_MPI_CHECK(MPI_Get_count(&st, MPI_CHAR, &n));
  std::string s(static_cast<size_t>(n), '\0');
  DS2_MPI_CHECK(MPI_Recv(s.data(), n, MPI_CHAR, src, tag, comm_, MPI_STATUS_IGNORE));
  return s;
}

bool Comm::any(bool mine) const {
  int v = mine ? 1 : 0;
  allreduce(&v, 1, MPI_MAX);
  return v != 0;
}

void abort_all(const std::string& reason, int code) {
  std::fprintf(stderr, "ds2: error: %s\n", reason.c_str());
  std::fflush(stderr);
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  int size = 1;
  if (inited && !finalized) MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (inited && !finalized && size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

namespace {
Comm node_comm(const Comm& c) {
  MPI_Comm node;
  DS2_MPI_CHECK(MPI_Comm_split_type(c.raw(), MPI_COMM_TYPE_SHARED, c.rank(), MPI_INFO_NULL, &node));
  return Comm(node, true);
}
}  // namespace

int local_rank(const Comm& c) { return node_comm(c).rank(); }
int local_size(const Comm& c) { return node_comm(c).size(); }

}  // namespace ds2
