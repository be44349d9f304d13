// The DS2 network assembled from a ModelConfig:
//   features (N, T, F) -> [Conv2d + BN + clipped ReLU] x conv layers -> (T', N, C F')
//   -> [Recurrent (GRU | RNN, BN on the input part, directions summed)] x rnn_layers
//   -> [Lookahead row conv] (forward-only) -> [FC + clipped ReLU] (fc_hidden > 0)
//   -> FC to alphabet_size -> activations (T', N, C) pre-softmax.
// Padded frames (t >= lengths[n]) never change a result: input padding may hold anything,
// padded activations are zero, and padded frames get no gradient nor enter any statistic.
//
// Parameters live in ONE arena (params(), in forward layer order) and gradients in another at
// the same offsets (grads()); params_info() lists (name, offset, size, shape). backward() runs
// the layers last to first and, after each layer, reports through the callback that every
// gradient at offsets >= that layer's first offset is final, so buckets of the gradient arena
// can be all-reduced while earlier layers are still running (on a device backend the callback
// fires when the layer's kernels are QUEUED: a consumer records a Backend event and waits on it,
// as train/allreduce.h does). Batch-norm running statistics are buffers (buffers_info(),
// buffers()), not parameters.
//
// Not thread-safe; one Network per thread. All data pointers are in the backend's memory
// (host for cpu) unless noted; lengths/labels are host.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"
#include "model/config.h"
#include "model/params.h"

namespace ds2::model {

class Conv2d;
class Recurrent;
class Lookahead;
class Linear;

// Called during backward with the first offset from which all gradients are final.
using GradReadyCallback = std::function<void(size_t grad_offset_begin)>;

// Wall seconds per pass of each layer ("conv0 fwd", "rnn2 bwd", "ctc", ...), in first-seen
// order, accumulated over the steps run while attached (Network::set_profile). For benchmarks:
// the backend is synchronized around every layer, which costs a device backend its overlap.
struct LayerProfile {
  std::vector<std::string> names;
  std::vector<double> seconds;
  void add(const std::string& name, double s);
};

struct LossResult {
  std::vector<float> costs;         // per utterance, nats; +inf when impossible; may be NaN
  std::vector<uint8_t> impossible;  // 1: no CTC alignment fits in the output frames
  int num_nonfinite = 0;            // utterances whose cost is not finite (gradient zeroed)
  double total = 0;                 // sum of the finite costs
  bool all_finite() const { return num_nonfinite == 0; }
};

class Network {
 public:
  // Builds the backend (cfg.device, cfg.num_threads) and the layers, allocates the arenas and
  // initializes them from cfg.seed; logs the parameter count. with_grads = false: inference
  // only (no gradient arena; backward throws).
  explicit Network(const ModelConfig& cfg, bool with_grads = true)
      : Network(cfg, with_grads, true) {}
  ~Network();
  // Parameters a network of this config has, without allocating it.
  static size_t count_parameters(const ModelConfig& cfg);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() { return *backend_; }
  int out_length(int t) const { return cfg_.out_length(t); }

  // ---- parameters, gradients, buffers ----
  size_t num_params() const { return store_->num_params(); }
  float* params() { return store_->params(); }
  float* grads() { return store_->grads(); }
  const std::vector<ParamInfo>& params_info() const { return store_->params_info(); }
  float* buffers() { return store_->buffers(); }
  size_t num_buffer_floats() const { return store_->num_buffer_floats(); }
  const std::vector<ParamInfo>& buffers_info() const { return store_->buffers_info(); }
  bool has_grads() const { return store_->has_grads(); }
  void zero_grad() { store_->zero_grad(); }
  // Re-initializes parameters and buffers (same seed -> identical arenas).
  void init(uint64_t seed) { store_->init(seed); }

