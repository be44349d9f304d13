// Launchers of the convolution helpers (im2col.cu): im2col / col2im and the time-tap add and
// gather of the stride-1 convolution; semantics in model/backend.h.
#pragma once

#include "model/backend.h"
#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

cudaError_t launch_im2col(cudaStream_t s, const ConvGeom& g, const float* x, int t0, int nt,
                          float* col);
cudaError_t launch_col2im(cudaStream_t s, const ConvGeom& g, const float* col, int t0, int nt,
                          float* dx);
cudaError_t launch_conv_tap_add(cudaStream_t s, const float* p, int c, int kt, int s0, int m,
                                int pt, int t_out, int f, float* z, int ldz);
cudaError_t launch_conv_tap_gather(cudaStream_t s, const float* dz, int ldz, int c, int kt, int s0,
                                   int m, int pt, int t_out, int f, float* dp);

}  // namespace ds2::model::cuda
