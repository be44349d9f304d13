// Streaming inference by prefix recomputation; the method and the finality rule are explained at
// the top of stream.h.
#include "eval/stream.h"

#include <algorithm>

#include "core/error.h"
#include "model/config.h"
#include "model/network.h"

namespace ds2::eval {

int final_output_frames(const model::ModelConfig& cfg, int known) {
  DS2_REQUIRE(!cfg.bidirectional, ConfigError,
              "streaming needs a forward-only model (model.bidirectional = false): a "
              "bidirectional recurrent layer reads the utterance's last frame first");
  int a = std::max(known, 0);
  for (const model::ConvLayerSpec& l : cfg.conv_layers()) {
    // Output o is final iff its last input o st + kt - 1 - pt is below a.
    const int last = l.kt - 1 - (l.kt - 1) / 2;
    a = a - last <= 0 ? 0 : (a - last - 1) / l.st + 1;
  }
  return std::max(a - cfg.lookahead, 0);
}

StreamingForward::StreamingForward(model::Network& net) : net_(&net) {
  final_output_frames(net.config(), 0);  // throws for a bidirectional model
  n_bins_ = net.config().n_bins;
  classes_ = net.config().alphabet_size;
}

void StreamingForward::reset() {
  feats_.clear();
  act_.clear();
  received_ = emitted_ = 0;
  computed_ = 0;
  finished_ = false;
}

int StreamingForward::push(const float* frames, int n) {
  DS2_REQUIRE(!finished_, Error, "StreamingForward::push after finish() (call reset())");
  DS2_REQUIRE(n >= 0, ConfigError, "StreamingForward::push: {} frames", n);
  feats_.insert(feats_.end(), frames, frames + static_cast<size_t>(n) * n_bins_);
  received_ += n;
  const int before = emitted_;
  const int upto = final_output_frames(net_->config(), received_);
  if (upto > emitted_) run_prefix(upto);
  return emitted_ - before;
}

int StreamingForward::finish() {
  DS2_REQUIRE(!finished_, Error, "StreamingForward::finish called twice (call reset())");
  finished_ = true;
  const int before = emitted_;
  const int upto = net_->out_length(received_);
  if (upto > emitted_) run_prefix(upto);
  return emitted_ - before;
}

void StreamingForward::run_prefix(int upto) {
  const int32_t len = received_;
  const float* act = net_->forward(feats_.data(), &len, 1, received_, model::Mode::kInfer);
  computed_ += received_;
  // Batch of one: output row t is at act + t * C.
  const size_t c = static_cast<size_t>(classes_);
  act_.resize(static_cast<size_t>(upto) * c);
  net_->backend().download(act_.data() + emitted_ * c, act + emitted_ * c,
                           static_cast<size_t>(upto - emitted_) * c);
  emitted_ = upto;
}

}  // namespace ds2::eval
