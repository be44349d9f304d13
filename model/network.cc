// Network: layer assembly, forward/backward sequencing, CTC hookup.
#include "model/network.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"
#include "model/conv.h"
#include "model/ctc.h"
#include "model/linear.h"
#include "model/lookahead.h"
#include "model/rnn.h"

namespace ds2::model {

size_t Network::count_parameters(const ModelConfig& cfg) {
  return Network(cfg, false, false).num_params();
}

Network::Network(const ModelConfig& cfg, bool with_grads, bool allocate) : cfg_(cfg) {
  cfg_.validate();
  backend_ = make_backend(parse_device(cfg_.device), cfg_.num_threads);
  store_ = std::make_unique<ParamStore>(*backend_);
  int f = cfg_.n_bins, c = 1;
  const auto convs = cfg_.conv_layers();
  for (size_t i = 0; i < convs.size(); ++i) {
    ConvSpec s;
    s.c_in = c, s.c_out = convs[i].filters, s.kf = convs[i].kf, s.kt = convs[i].kt;
    s.sf = convs[i].sf, s.st = convs[i].st, s.f_in = f, s.clip = cfg_.relu_clip;
    s.bn_momentum = cfg_.bn_momentum, s.bn_eps = cfg_.bn_eps;
    conv_begin_.push_back(store_->num_params());
    convs_.push_back(std::make_unique<Conv2d>(*store_, "conv" + std::to_string(i), s));
    f = s.f_out();
    c = s.c_out;
  }
  conv_c_ = c;
  conv_f_ = f;
  int d = c * f;
  for (int i = 0; i < cfg_.rnn_layers; ++i) {
    RnnSpec s;
    s.type = cfg_.rnn_type == "gru" ? RnnType::kGru : RnnType::kRnn;
    s.input = d, s.hidden = cfg_.rnn_hidden, s.bidirectional = cfg_.bidirectional;
    s.batch_norm = cfg_.rnn_batch_norm, s.clip = cfg_.relu_clip;
    s.bn_momentum = cfg_.bn_momentum, s.bn_eps = cfg_.bn_eps;
    rnn_begin_.push_back(store_->num_params());
    rnns_.push_back(std::make_unique<Recurrent>(*store_, "rnn" + std::to_string(i), s));
    d = s.hidden;
  }
  if (cfg_.lookahead > 0) {
    la_begin_ = store_->num_params();
    lookahead_ =
        std::make_unique<Lookahead>(*store_, "lookahead", d, cfg_.lookahead, cfg_.relu_clip);
  }
  if (cfg_.fc_hidden > 0) {
    fc_begin_.push_back(store_->num_params());
    fcs_.push_back(std::make_unique<Linear>(*store_, "fc0", d, cfg_.fc_hidden, cfg_.relu_clip));
    d = cfg_.fc_hidden;
  }
  fc_begin_.push_back(store_->num_params());
  fcs_.push_back(std::make_unique<Linear>(*store_, "out", d, cfg_.alphabet_size, 0.0f));
  if (!allocate) return;
  store_->allocate(with_grads, cfg_.seed);
  for (Buffer* b : {&input_, &rows_, &drows_, &dact_, &probs_, &ctc_ws_, &stream_h_})
    b->set_backend(backend_.get());
  DS2_LOG_ROOT("model", info,
               "network: {} conv, {} {} {} x {}, lookahead {}, fc {}, alphabet {}: {} parameters "
               "({:.2f} M), device {} with {} threads{}",
               convs_.size(), cfg_.rnn_layers, cfg_.bidirectional ? "bidirectional" : "forward",
               cfg_.rnn_type, cfg_.rnn_hidden, cfg_.lookahead, cfg_.fc_hidden, cfg_.alphabet_size,
               num_params(), num_params() / 1e6, cfg_.device, backend_->num_threads(),
               // Which OpenBLAS kernels run (core/blas_kernels.h: ds2 picks the CPU's own when
               // OpenBLAS falls back to generic ones): a 4-5x difference in GEMM speed.
               cfg_.device == "cpu" ? fmt::format(", OpenBLAS {} kernels", openblas_get_corename())
                                    : std::string());
}

Network::~Network() {
  if (profile_event_) backend_->destroy_event(profile_event_);
}

void LayerProfile::add(const std::string& name, double s) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) {
    seconds[it - names.begin()] += s;
    return;
  }
  names.push_back(name);
  seconds.push_back(s);
}

