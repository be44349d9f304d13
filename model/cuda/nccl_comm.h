// The NCCL implementation behind model/nccl.h (compiled only with DS2_HAS_NCCL). Host header
// without CUDA or NCCL includes.
#pragma once

#include <memory>
#include <string>

#include "model/nccl.h"

namespace ds2::model::cuda {

std::string nccl_unique_id();
std::unique_ptr<NcclComm> make_nccl_comm(Backend& be, const std::string& id, int nranks, int rank);

}  // namespace ds2::model::cuda
