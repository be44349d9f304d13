// Launcher of the CTC kernel (ctc_op.cu) and the layout of its device workspace. The host side
// (ctc_op.cc) validates the inputs like ctc_loss_cpu, packs the labels and lengths into the
// workspace header, launches, and copies the costs back.
#pragma once

#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

// Workspace (device): a header of header_bytes = [costs double[N] | in_len int32[N] |
// lab_len int32[N] | status int32[N] | labels int32[N * max_label] (row n = utterance n)], i.e.
// byte offsets 0, 8N, 12N, 16N, 20N; then N slots of slot_bytes each (see ctc_op.cu).
struct CtcDevLayout {
  int max_time = 0, batch = 0, alphabet = 0, max_label = 0, blank = 0;
  size_t row = 0;  // doubles per lattice row: 2 * max_label + 1 + 4 (two pads each side)
  size_t header_bytes = 0;
  size_t slot_bytes = 0;
  size_t total_bytes() const { return header_bytes + static_cast<size_t>(batch) * slot_bytes; }
};

CtcDevLayout ctc_dev_layout(int max_time, int batch, int alphabet, int max_label, int blank);

// status[n]: 0 = run the lattice, 1 = no alignment possible (grad rows zeroed, cost untouched),
// 2 = T = L = 0 (cost 0, grad rows zeroed). grad may be null. act/grad (T, N, C) device memory.
cudaError_t launch_ctc(cudaStream_t s, const CtcDevLayout& lay, const float* act, float* grad,
                       void* workspace);

}  // namespace ds2::model::cuda