template <typename F>
void Network::timed(const char* name, int index, const char* pass, F&& fn) {
  if (!profile_) {
    fn();
    return;
  }
  if (!profile_event_) profile_event_ = backend_->create_event();
  Timer t;
  fn();
  backend_->record_event(profile_event_);
  backend_->wait_event(profile_event_);
  std::string key = name;
  if (index >= 0) key += std::to_string(index);
  profile_->add(key + (*pass ? " " : "") + pass, t.seconds());
}

const float* Network::forward(const float* features, const int32_t* lengths, int n, int t,
                              Mode mode) {
  DS2_REQUIRE(n >= 1 && t >= 1, ConfigError, "Network::forward: empty batch ({} x {})", n, t);
  Backend& be = *backend_;
  mode_ = mode;
  n_ = n;
  t_ = t;
  in_lengths_.assign(lengths, lengths + n);
  for (int j = 0; j < n; ++j)
    DS2_REQUIRE(lengths[j] >= 0 && lengths[j] <= t, ConfigError,
                "Network::forward: utterance {} has length {} outside [0, {}]", j, lengths[j], t);
  const size_t in_size = static_cast<size_t>(n) * t * cfg_.n_bins;
  float* x = input_.ensure(in_size);
  be.copy(x, features, in_size);
  be.mask_maps(x, n, 1, t, cfg_.n_bins, lengths);  // padding may hold anything
  const float* cur = x;
  const int32_t* len = in_lengths_.data();
  int tc = t;
  for (size_t i = 0; i < convs_.size(); ++i) {
    timed("conv", static_cast<int>(i), "fwd",
          [&] { cur = convs_[i]->forward(cur, n, tc, len, mode); });
    len = convs_[i]->out_lengths().data();
    tc = convs_[i]->t_out();
  }
  out_t_ = tc;
  out_lengths_.assign(len, len + n);
  const int d0 = conv_c_ * conv_f_;
  float* rows = rows_.ensure(static_cast<size_t>(tc) * n * d0);
  timed("layout", -1, "fwd", [&] { be.maps_to_rows(cur, rows, n, conv_c_, tc, conv_f_); });
  cur = rows;
  len = out_lengths_.data();
  for (size_t i = 0; i < rnns_.size(); ++i)
    timed("rnn", static_cast<int>(i), "fwd",
          [&] { cur = rnns_[i]->forward(cur, tc, n, len, mode); });
  if (lookahead_)
    timed("lookahead", -1, "fwd", [&] { cur = lookahead_->forward(cur, tc, n, len, mode); });
  for (size_t i = 0; i < fcs_.size(); ++i) {
    const bool out = i + 1 == fcs_.size();
    timed(out ? "out" : "fc", out ? -1 : static_cast<int>(i), "fwd",
          [&] { cur = fcs_[i]->forward(cur, tc, n, len, mode); });
  }
  act_ = cur;
  return act_;
}

void Network::backward(const float* dact, const GradReadyCallback& on_ready) {
  DS2_REQUIRE(has_grads(), Error, "Network::backward on a network built without gradients");
  DS2_REQUIRE(mode_ == Mode::kTrain && act_, Error,
              "Network::backward needs a preceding forward in Mode::kTrain");
  Backend& be = *backend_;
  const int n = n_, tc = out_t_;
  const size_t asize = static_cast<size_t>(tc) * n * cfg_.alphabet_size;
  float* d = dact_.ensure(asize);
  if (d != dact) be.copy(d, dact, asize);
  auto ready = [&](size_t begin) {
    if (on_ready) on_ready(begin);
  };
  const bool have_conv = !convs_.empty();
  for (size_t i = fcs_.size(); i-- > 0;) {
    const bool need = i > 0 || lookahead_ || !rnns_.empty() || have_conv;
    const bool out = i + 1 == fcs_.size();
    timed(out ? "out" : "fc", out ? -1 : static_cast<int>(i), "bwd",
          [&] { d = fcs_[i]->backward(d, need); });
    ready(fc_begin_[i]);
  }
  if (lookahead_) {
    timed("lookahead", -1, "bwd",
          [&] { d = lookahead_->backward(d, !rnns_.empty() || have_conv); });
    ready(la_begin_);
  }
  for (size_t i = rnns_.size(); i-- > 0;) {
    timed("rnn", static_cast<int>(i), "bwd",
          [&] { d = rnns_[i]->backward(d, i > 0 || have_conv); });
    ready(rnn_begin_[i]);
  }
  if (!have_conv) return;
  int tc_last = convs_.back()->t_out();
  float* maps = drows_.ensure(static_cast<size_t>(tc_last) * n * conv_c_ * conv_f_);
  timed("layout", -1, "bwd", [&] { be.rows_to_maps(d, maps, n, conv_c_, tc_last, conv_f_); });
  d = maps;
  for (size_t i = convs_.size(); i-- > 0;) {
    timed("conv", static_cast<int>(i), "bwd", [&] { d = convs_[i]->backward(d, i > 0); });
    ready(conv_begin_[i]);
  }
}

