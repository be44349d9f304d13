// Network's streaming pieces (network.h): the forward pass of forward() split into the conv
// stack, the recurrent layers with a carried state, and the lookahead + FC head, each on a window
// of one utterance in Mode::kInfer, with host input and output.
#include <algorithm>

#include "core/error.h"
#include "model/conv.h"
#include "model/linear.h"
#include "model/lookahead.h"
#include "model/network.h"
#include "model/rnn.h"

namespace ds2::model {

namespace {
void require_forward_only(const ModelConfig& cfg) {
  DS2_REQUIRE(!cfg.bidirectional, ConfigError,
              "streaming needs a forward-only model (model.bidirectional = false)");
}
}  // namespace

void Network::stream_convs(const float* x, int t, std::vector<float>* rows) {
  require_forward_only(cfg_);
  const int d0 = conv_c_ * conv_f_;
  rows->clear();
  if (t <= 0) return;
  Backend& be = *backend_;
  act_ = nullptr;
  stream_len_ = t;
  float* in = input_.ensure(static_cast<size_t>(t) * cfg_.n_bins);
  be.upload(in, x, static_cast<size_t>(t) * cfg_.n_bins);
  const float* cur = in;
  const int32_t* len = &stream_len_;
  int tc = t;
  for (auto& conv : convs_) {
    cur = conv->forward(cur, 1, tc, len, Mode::kInfer);
    len = conv->out_lengths().data();
    tc = conv->t_out();
  }
  float* r = rows_.ensure(static_cast<size_t>(tc) * d0);
  be.maps_to_rows(cur, r, 1, conv_c_, tc, conv_f_);
  rows->resize(static_cast<size_t>(tc) * d0);
  be.download(rows->data(), r, rows->size());
}

void Network::stream_rnns(const float* rows, int t, std::vector<std::vector<float>>* state,
                          std::vector<float>* out) {
  require_forward_only(cfg_);
  const int d0 = conv_c_ * conv_f_, h = cfg_.rnn_hidden;
  state->resize(rnns_.size());
  for (auto& s : *state) {
    if (s.empty()) s.assign(static_cast<size_t>(h), 0.0f);
    DS2_REQUIRE(s.size() == static_cast<size_t>(h), ConfigError,
                "Network::stream_rnns: a state of {} floats for hidden size {}", s.size(), h);
  }
  out->clear();
  if (t <= 0) return;
  Backend& be = *backend_;
  act_ = nullptr;
  stream_len_ = t;
  float* in = input_.ensure(static_cast<size_t>(t) * d0);
  be.upload(in, rows, static_cast<size_t>(t) * d0);
  float* h0 = stream_h_.ensure(std::max<size_t>(rnns_.size(), 1) * h);
  const float* cur = in;
  int d = d0;
  for (size_t l = 0; l < rnns_.size(); ++l) {
    float* h0l = h0 + l * h;
    be.upload(h0l, (*state)[l].data(), static_cast<size_t>(h));
    cur = rnns_[l]->forward(cur, t, 1, &stream_len_, Mode::kInfer, h0l);
    be.download((*state)[l].data(), cur + static_cast<size_t>(t - 1) * h, static_cast<size_t>(h));
    d = h;
  }
  out->resize(static_cast<size_t>(t) * d);
  be.download(out->data(), cur, out->size());
}

void Network::stream_head(const float* rows, int t, std::vector<float>* act) {
  require_forward_only(cfg_);
  const int d = rnns_.empty() ? conv_c_ * conv_f_ : cfg_.rnn_hidden;
  act->clear();
  if (t <= 0) return;
  Backend& be = *backend_;
  act_ = nullptr;
  stream_len_ = t;
  float* in = input_.ensure(static_cast<size_t>(t) * d);
  be.upload(in, rows, static_cast<size_t>(t) * d);
  const float* cur = in;
  if (lookahead_) cur = lookahead_->forward(cur, t, 1, &stream_len_, Mode::kInfer);
  for (auto& fc : fcs_) cur = fc->forward(cur, t, 1, &stream_len_, Mode::kInfer);
  act->resize(static_cast<size_t>(t) * cfg_.alphabet_size);
  be.download(act->data(), cur, act->size());
}

}  // namespace ds2::model
