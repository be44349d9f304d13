// 2-D convolution block of DS2 on (N, C, T, F) maps: conv (no bias) -> batch norm per channel
// over valid positions -> clipped ReLU min(max(x, 0), clip); padded output frames are zero.
//
// Kernel kf x kt (frequency x time, as DS2 writes "41x11"), stride sf x st, zero padding
// pf = (kf - 1) / 2 bins and pt = (kt - 1) / 2 frames on both sides ("same"-style), so an
// utterance of T valid frames has out_length(T) = (T + 2 pt - kt) / st + 1 valid output frames
// (= ceil(T / st) for odd kt), independent of how much padding the batch carries.
// Parameters "<name>.weight" (C_out, kt, C_in, kf), N(0, 2 / (C_in kt kf)), plus "<name>.bn.*".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/batch_norm.h"
#include "model/params.h"

namespace ds2::model {

struct ConvSpec {
  int c_in = 1, c_out = 32;
  int kf = 41, kt = 11, sf = 2, st = 2;
  int f_in = 161;  // input frequency bins
  float clip = 20.0f, bn_momentum = 0.1f, bn_eps = 1e-5f;
  size_t col_budget = size_t{1} << 23;  // floats of im2col workspace per chunk (32 MiB)
  int pf() const { return (kf - 1) / 2; }
  int pt() const { return (kt - 1) / 2; }
  int f_out() const { return (f_in + 2 * pf() - kf) / sf + 1; }
  int out_length(int t) const { return t <= 0 ? 0 : (t + 2 * pt() - kt) / st + 1; }
  // Input frames (of one residue class of the time taps) per chunk whose workspace fits in
  // `budget` floats. See conv.cc.
  int chunk_frames(size_t budget) const;
};

class Conv2d {
 public:
  Conv2d(ParamStore& store, const std::string& name, const ConvSpec& spec);
  // x (N, C_in, T, F_in) with padded frames zero, kept until backward(); lengths (N) in input
  // frames. Returns y (N, C_out, T', F_out), T' = out_length(t); out_lengths() per utterance.
  const float* forward(const float* x, int n, int t, const int32_t* lengths, Mode mode);
  // dy (N, C_out, T', F_out), modified in place. Returns dx or null when !need_dx.
  float* backward(float* dy, bool need_dx);
  const ConvSpec& spec() const { return spec_; }
  int t_out() const { return geom_.t_out(); }
  const std::vector<int32_t>& out_lengths() const { return out_lengths_; }

 private:
  // A residue class of the time taps (conv.cc): taps i = rho + a st, a < taps, met by the input
  // frames first + u st, whose tap a goes to output frame u + delta - a; its packed weight rows
  // start at row0.
  struct Residue {
    int rho = 0, taps = 0, first = 0, delta = 0, row0 = 0;
  };
  std::vector<Residue> residues() const;
  ConvGeom residue_geom(const Residue& r) const;      // im2col of the class's frames, by u
  int residue_frames(const Residue& r, int j) const;  // valid input frames of utterance j
  const float* residue_weights(const Residue& r);
  void pack_weights();  // W's rows per class into w_packed_ (stride > 1)
  size_t col_floats(int chunk) const;
  int chunk() const;  // input frames per chunk on this backend
  // One worker's chunk workspace: the unfolded columns, the per-tap partial outputs (or their
  // gradient), and a class's weight gradient (stride > 1).
  struct Workspace {
    Buffer col, p, dw;
  };
  // Adds to z what frames [u0, u0 + m) of class r of utterance j contribute (forward), or adds
  // their weight gradient to dw (the class's rows) and input gradient to dxj from dz
  // (backward); out_len: the utterance's valid output frames.
  void forward_chunk(const float* xj, const Residue& r, int u0, int m, int out_len, float* zj,
                     Workspace& ws);
  void backward_chunk(const float* xj, const float* dzj, const Residue& r, int u0, int m,
                      int out_len, float* dxj, float* dw, Workspace& ws);
  // Utterances run on min(threads, n) workers; on the CPU the weight gradient is summed over
  // grad_groups(n) fixed groups of utterances (j % groups), so that it does not depend on the
  // thread count (conv.cc).
  int workers(int n) const;
  int grad_groups(int n) const;
  Workspace& workspace(int w);
  ParamStore* store_;
  ConvSpec spec_;
  ConvGeom geom_;
  size_t w_;
  std::unique_ptr<BatchNorm> bn_;
  const float* x_ = nullptr;
  const int32_t* lengths_ = nullptr;
  int n_ = 0;
  std::vector<int32_t> out_lengths_;
  Buffer z_, y_, dz_, dx_, w_packed_;
  std::vector<Workspace> ws_;     // one per worker
  std::vector<Buffer> dw_parts_;  // one weight gradient per group, when there are several
};

}  // namespace ds2::model
