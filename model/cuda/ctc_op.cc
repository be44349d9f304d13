// The backend's CTC op on the GPU, host side: validates the inputs exactly like ctc_loss_cpu
// (same ConfigError messages), decides on the host which utterances have no alignment
// (ctc_min_frames), packs lengths, status and labels into the workspace header with one upload,
// launches the kernel (ctc_op.cu) and copies the costs back (synchronizing the stream).
#include "model/cuda/ctc_op.cuh"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "model/ctc.h"  // CtcShape
#include "model/cuda/check.h"
#include "model/cuda/cuda_backend.h"

namespace ds2::model::cuda {
namespace {

constexpr int kBlank = 0;

CtcDevLayout layout_of(const CtcShape& sh) {
  return ctc_dev_layout(sh.max_time, sh.batch, sh.alphabet, sh.max_label, kBlank);
}

// Fewest frames for an alignment (ctc_min_frames in model/ctc.h, which lives in ds2_model; this
// target must not depend on it): L plus one per pair of equal adjacent labels.
int min_frames(const int32_t* lab, int l) {
  int m = l;
  for (int i = 1; i < l; ++i) m += lab[i] == lab[i - 1] ? 1 : 0;
  return m;
}

}  // namespace

size_t CudaBackend::ctc_workspace_bytes(const CtcShape& shape) {
  if (shape.batch <= 0) return 0;
  return layout_of(shape).total_bytes();
}

void CudaBackend::ctc_loss(const float* act, float* grad, const int32_t* labels,
                           const int32_t* label_lengths, const int32_t* input_lengths,
                           const CtcShape& sh, float* costs, uint8_t* impossible, void* workspace) {
  ctc_check_inputs(act, labels, label_lengths, input_lengths, sh, costs, impossible, kBlank);
  if (sh.batch == 0) return;
  DS2_REQUIRE(workspace, ConfigError, "ctc: null workspace");
  const CtcDevLayout lay = layout_of(sh);
  const size_t n = static_cast<size_t>(sh.batch);
  // Host image of the header: costs (left 0) | in_len | lab_len | status | labels.
  std::vector<char> header(lay.header_bytes, 0);
  int32_t* in_len = reinterpret_cast<int32_t*>(header.data() + 8 * n);
  int32_t* lab_len = in_len + n;
  int32_t* status = lab_len + n;
  int32_t* packed = status + n;
  size_t offset = 0;
  for (int j = 0; j < sh.batch; ++j) {
    const int t = input_lengths[j], l = label_lengths[j];  // checked above
    const int32_t* lab = labels + offset;
    in_len[j] = t;
    lab_len[j] = l;
    if (l > 0)
      std::memcpy(packed + static_cast<size_t>(j) * sh.max_label, lab, l * sizeof(int32_t));
    if (t == 0 && l == 0)
      status[j] = 2;
    else if (t == 0 || min_frames(lab, l) > t)
      status[j] = 1;
    offset += static_cast<size_t>(l);
  }
  DS2_CUDA_CHECK(
      cudaMemcpyAsync(workspace, header.data(), header.size(), cudaMemcpyHostToDevice, stream_));
  DS2_CUDA_CHECK(launch_ctc(stream_, lay, act, grad, workspace));
  std::vector<double> dcost(n);
  DS2_CUDA_CHECK(cudaMemcpyAsync(dcost.data(), workspace, n * sizeof(double),
                                 cudaMemcpyDeviceToHost, stream_));
  synchronize();
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j) {
    if (status[j] == 1 || dcost[j] == std::numeric_limits<double>::infinity()) {
      costs[j] = inf;
      impossible[j] = 1;
    } else {
      costs[j] = static_cast<float>(dcost[j]);
      impossible[j] = 0;
    }
  }
}

}  // namespace ds2::model::cuda
