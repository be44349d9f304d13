// NCCL communicator on the CUDA backend's device (see model/nccl.h). One stream of its own:
// each all-reduce waits (cudaStreamWaitEvent, on the GPU, not the host) for the event recorded
// after the bucket's backward kernels, then runs ncclAllReduce in place, so the reduction of the
// last layers overlaps the backward pass of the earlier ones. synchronize() waits for the stream.
// Every NCCL call is checked: an error becomes CommError naming the call and NCCL's text.
#include "ds2/config.h"
#ifdef DS2_HAS_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>

#include "model/cuda/check.h"
#include "model/cuda/nccl_comm.h"

#define DS2_NCCL_CHECK(stmt)                                                          \
  do {                                                                                \
    const ncclResult_t ds2_nccl_rc_ = (stmt);                                         \
    if (ds2_nccl_rc_ != ncclSuccess)                                                  \
      DS2_THROW(CommError, "{} failed: {}", #stmt, ncclGetErrorString(ds2_nccl_rc_)); \
  } while (0)

namespace ds2::model::cuda {
namespace {

class Nccl final : public NcclComm {
 public:
  // On the calling thread's current device: the backend's (model/device.h set it).
  Nccl(const std::string& id, int nranks, int rank) {
    DS2_REQUIRE(id.size() == sizeof(ncclUniqueId), CommError,
                "NCCL bootstrap: unique id of {} bytes, expected {}", id.size(),
                sizeof(ncclUniqueId));
    ncclUniqueId uid;
    std::memcpy(&uid, id.data(), sizeof(uid));
    DS2_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    const ncclResult_t rc = ncclCommInitRank(&comm_, nranks, uid, rank);
    if (rc != ncclSuccess) {
      cudaStreamDestroy(stream_);
      DS2_THROW(CommError, "ncclCommInitRank({} ranks, rank {}) failed: {}", nranks, rank,
                ncclGetErrorString(rc));
    }
  }
  ~Nccl() override {
    cudaStreamSynchronize(stream_);  // best effort: destructors do not throw
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }
  void allreduce(float* data, size_t n, void* event) override {
    if (event) DS2_CUDA_CHECK(cudaStreamWaitEvent(stream_, static_cast<cudaEvent_t>(event), 0));
    DS2_NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, stream_));
  }
  void synchronize() override {
    DS2_CUDA_CHECK(cudaStreamSynchronize(stream_));
    ncclResult_t async = ncclSuccess;
    DS2_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    DS2_REQUIRE(async == ncclSuccess, CommError, "NCCL all-reduce failed: {}",
                ncclGetErrorString(async));
  }

 private:
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::string nccl_unique_id() {
  ncclUniqueId uid;
  DS2_NCCL_CHECK(ncclGetUniqueId(&uid));
  return std::string(reinterpret_cast<const char*>(&uid), sizeof(uid));
}

std::unique_ptr<NcclComm> make_nccl_comm(Backend& be, const std::string& id, int nranks, int rank) {
  // Through the Backend interface only (no CudaBackend symbols: a binary that never builds a
  // network does not link the whole backend for this).
  DS2_REQUIRE(be.device() == Device::kCuda && be.device_index() >= 0, ConfigError,
              "NCCL needs the CUDA backend");
  DS2_CUDA_CHECK(cudaSetDevice(be.device_index()));
  return std::make_unique<Nccl>(id, nranks, rank);
}

}  // namespace ds2::model::cuda
#endif  // DS2_HAS_NCCL
