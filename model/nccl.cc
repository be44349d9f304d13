// NCCL factory: forwards to model/cuda/nccl_comm.cc when built with NCCL, else refuses.
#include "model/nccl.h"

#include "core/error.h"
#include "ds2/config.h"
#ifdef DS2_HAS_NCCL
#include "model/cuda/nccl_comm.h"
#endif

namespace ds2::model {

#ifdef DS2_HAS_NCCL
bool nccl_available() { return true; }
std::string nccl_unique_id() { return cuda::nccl_unique_id(); }
std::unique_ptr<NcclComm> make_nccl_comm(Backend& be, const std::string& id, int nranks, int rank) {
  DS2_REQUIRE(be.device() == Device::kCuda, ConfigError,
              "option '--allreduce': nccl needs model.device=cuda (gradients in GPU memory)");
  return cuda::make_nccl_comm(be, id, nranks, rank);
}
#else
namespace {
[[noreturn]] void refuse() {
  DS2_THROW(ConfigError,
            "option '--allreduce': nccl is not in this build (needs CUDA and NCCL at configure "
            "time; DS2_CUDA=AUTO found {})",
#ifdef DS2_HAS_CUDA
            "CUDA but no nccl.h/libnccl"
#else
            "no CUDA"
#endif
  );
}
}  // namespace
bool nccl_available() { return false; }
std::string nccl_unique_id() { refuse(); }
std::unique_ptr<NcclComm> make_nccl_comm(Backend&, const std::string&, int, int) { refuse(); }
#endif

}  // namespace ds2::model
