// Incremental streaming inference; the method and the finality rule are explained at the top of
// stream.h.
#include "eval/stream.h"

#include <algorithm>

#include "core/error.h"
#include "model/config.h"
#include "model/network.h"

namespace ds2::eval {

namespace {

// Conv-stack output frames that are final once the first `known` input frames are known.
int conv_final_frames(const model::ModelConfig& cfg, int known) {
  int a = std::max(known, 0);
  for (const model::ConvLayerSpec& l : cfg.conv_layers()) {
    // Output o is final iff its last input o st + kt - 1 - pt is below a.
    const int last = l.kt - 1 - (l.kt - 1) / 2;
    a = a - last <= 0 ? 0 : (a - last - 1) / l.st + 1;
  }
  return a;
}

}  // namespace

int final_output_frames(const model::ModelConfig& cfg, int known) {
  DS2_REQUIRE(!cfg.bidirectional, ConfigError,
              "streaming needs a forward-only model (model.bidirectional = false): a "
              "bidirectional recurrent layer reads the utterance's last frame first");
  return std::max(conv_final_frames(cfg, known) - cfg.lookahead, 0);
}

StreamingForward::StreamingForward(model::Network& net) : net_(&net) {
  final_output_frames(net.config(), 0);  // throws for a bidirectional model
  n_bins_ = net.config().n_bins;
  classes_ = net.config().alphabet_size;
  for (const model::ConvLayerSpec& l : net.config().conv_layers()) {
    context_ += (l.kt - 1) / 2 * stride_;
    stride_ *= l.st;
  }
}

void StreamingForward::reset() {
  feats_.clear();
  state_.clear();
  pending_.clear();
  act_.clear();
  received_ = conv_done_ = emitted_ = base_ = 0;
  computed_ = 0;
  finished_ = false;
}

int StreamingForward::push(const float* frames, int n) {
  DS2_REQUIRE(!finished_, Error, "StreamingForward::push after finish() (call reset())");
  DS2_REQUIRE(n >= 0, ConfigError, "StreamingForward::push: {} frames", n);
  feats_.insert(feats_.end(), frames, frames + static_cast<size_t>(n) * n_bins_);
  received_ += n;
  const int before = emitted_;
  const int conv_upto = conv_final_frames(net_->config(), received_);
  advance(conv_upto, std::max(conv_upto - net_->config().lookahead, emitted_));
  return emitted_ - before;
}

int StreamingForward::finish() {
  DS2_REQUIRE(!finished_, Error, "StreamingForward::finish called twice (call reset())");
  finished_ = true;
  const int before = emitted_;
  const int upto = net_->out_length(received_);
  advance(upto, upto);
  return emitted_ - before;
}

void StreamingForward::advance(int conv_upto, int upto) {
  if (conv_upto > conv_done_) {
    // Window [s, received_): s a multiple of the stride, conv_done_ S - context_ or less.
    const int s = std::max(0, conv_done_ * stride_ - context_) / stride_ * stride_;
    const int w = received_ - s;
    net_->stream_convs(feats_.data() + static_cast<size_t>(s - base_) * n_bins_, w, &rows_);
    computed_ += w;
    const size_t d0 = rows_.size() / static_cast<size_t>(net_->out_length(w));
    const int first = conv_done_ - s / stride_;  // window row of conv frame conv_done_
    net_->stream_rnns(rows_.data() + first * d0, conv_upto - conv_done_, &state_, &out_);
    pending_.insert(pending_.end(), out_.begin(), out_.end());
    conv_done_ = conv_upto;
    // The next window starts at or after this; older frames are not needed any more.
    const int next = std::max(0, conv_done_ * stride_ - context_) / stride_ * stride_;
    feats_.erase(feats_.begin(), feats_.begin() + static_cast<size_t>(next - base_) * n_bins_);
    base_ = next;
  }
  if (upto > emitted_) {
    const int np = conv_done_ - emitted_;  // recurrent outputs not emitted yet
    const size_t h = pending_.size() / static_cast<size_t>(np);
    net_->stream_head(pending_.data(), np, &head_);
    const size_t c = static_cast<size_t>(classes_), k = static_cast<size_t>(upto - emitted_);
    act_.insert(act_.end(), head_.begin(), head_.begin() + k * c);
    pending_.erase(pending_.begin(), pending_.begin() + k * h);
    emitted_ = upto;
  }
}

}  // namespace ds2::eval
