// Recurrent layer (simple RNN / GRU, uni- or bidirectional) on the backend ops.
//
// Forward, per direction: one GEMM x W for all frames, batch norm, then T steps of one GEMM
// h_{t-1} U (N, H) x (H, G H) plus the fused elementwise step; U (and U^T for the backward's
// steps) is prepared once per pass for the backend's small-m product (Backend::gemm_prepared).
// Backward runs the steps in reverse, storing the per-step gradients da (w.r.t. a_t) and duh
// (w.r.t. h_{t-1} U + b), so that dU, db, dW and dx are each ONE large GEMM over all frames
// afterwards:
//   dU += H_prev^T dUH, db += colsum(dUH), (BN backward), dW += X^T dA_raw, dx += dA_raw W^T.
// H_prev is H shifted by one step (forward: h_{t-1}; backward direction: h_{t+1}).
//
// The step loops are chains of small ops (an (N, H) x (H, G H) GEMM and an elementwise step
// per frame) that cannot use more than one thread each, so the two directions' loops run
// concurrently (Backend::parallel_tasks); the large GEMMs run before (forward) or after
// (backward) on all threads, one direction after the other. Each direction has its own scratch,
// and the directions are summed in a fixed order, so the result is the same on any thread count.
#include "model/rnn.h"

#include <cmath>

#include "core/error.h"

