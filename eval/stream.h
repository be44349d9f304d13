// Streaming (chunked) inference of a forward-only DS2 network: feature frames arrive a chunk at
// a time and each output frame is emitted as soon as no later input can change it. The work is
// incremental (O(length) in total, not a recomputation of the prefix):
//
//   conv stack   run on a WINDOW of the input: the new frames plus the left context of the conv
//                layers, P = sum_l pt_l S_l input frames (pt_l = (kt_l - 1) / 2, S_l the time
//                stride before layer l), the window starting at a multiple of the total stride S
//                so its outputs line up with the whole utterance's. Outputs that the window's
//                zero padding reaches on the left are dropped (they were computed before).
//   recurrent    fed only the new conv frames, continuing from the hidden state each layer had
//                after the previous chunk (Network::stream_rnns, Recurrent's initial state).
//   lookahead+FC run on the recurrent outputs not yet emitted: frame t needs t + tau.
//
// When a frame is final (final_output_frames): a "same"-padded conv with kernel kt and stride st
// gives output o from inputs [o st - pt, o st + kt - 1 - pt], so with the first A inputs of a
// layer final, outputs o with o st + kt - 1 - pt < A are final (inputs past A would be zero
// padding now but real frames later). The forward-only recurrent layers are causal (h_t reads
// x_0..x_t), and sequence-wise batch norm in kInfer mode uses the running statistics, so it is
// per frame; the lookahead row conv reads frames t..t + tau, so frame t is final when
// t + tau < A; the FC layers are per frame. At the end of input every frame is final, and the
// windows end where the utterance ends, with the same zero padding as the whole-file forward.
// The emitted activations equal the whole-file forward's up to GEMM rounding (the GEMMs have
// other shapes); tests/eval/stream_test.cc checks 1e-5.
#pragma once

#include <cstdint>
#include <vector>

namespace ds2::model {
class Network;
struct ModelConfig;
}  // namespace ds2::model

namespace ds2::eval {

// Output frames of a forward-only network of config `cfg` whose values cannot change any more
// once the first `known` input feature frames are known and more may follow (see above).
// Throws ConfigError for a bidirectional config.
int final_output_frames(const model::ModelConfig& cfg, int known);

class StreamingForward {
 public:
  // `net` (not owned, must outlive this) must be forward-only: a bidirectional model is a
  // ConfigError (its backward direction reads the utterance's last frame first).
  explicit StreamingForward(model::Network& net);

  // Starts a new utterance.
  void reset();
  // Appends n feature frames (n, n_bins) row-major, host memory, normalized as the model was
  // trained. Returns the number of output frames that became final (0 when none).
  int push(const float* frames, int n);
  // End of the utterance: every output frame is final. Returns the number that became final.
  int finish();

  // Activations (pre-softmax) of the final output frames so far: (frames_final(), C) row-major,
  // host memory; row t is output frame t (20 ms per frame for a time stride of 2).
  const std::vector<float>& activations() const { return act_; }
  int frames_final() const { return emitted_; }
  int frames_received() const { return received_; }
  bool finished() const { return finished_; }
  // Input frames the conv stack has run on so far (windows overlap by the left context), a
  // measure of the work: about frames_received() + pushes x context.
  int64_t frames_computed() const { return computed_; }

 private:
  // Runs the conv stack up to conv output frame `conv_upto` (exclusive), the recurrent layers
  // on the new frames, and the head up to output frame `upto`.
  void advance(int conv_upto, int upto);

  model::Network* net_;
  int n_bins_ = 0, classes_ = 0;
  int stride_ = 1;                         // product of the conv time strides
  int context_ = 0;                        // left context of the conv stack, input frames
  std::vector<float> feats_;               // frames [base_, received_), (_, n_bins) row-major
  std::vector<std::vector<float>> state_;  // per recurrent layer, h after conv_done_ frames
  std::vector<float> pending_;             // recurrent outputs of frames [emitted_, conv_done_)
  std::vector<float> act_;                 // (emitted_, classes) row-major
  std::vector<float> rows_, out_, head_;   // scratch
  int received_ = 0, base_ = 0, conv_done_ = 0, emitted_ = 0;
  int64_t computed_ = 0;
  bool finished_ = false;
};

}  // namespace ds2::eval
