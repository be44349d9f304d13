// The backend's CTC op on the CPU: forwards to ctc_loss_cpu (model/ctc.h) with this backend's
// thread count. (Named ctc_op.cc so it does not collide with the CTC implementation's files.)
#include "model/cpu/cpu_backend.h"
#include "model/ctc.h"

namespace ds2::model::cpu {

size_t CpuBackend::ctc_workspace_bytes(const CtcShape& shape) {
  return ctc_cpu_workspace_bytes(shape);
}

void CpuBackend::ctc_loss(const float* act, float* grad, const int32_t* labels,
                          const int32_t* label_lengths, const int32_t* input_lengths,
                          const CtcShape& shape, float* costs, uint8_t* impossible,
                          void* workspace) {
  ctc_loss_cpu<float>(act, grad, labels, label_lengths, input_lengths, shape, costs, impossible,
                      workspace, threads_, 0);
}

}  // namespace ds2::model::cpu
