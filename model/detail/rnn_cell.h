// Per-element cell math of the recurrent layers (model/rnn.h), shared by the CPU and CUDA
// backends: the CPU loops over the units of a row (model/cpu/rnn.cc), a CUDA kernel runs one
// thread per (row, unit) (model/cuda/rnn.cu), and both call these functions, so the two cannot
// drift apart. Plain float values only. The sigmoid and tanh are built on exp_polyf (math.h):
// branch-free, so the CPU loop over a row's units vectorizes (libm's tanhf alone took 7% of a
// training step), and no libm call, so host and device evaluate the same operations.
//
// GRU (gate order z, r, c; x* = input part after batch norm, u* = (h_{t-1} U + b)*):
//   z = sig(xz + uz), r = sig(xr + ur), c = tanh(xc + r uc), h = (1 - z) c + z h_prev.
// Backward from g = dL/dh_t (the total gradient at h_t), with the saved z, r, c, uc:
//   dc = g (1 - z)(1 - c^2)           (through tanh: d/d (xc + r uc))
//   dz = g (h_prev - c) z (1 - z)     (through the sigmoid: d/d (xz + uz))
//   dr = dc uc r (1 - r)              (d/d (xr + ur))
//   d xz, xr, xc = dz, dr, dc;  d uz, ur, uc = dz, dr, dc r;  direct path dh_prev = g z.
// Simple RNN: h = min(max(a + uh, 0), clip); da = g where 0 < h < clip, else 0.
#pragma once

#include "model/detail/math.h"

namespace ds2::model::detail {

// 1 / (1 + e^-x); absolute error < 1e-7; NaN stays NaN.
DS2_HOSTDEVICE DS2_FORCE_INLINE float sigmoid(float x) {
  const float s = 1.0f / (1.0f + exp_polyf(-x));
  return x == x ? s : x;
}

// tanh x = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|); absolute error < 2e-7 (relative error grows
// near 0 as 1e-7 / |x|, far below what a float activation resolves); NaN stays NaN.
DS2_HOSTDEVICE DS2_FORCE_INLINE float tanh_cell(float x) {
  const float a = x < 0.0f ? -x : x;
  const float t = exp_polyf(-2.0f * a);
  const float m = (1.0f - t) / (1.0f + t);
  const float r = x < 0.0f ? -m : m;
  return x == x ? r : x;
}

// The forward gates of one unit; returns h and stores z, r, c for the backward step.
DS2_HOSTDEVICE DS2_FORCE_INLINE float gru_cell_forward(float xz, float xr, float xc, float uz,
                                                       float ur, float uc, float h_prev, float* z,
                                                       float* r, float* c) {
  *z = sigmoid(xz + uz);
  *r = sigmoid(xr + ur);
  *c = tanh_cell(xc + *r * uc);
  return (1.0f - *z) * *c + *z * h_prev;
}

// Unit k of one row in the layout of Backend::gru_step_forward: x and u hold the z, r, c parts
// (3 h each), saved gets z, r, c and uc (4 h); returns h.
DS2_HOSTDEVICE DS2_FORCE_INLINE float gru_unit_forward(const float* x, const float* u, float h_prev,
                                                       int h, int k, float* saved) {
  float z, r, c;
  const float out = gru_cell_forward(x[k], x[h + k], x[2 * h + k], u[k], u[h + k], u[2 * h + k],
                                     h_prev, &z, &r, &c);
  saved[k] = z;
  saved[h + k] = r;
  saved[2 * h + k] = c;
  saved[3 * h + k] = u[2 * h + k];
  return out;
}

// Gradients of one unit w.r.t. the gate pre-activations (see the header comment).
struct GruCellGrad {
  float dz, dr, dc;
};
DS2_HOSTDEVICE DS2_FORCE_INLINE GruCellGrad gru_cell_backward(float g, float h_prev, float z,
                                                              float r, float c, float uc) {
  GruCellGrad d;
  d.dc = g * (1.0f - z) * (1.0f - c * c);
  d.dz = g * (h_prev - c) * z * (1.0f - z);
  d.dr = d.dc * uc * r * (1.0f - r);
  return d;
}

// clamp, not fminf/fmaxf: a NaN stays NaN (and reaches the loss, which counts it).
// Stores one unit k's gradients into its rows of dxg (3 h: dz, dr, dc) and duh (3 h: dz, dr,
// dc r), the layout of Backend::gru_step_backward.
DS2_HOSTDEVICE DS2_FORCE_INLINE void gru_cell_store_grad(const GruCellGrad& d, float r, int h,
                                                         int k, float* dx, float* du) {
  dx[k] = d.dz;
  dx[h + k] = d.dr;
  dx[2 * h + k] = d.dc;
  du[k] = d.dz;
  du[h + k] = d.dr;
  du[2 * h + k] = d.dc * r;
}

DS2_HOSTDEVICE DS2_FORCE_INLINE float rnn_cell_forward(float a, float uh, float clip) {
  return clamp(a + uh, 0.0f, clip);
}
// g where the forward output h lies strictly inside (0, clip), else 0.
DS2_HOSTDEVICE DS2_FORCE_INLINE float rnn_cell_backward(float h, float g, float clip) {
  return (h > 0.0f && h < clip) ? g : 0.0f;
}

}  // namespace ds2::model::detail