namespace ds2::model {

Recurrent::Recurrent(ParamStore& store, const std::string& name, const RnnSpec& spec)
    : store_(&store), spec_(spec), gates_(spec.type == RnnType::kGru ? 3 : 1) {
  const int h = spec.hidden, gh = gates_ * spec.hidden;
  const int ndir = spec.bidirectional ? 2 : 1;
  dirs_.resize(ndir);
  for (int d = 0; d < ndir; ++d) {
    Direction& dir = dirs_[d];
    const std::string p = name + (d == 0 ? ".fwd" : ".bwd");
    dir.reverse = d == 1;
    dir.w = store.add_param(
        p + ".W", {spec.input, gh}, Init::kNormal,
        static_cast<float>(std::sqrt((spec.type == RnnType::kGru ? 1.0 : 2.0) / spec.input)));
    if (spec.batch_norm)
      dir.bn = std::make_unique<BatchNorm>(store, p + ".bn", gh, spec.bn_momentum, spec.bn_eps);
    // Simple RNN: a small recurrent gain keeps the clipped-ReLU recursion stable at init.
    const double ustd = spec.type == RnnType::kGru ? 1.0 / std::sqrt(h) : 0.5 / std::sqrt(h);
    dir.u = store.add_param(p + ".U", {h, gh}, Init::kNormal, static_cast<float>(ustd));
    dir.b = store.add_param(p + ".b", {gh}, Init::kZero);
    for (Buffer* b : {&dir.a_raw, &dir.a, &dir.h, &dir.saved, &dir.uh, &dir.dh, &dir.carry, &dir.da,
                      &dir.duh, &dir.u_prep})
      b->set_backend(&store.backend());
  }
  for (Buffer* b : {&y_, &dx_, &zeros_, &da_raw_}) b->set_backend(&store.backend());
}

const float* Recurrent::forward(const float* x, int t, int n, const int32_t* lengths, Mode mode,
                                const float* h0) {
  DS2_REQUIRE(!h0 || !spec_.bidirectional, ConfigError,
              "Recurrent::forward: an initial state needs a forward-only layer");
  Backend& be = store_->backend();
  x_ = x;
  h0_ = h0;
  lengths_ = lengths;
  t_ = t;
  n_ = n;
  const size_t rows = static_cast<size_t>(t) * n, hs = spec_.hidden;
  be.fill(zeros_.ensure(n * hs), n * hs, 0.0f);
  for (auto& d : dirs_) input_dir(d, mode);
  be.parallel_tasks(static_cast<int>(dirs_.size()), [&](int i) { steps_forward(dirs_[i]); });
  float* y = y_.ensure(rows * hs);
  be.copy(y, dirs_[0].h.data(), rows * hs);
  if (dirs_.size() == 2) be.axpy(rows * hs, 1.0f, dirs_[1].h.data(), y);
  return y;
}

void Recurrent::input_dir(Direction& d, Mode mode) {
  Backend& be = store_->backend();
  const int gh = gates_ * spec_.hidden, n = n_;
  const size_t rows = static_cast<size_t>(t_) * n;
  float* a_raw = d.a_raw.ensure(rows * gh);
  be.gemm(false, false, static_cast<int>(rows), gh, spec_.input, 1.0f, x_, spec_.input,
          store_->param(d.w), gh, 0.0f, a_raw, gh);
  if (d.bn)
    d.bn->forward(BnLayout{BnLayout::kRows, n, gh, t_, 1, lengths_}, a_raw, d.a.ensure(rows * gh),
                  mode);
  const size_t hsize = static_cast<size_t>(spec_.hidden);
  d.h.ensure(rows * hsize);
  if (spec_.type == RnnType::kGru) d.saved.ensure(rows * 4 * hsize);
  d.uh.ensure(static_cast<size_t>(n) * gh);
}

void Recurrent::steps_forward(Direction& d) {
  Backend& be = store_->backend();
  const int h = spec_.hidden, gh = gates_ * h, n = n_;
  const float* a = d.bn ? d.a.data() : d.a_raw.data();
  float* hbuf = d.h.data();
  float* saved = d.saved.data();
  float* uh = d.uh.data();
  float* u = d.u_prep.ensure(be.prepared_size(h, gh));
  be.prepare_b(false, h, gh, store_->param(d.u), gh, u);
  const float* b = store_->param(d.b);
  for (int s = 0; s < t_; ++s) {
    const int t = d.reverse ? t_ - 1 - s : s;
    const float* h_prev = zeros_.data();
    if (s > 0)
      h_prev = hbuf + static_cast<size_t>(d.reverse ? t + 1 : t - 1) * n * h;
    else if (h0_)
      h_prev = h0_;
    be.broadcast_rows(uh, b, n, gh);  // the bias in every row: one op, not one copy per row
    be.gemm_prepared(n, gh, h, h_prev, h, u, 1.0f, uh, gh);
    const size_t off = static_cast<size_t>(t) * n;
    if (spec_.type == RnnType::kGru)
      be.gru_step_forward(t, n, h, lengths_, a + off * gh, uh, h_prev, hbuf + off * h,
                          saved + off * 4 * h);
    else
      be.rnn_step_forward(t, n, h, lengths_, a + off * gh, uh, spec_.clip, hbuf + off * h);
  }
}

float* Recurrent::backward(const float* dy, bool need_dx) {
  DS2_REQUIRE(!h0_, Error, "Recurrent::backward after a forward with an initial state");
  Backend& be = store_->backend();
  float* dx = need_dx ? dx_.ensure(static_cast<size_t>(t_) * n_ * spec_.input) : nullptr;
  const int gh = gates_ * spec_.hidden;
  const size_t rows = static_cast<size_t>(t_) * n_, nh = static_cast<size_t>(n_) * spec_.hidden;
  for (auto& d : dirs_) {
    d.da.ensure(rows * gh);
    if (spec_.type == RnnType::kGru) d.duh.ensure(rows * gh);
    d.dh.ensure(nh);
    d.carry.ensure(nh);
  }
  be.parallel_tasks(static_cast<int>(dirs_.size()), [&](int i) { steps_backward(dirs_[i], dy); });
  for (size_t i = 0; i < dirs_.size(); ++i) weight_grads(dirs_[i], dx, i > 0);
  return dx;
}

void Recurrent::steps_backward(Direction& d, const float* dy) {
  Backend& be = store_->backend();
  const int h = spec_.hidden, gh = gates_ * h, n = n_, tt = t_;
  const bool gru = spec_.type == RnnType::kGru;
  float* da = d.da.data();               // d/d a_t (input part after BN)
  float* duh = gru ? d.duh.data() : da;  // d/d (h_{t-1} U + b); equals da for rnn
  float* dh = d.dh.data();
  float* carry = d.carry.data();
  be.fill(carry, static_cast<size_t>(n) * h, 0.0f);
  float* ut = d.u_prep.ensure(be.prepared_size(gh, h));  // U^T (G H, H)
  be.prepare_b(true, gh, h, store_->param(d.u), gh, ut);
  const float* hbuf = d.h.data();
  for (int s = tt - 1; s >= 0; --s) {
    const int t = d.reverse ? tt - 1 - s : s;
    const size_t off = static_cast<size_t>(t) * n;
    be.copy(dh, dy + off * h, static_cast<size_t>(n) * h);
    be.axpy(static_cast<size_t>(n) * h, 1.0f, carry, dh);
    if (gru) {
      const float* h_prev =
          s == 0 ? zeros_.data() : hbuf + static_cast<size_t>(d.reverse ? t + 1 : t - 1) * n * h;
      be.gru_step_backward(t, n, h, lengths_, h_prev, d.saved.data() + off * 4 * h, dh,
                           da + off * gh, duh + off * gh, carry);
      be.gemm_prepared(n, h, gh, duh + off * gh, gh, ut, 1.0f, carry, h);
    } else {
      be.rnn_step_backward(t, n, h, lengths_, hbuf + off * h, dh, spec_.clip, da + off * gh);
      be.gemm_prepared(n, h, gh, da + off * gh, gh, ut, 0.0f, carry, h);
    }
  }
}

void Recurrent::weight_grads(Direction& d, float* dx, bool accumulate_dx) {
  Backend& be = store_->backend();
  const int h = spec_.hidden, gh = gates_ * h, n = n_, tt = t_;
  const size_t rows = static_cast<size_t>(tt) * n;
  const float* da = d.da.data();
  const float* duh = spec_.type == RnnType::kGru ? d.duh.data() : da;
  const float* hbuf = d.h.data();
  // dU += H_prev^T dUH over the T - 1 frames that have a predecessor.
  if (tt > 1) {
    const size_t m = static_cast<size_t>(tt - 1) * n;
    const float* hp = d.reverse ? hbuf + static_cast<size_t>(n) * h : hbuf;
    const float* g = d.reverse ? duh : duh + static_cast<size_t>(n) * gh;
    be.gemm(true, false, h, gh, static_cast<int>(m), 1.0f, hp, h, g, gh, 1.0f, store_->grad(d.u),
            gh);
  }
  be.bias_grad(duh, static_cast<int>(rows), gh, store_->grad(d.b));
  const float* dar = da;
  if (d.bn) {
    float* buf = da_raw_.ensure(rows * gh);
    d.bn->backward(BnLayout{BnLayout::kRows, n, gh, tt, 1, lengths_}, d.a_raw.data(), da, buf);
    dar = buf;
  }
  be.gemm(true, false, spec_.input, gh, static_cast<int>(rows), 1.0f, x_, spec_.input, dar, gh,
          1.0f, store_->grad(d.w), gh);
  if (dx)
    be.gemm(false, true, static_cast<int>(rows), spec_.input, gh, 1.0f, dar, gh, store_->param(d.w),
            gh, accumulate_dx ? 1.0f : 0.0f, dx, spec_.input);
}

}  // namespace ds2::model