  // ---- forward / backward ----
  // features (N, T, n_bins) row-major; lengths (N, host) valid frames per utterance, <= T.
  // Returns activations (out_time(), N, alphabet_size) pre-softmax, valid until the next call.
  const float* forward(const float* features, const int32_t* lengths, int n, int t, Mode mode);
  int out_time() const { return out_t_; }
  int batch() const { return n_; }
  const std::vector<int32_t>& out_lengths() const { return out_lengths_; }
  // Backward of the last kTrain forward. dact (T', N, C) = dLoss/dactivations; padded rows are
  // ignored. Parameter gradients ACCUMULATE (call zero_grad() per step).
  void backward(const float* dact, const GradReadyCallback& on_ready = {});
  // forward(kTrain) + CTC + backward of the SUM of the finite costs over the batch. Utterances
  // with a non-finite cost are counted and flagged, and contribute no gradient.
  // labels: concatenated label sequences (host), label_lengths (N, host).
  LossResult forward_backward(const float* features, const int32_t* lengths, int n, int t,
                              const int32_t* labels, const int32_t* label_lengths,
                              const GradReadyCallback& on_ready = {});
  // forward(mode) + CTC costs, no gradients (validation).
  LossResult loss(const float* features, const int32_t* lengths, int n, int t,
                  const int32_t* labels, const int32_t* label_lengths, Mode mode);
  // Softmax of the last forward's activations, (T', N, C); padded rows zero.
  const float* probabilities();

  // ---- streaming pieces (forward-only networks, one utterance, Mode::kInfer; host memory) ----
  // eval/stream.h drives them to run an utterance chunk by chunk in O(length): the conv layers on
  // a window of input frames, the recurrent layers continuing from a carried state, and the
  // lookahead + FC layers on a window of recurrent outputs. Each treats its window as a whole
  // utterance (zero padding at both ends); the caller keeps only the output frames the padding
  // cannot reach. They invalidate the last forward()'s outputs. ConfigError when bidirectional.
  // x (t, n_bins) -> rows (out_length(t), C F') as forward() feeds the first recurrent layer.
  void stream_convs(const float* x, int t, std::vector<float>* rows);
  // rows (t, C F') -> out (t, rnn_hidden): state[l] (rnn_hidden floats; an empty vector means
  // zeros, the utterance start) is layer l's h before the first row, and after the last one on
  // return. state is resized to the number of recurrent layers.
  void stream_rnns(const float* rows, int t, std::vector<std::vector<float>>* state,
                   std::vector<float>* out);
  // rows (t, rnn_hidden) -> activations (t, alphabet_size), pre-softmax (lookahead, FC layers).
  void stream_head(const float* rows, int t, std::vector<float>* act);

  // Per-layer timing of later forward/backward/CTC calls into *p (null: off). Not owned.
  void set_profile(LayerProfile* p) { profile_ = p; }

  // Floating-point operations of one forward pass at (n, t) with all frames valid (multiply-add
  // = 2; convs, recurrent GEMMs and FC layers). A training step is about 3x.
  double forward_flops(int n, int t) const;
  // Operations of forward + backward: each GEMM again for dW and for dx, except the first
  // conv's dx (not computed).
  double train_flops(int n, int t) const;

 private:
  Network(const ModelConfig& cfg, bool with_grads, bool allocate);
  LossResult run_ctc(const int32_t* labels, const int32_t* label_lengths, bool with_grad);
  // Runs fn() and, with a profile attached, adds its synchronized wall time under name.
  template <typename F>
  void timed(const char* name, int index, const char* pass, F&& fn);

  ModelConfig cfg_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ParamStore> store_;
  std::vector<std::unique_ptr<Conv2d>> convs_;
  std::vector<std::unique_ptr<Recurrent>> rnns_;
  std::unique_ptr<Lookahead> lookahead_;
  std::vector<std::unique_ptr<Linear>> fcs_;  // hidden FC (optional) and the output layer
  // First parameter offset of each layer, in backward order of use: convs, rnns, la, fcs.
  std::vector<size_t> conv_begin_, rnn_begin_, fc_begin_;
  size_t la_begin_ = 0;
  Mode mode_ = Mode::kInfer;
  int n_ = 0, t_ = 0, out_t_ = 0;
  int conv_c_ = 1, conv_f_ = 0;  // last conv output channels / bins
  std::vector<int32_t> in_lengths_, out_lengths_, ctc_lengths_;
  const float* act_ = nullptr;
  Buffer input_, rows_, drows_, dact_, probs_, ctc_ws_;
  Buffer stream_h_;         // streaming: initial states of the recurrent layers
  int32_t stream_len_ = 0;  // streaming: the window's length (layers keep a pointer to it)
  LayerProfile* profile_ = nullptr;
  void* profile_event_ = nullptr;
};

}  // namespace ds2::model