LossResult Network::run_ctc(const int32_t* labels, const int32_t* label_lengths, bool with_grad) {
  const int n = n_, c = cfg_.alphabet_size;
  CtcShape shape;
  shape.max_time = out_t_;
  shape.batch = n;
  shape.alphabet = c;
  shape.max_label = 0;
  for (int j = 0; j < n; ++j) shape.max_label = std::max(shape.max_label, label_lengths[j]);
  const size_t bytes = backend_->ctc_workspace_bytes(shape);
  void* ws = ctc_ws_.ensure(bytes / sizeof(float) + 1);
  LossResult r;
  r.costs.resize(n);
  r.impossible.resize(n);
  const size_t asize = static_cast<size_t>(out_t_) * n * c;
  float* grad = with_grad ? dact_.ensure(asize) : nullptr;
  backend_->ctc_loss(act_, grad, labels, label_lengths, out_lengths_.data(), shape, r.costs.data(),
                     r.impossible.data(), ws);
  ctc_lengths_ = out_lengths_;
  for (int j = 0; j < n; ++j) {
    if (std::isfinite(r.costs[j])) {
      r.total += r.costs[j];
    } else {
      ++r.num_nonfinite;
      ctc_lengths_[j] = 0;  // no gradient from this utterance
    }
  }
  if (grad && r.num_nonfinite > 0) backend_->mask_rows(grad, 0, out_t_, n, c, ctc_lengths_.data());
  return r;
}

LossResult Network::forward_backward(const float* features, const int32_t* lengths, int n, int t,
                                     const int32_t* labels, const int32_t* label_lengths,
                                     const GradReadyCallback& on_ready) {
  forward(features, lengths, n, t, Mode::kTrain);
  LossResult r;
  timed("ctc", -1, "", [&] { r = run_ctc(labels, label_lengths, true); });
  backward(dact_.data(), on_ready);
  return r;
}

LossResult Network::loss(const float* features, const int32_t* lengths, int n, int t,
                         const int32_t* labels, const int32_t* label_lengths, Mode mode) {
  forward(features, lengths, n, t, mode);
  return run_ctc(labels, label_lengths, false);
}

const float* Network::probabilities() {
  DS2_REQUIRE(act_, Error, "Network::probabilities before forward");
  const int rows = out_t_ * n_, c = cfg_.alphabet_size;
  float* p = probs_.ensure(static_cast<size_t>(rows) * c);
  backend_->softmax(act_, p, rows, c);
  backend_->mask_rows(p, 0, out_t_, n_, c, out_lengths_.data());
  return p;
}

double Network::train_flops(int n, int t) const {
  double conv0 = 0;
  const auto convs = cfg_.conv_layers();
  if (!convs.empty()) {
    ConvSpec s;
    s.c_out = convs[0].filters, s.kf = convs[0].kf, s.kt = convs[0].kt;
    s.sf = convs[0].sf, s.st = convs[0].st, s.f_in = cfg_.n_bins;
    conv0 = 2.0 * n * s.out_length(t) * s.f_out() * s.c_out * s.kf * s.kt;
  }
  return 3.0 * forward_flops(n, t) - conv0;
}

double Network::forward_flops(int n, int t) const {
  double fl = 0;
  int f = cfg_.n_bins, c = 1;
  for (const auto& cl : cfg_.conv_layers()) {
    ConvSpec s;
    s.c_in = c, s.c_out = cl.filters, s.kf = cl.kf, s.kt = cl.kt, s.sf = cl.sf, s.st = cl.st;
    s.f_in = f;
    t = s.out_length(t);
    fl += 2.0 * n * t * s.f_out() * s.c_out * (static_cast<double>(c) * s.kf * s.kt);
    f = s.f_out();
    c = s.c_out;
  }
  double d = static_cast<double>(c) * f;
  const double g = cfg_.rnn_type == "gru" ? 3 : 1, dirs = cfg_.bidirectional ? 2 : 1;
  const double h = cfg_.rnn_hidden, rows = static_cast<double>(n) * t;
  for (int i = 0; i < cfg_.rnn_layers; ++i) {
    fl += dirs * 2.0 * rows * (d * g * h + h * g * h);
    d = h;
  }
  if (cfg_.fc_hidden > 0) {
    fl += 2.0 * rows * d * cfg_.fc_hidden;
    d = cfg_.fc_hidden;
  }
  fl += 2.0 * rows * d * cfg_.alphabet_size;
  return fl;
}

}  // namespace ds2::model
