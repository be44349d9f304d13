// Launchers of the recurrent-step and lookahead kernels (rnn.cu); semantics in model/backend.h.
#pragma once

#include "model/cuda/common.cuh"

namespace ds2::model::cuda {

cudaError_t launch_rnn_step_forward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                    const float* a, const float* uh, float clip, float* hout);
cudaError_t launch_rnn_step_backward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                     const float* hout, const float* dh, float clip, float* da);
cudaError_t launch_gru_step_forward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                    const float* xg, const float* uh, const float* h_prev,
                                    float* hout, float* saved);
cudaError_t launch_gru_step_backward(cudaStream_t s, int t, int n, int h, const DevLengths& len,
                                     const float* h_prev, const float* saved, const float* dh,
                                     float* dxg, float* duh, float* dh_prev);
cudaError_t launch_lookahead_forward(cudaStream_t s, const float* x, const float* w, int t, int n,
                                     int d, int tau, const DevLengths& len, float* y);
cudaError_t launch_lookahead_backward(cudaStream_t s, const float* x, const float* w,
                                      const float* dy, int t, int n, int d, int tau,
                                      const DevLengths& len, float* dx, float* dw);

}  // namespace ds2::model::cuda
