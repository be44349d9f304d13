// Streaming (chunked) inference of a forward-only DS2 network: feature frames arrive a chunk at
// a time and each output frame is emitted as soon as no later input can change it.
//
// Method: recompute on the growing prefix, emit only final frames. Every push() that makes new
// output frames final runs Network::forward (Mode::kInfer) on ALL the frames received so far and
// keeps the output rows [emitted, final) -- the rows before them were emitted earlier and the rows
// after them may still change. This is exact (the emitted rows are what the whole-file forward
// gives, up to GEMM rounding) but costs O(T^2 / chunk) network work for an utterance of T frames;
// a truly incremental version would carry the recurrent state and feed each conv its context
// window, which the layer API (model/rnn.h: every forward starts from h = 0) does not offer yet.
//
// Why a frame becomes final (final_output_frames): a "same"-padded conv with kernel kt and stride
// st gives output o from inputs [o st - pt, o st + kt - 1 - pt], pt = (kt - 1) / 2, so with the
// first A inputs of a layer final, outputs o with o st + kt - 1 - pt < A are final (inputs past
// A would be zero padding in the prefix but real frames later). The forward-only recurrent layers
// are causal (h_t reads x_0..x_t) and sequence-wise batch norm in kInfer mode uses the running
// statistics, so it is per frame; the lookahead row conv reads frames t..t + tau, so frame t is
// final when t + tau < A; the FC layers are per frame. At the end of input every frame is final.
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
  // trained. Returns the number of output frames that became final (0 when none; the network
  // only runs when some do).
  int push(const float* frames, int n);
  // End of the utterance: every output frame is final. Returns the number that became final.
  int finish();

  // Activations (pre-softmax) of the final output frames so far: (frames_final(), C) row-major,
  // host memory; row t is output frame t (20 ms per frame for a time stride of 2).
  const std::vector<float>& activations() const { return act_; }
  int frames_final() const { return emitted_; }
  int frames_received() const { return received_; }
  bool finished() const { return finished_; }
  // Input frames fed through the network so far (the recomputation cost, >= frames_received()).
  int64_t frames_computed() const { return computed_; }

 private:
  // Runs the network on the received prefix and keeps output rows [emitted_, upto).
  void run_prefix(int upto);

  model::Network* net_;
  int n_bins_ = 0, classes_ = 0;
  std::vector<float> feats_;  // (received_, n_bins) row-major
  std::vector<float> act_;    // (emitted_, classes) row-major
  int received_ = 0, emitted_ = 0;
  int64_t computed_ = 0;
  bool finished_ = false;
};

}  // namespace ds2::eval
