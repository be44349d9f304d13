// Recurrent layer on time-major sequences (T, N, D) -> (T, N, H): simple RNN with clipped ReLU
// or GRU, forward-only or bidirectional (the two directions' outputs are SUMMED, as in DS2).
//
// Per direction (name "<name>.fwd" / "<name>.bwd"), with G = 1 (rnn) or 3 (gru, gates z, r, c):
//   a_t = BN(x_t W)                       W (D, G H); sequence-wise batch norm over valid frames
//   rnn: h_t = min(max(a_t + h_{t-1} U + b, 0), clip)
//   gru: [uz ur uc] = h_{t-1} U + b,  z = sig(az + uz), r = sig(ar + ur),
//        c = tanh(ac + r * uc),  h_t = (1 - z) c + z h_{t-1}
// U (H, G H), b (G H). Without batch norm a_t = x_t W (b is the only bias). The forward
// direction starts at t = 0, the backward direction at t = lengths[n] - 1, both from h = 0;
// padded frames have h = 0 and receive no gradient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/batch_norm.h"
#include "model/params.h"

namespace ds2::model {

enum class RnnType { kRnn, kGru };

struct RnnSpec {
  RnnType type = RnnType::kGru;
  int input = 0, hidden = 0;
  bool bidirectional = true;
  bool batch_norm = true;
  float clip = 20.0f;  // simple RNN activation ceiling
  float bn_momentum = 0.1f, bn_eps = 1e-5f;
};

class Recurrent {
 public:
  Recurrent(ParamStore& store, const std::string& name, const RnnSpec& spec);
  // x (T, N, D) must stay unchanged until backward(). Returns y (T, N, H), owned here.
  // h0 (N, H), backend memory, null = zeros: the state before frame 0, for continuing an
  // utterance chunk by chunk (streaming inference); forward-only layers only. The state after
  // frame t is then row t of y (y is h for a forward-only layer).
  const float* forward(const float* x, int t, int n, const int32_t* lengths, Mode mode,
                       const float* h0 = nullptr);
  // dy (T, N, H). Returns dx (T, N, D) or null when !need_dx. Parameter gradients accumulate.
  // Not after a forward with h0 (Error).
  float* backward(const float* dy, bool need_dx);
  const RnnSpec& spec() const { return spec_; }

 private:
  struct Direction {
    bool reverse = false;
    size_t w = 0, u = 0, b = 0;
    std::unique_ptr<BatchNorm> bn;
    Buffer a_raw, a, h, saved;  // (T N, G H), (T N, G H), (T N, H), gru: (T N, 4 H)
    Buffer uh, dh, carry;       // per-step scratch (N, G H), (N, H), (N, H)
    Buffer u_prep;              // U (forward) or U^T (backward), Backend::prepare_b
    Buffer da, duh;             // backward: d/d a_t and d/d (h_{t-1} U + b), (T N, G H)
  };
  // The input GEMM x W and batch norm of a direction (uses all threads), then its T steps
  // (one thread per direction, directions concurrently: Backend::parallel_tasks).
  void input_dir(Direction& d, Mode mode);
  void steps_forward(Direction& d);
  // The reverse steps of a direction (concurrently), then its large GEMMs (all threads).
  void steps_backward(Direction& d, const float* dy);
  void weight_grads(Direction& d, float* dx, bool accumulate_dx);

  ParamStore* store_;
  RnnSpec spec_;
  int gates_;
  std::vector<Direction> dirs_;
  const float* x_ = nullptr;
  const float* h0_ = nullptr;
  const int32_t* lengths_ = nullptr;
  int t_ = 0, n_ = 0;
  Buffer y_, dx_, zeros_, da_raw_;
};

}  // namespace ds2::model
