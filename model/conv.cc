// Conv2d block: convolution as sgemm, then batch norm and clipped ReLU.
//
// Weights are (C_out, kt, C_in, kf): for each time tap i, W_i = W[:, i] is a (C_out, C_in kf)
// matrix with leading dimension kt C_in kf. Per utterance, in chunks of frames (only the valid
// ones: input frames < T_n, output frames < out_length(T_n); the rest of z stays zero):
//  - time stride 1 ("tap" path, the dominant layers), chunks of m input frames s0 .. s0 + m - 1:
//    colf = im2col over frequency only, (C_in kf, m F'); one GEMM P = W (C_out kt, C_in kf) colf
//    gives every tap's partial output, and tap i of input frame s is added to output frame
//    s + pt - i (conv_tap_add). The unfolded matrix is kt times smaller than a full im2col, the
//    GEMM has C_out kt rows, which keeps sgemm efficient, and the chunks need no halo: each input
//    frame is unfolded and multiplied once, so on the CPU a chunk can be sized to stay in the
//    core's cache (kCpuTapBudget) without repeating work.
//  - time stride > 1, chunks of output frames: the full im2col (C_in kt kf, nt F') and one GEMM
//    z = W col.
// Backward recomputes the columns per chunk instead of storing them (memory stays one chunk):
// dW += dz col^T, dcol = W^T dz, dx += col2im(dcol); on the tap path with dP (conv_tap_gather:
// each tap's slice of dz for the chunk's input frames) in place of dz.
// Chunks hold at most spec.col_budget floats (32 MiB), so the workspace does not grow with T.
//
// Threads: the utterances of a batch are independent until the weight gradient, so on the CPU
// they are spread over min(threads, N) workers (Backend::parallel_tasks), each with its own
// workspace and running its GEMMs on one thread: at 2 threads that scales better than splitting
// each (M, N, K) product in two. The weight gradient is summed per group of utterances
// (utterance j in group j % G, G = min(N, kGradGroups), each group's partial sum in its own
// buffer) and the groups are added in order, so the result is the same on any thread count.
// On a GPU there is one worker and one group (the device runs one product at a time).
#include "model/conv.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ds2::model {
Conv2d::Conv2d(ParamStore& store, const std::string& name, const ConvSpec& spec)
    : store_(&store), spec_(spec) {
  DS2_REQUIRE(spec.kf >= 1 && spec.kt >= 1 && spec.sf >= 1 && spec.st >= 1 && spec.c_out >= 1,
              ConfigError, "{}: invalid convolution kernel/stride/filters", name);
  DS2_REQUIRE(spec.f_out() >= 1, ConfigError, "{}: kernel {}x{} too large for {} bins", name,
              spec.kf, spec.kt, spec.f_in);
  geom_.c_in = spec.c_in;
  geom_.f_in = spec.f_in;
  geom_.c_out = spec.c_out;
  geom_.kt = spec.kt;
  geom_.kf = spec.kf;
  geom_.st = spec.st;
  geom_.sf = spec.sf;
  geom_.pt = spec.pt();
  geom_.pf = spec.pf();
  const int k = geom_.col_rows();
  w_ = store.add_param(name + ".weight", {spec.c_out, spec.kt, spec.c_in, spec.kf}, Init::kNormal,
                       static_cast<float>(std::sqrt(2.0 / k)));
  bn_ = std::make_unique<BatchNorm>(store, name + ".bn", spec.c_out, spec.bn_momentum, spec.bn_eps);
  for (Buffer* b : {&z_, &y_, &dz_, &dx_}) b->set_backend(&store.backend());
}

int ConvSpec::chunk_frames(size_t budget) const {
  const size_t per_frame = st == 1 ? static_cast<size_t>(std::max(c_in * kf, c_out * kt)) * f_out()
                                   : static_cast<size_t>(c_in) * kt * kf * f_out();
  return static_cast<int>(std::clamp<size_t>(budget / per_frame, 1, 1 << 20));
}

size_t Conv2d::col_floats(int chunk, int frames) const {
  const size_t nt = std::min(chunk, frames);
  if (tap_path()) return static_cast<size_t>(spec_.c_in) * spec_.kf * nt * geom_.f_out();
  return static_cast<size_t>(geom_.col_rows()) * nt * geom_.f_out();
}

namespace {
// The frequency-only unfolding used by the tap path: kt = 1, no time padding or stride.
ConvGeom freq_geom(const ConvGeom& g) {
  ConvGeom f = g;
  f.kt = 1;
  f.st = 1;
  f.pt = 0;
  return f;
}
}  // namespace

namespace {
constexpr int kGradGroups = 8;  // weight-gradient groups on the CPU (at most 8 workers use them)
// Floats per tap-path chunk on the CPU: the unfolded columns and P of a chunk then fit in a core's
// L2 cache, where im2col writes them and the GEMM reads them back (bench_model).
constexpr size_t kCpuTapBudget = size_t{1} << 18;  // 1 MiB
}  // namespace

int Conv2d::chunk() const {
  const bool cpu = store_->backend().device_index() < 0;
  return spec_.chunk_frames(cpu && tap_path() ? std::min(spec_.col_budget, kCpuTapBudget)
                                              : spec_.col_budget);
}

int Conv2d::frames(int j) const {
  return tap_path() ? std::min(geom_.t_in, lengths_[j]) : out_lengths_[j];
}

int Conv2d::workers(int n) const {
  const Backend& be = store_->backend();
  return be.device_index() >= 0 ? 1 : std::max(1, std::min(n, be.num_threads()));
}

int Conv2d::grad_groups(int n) const {
  return store_->backend().device_index() >= 0 ? 1 : std::max(1, std::min(n, kGradGroups));
}

Conv2d::Workspace& Conv2d::workspace(int w) {
  while (static_cast<int>(ws_.size()) <= w) {
    ws_.emplace_back();
    ws_.back().col.set_backend(&store_->backend());
    ws_.back().p.set_backend(&store_->backend());
  }
  return ws_[w];
}

void Conv2d::forward_chunk(const float* xj, int t0, int nt, int out_len, float* zj, Workspace& ws) {
  Backend& be = store_->backend();
  float* col = ws.col.data();
  const int to = geom_.t_out(), fo = geom_.f_out(), co = spec_.c_out;
  const float* w = store_->param(w_);
  if (!tap_path()) {
    const int k = geom_.col_rows();
    be.im2col(geom_, xj, t0, nt, col);
    be.gemm(false, false, co, nt * fo, k, 1.0f, w, k, col, nt * fo, 0.0f,
            zj + static_cast<size_t>(t0) * fo, to * fo);
    return;
  }
  const int kc = spec_.c_in * spec_.kf, rows = co * spec_.kt;
  float* p = ws.p.ensure(static_cast<size_t>(rows) * nt * fo);
  be.im2col(freq_geom(geom_), xj, t0, nt, col);
  be.gemm(false, false, rows, nt * fo, kc, 1.0f, w, kc, col, nt * fo, 0.0f, p, nt * fo);
  be.conv_tap_add(p, co, spec_.kt, t0, nt, geom_.pt, out_len, fo, zj, to * fo);
}

void Conv2d::backward_chunk(const float* xj, const float* dzj, int t0, int nt, int out_len,
                            float* dxj, float* dw, Workspace& ws) {
  Backend& be = store_->backend();
  const int to = geom_.t_out(), fo = geom_.f_out(), co = spec_.c_out;
  const float* w = store_->param(w_);
  float* col = ws.col.data();
  if (!tap_path()) {
    const int k = geom_.col_rows();
    const float* g = dzj + static_cast<size_t>(t0) * fo;
    be.im2col(geom_, xj, t0, nt, col);
    be.gemm(false, true, co, k, nt * fo, 1.0f, g, to * fo, col, nt * fo, 1.0f, dw, k);
    if (!dxj) return;
    be.gemm(true, false, k, nt * fo, co, 1.0f, w, k, g, to * fo, 0.0f, col, nt * fo);
    be.col2im(geom_, col, t0, nt, dxj);
    return;
  }
  const int kc = spec_.c_in * spec_.kf, rows = co * spec_.kt;
  const ConvGeom fg = freq_geom(geom_);
  float* dp = ws.p.ensure(static_cast<size_t>(rows) * nt * fo);
  be.im2col(fg, xj, t0, nt, col);
  be.conv_tap_gather(dzj, to * fo, co, spec_.kt, t0, nt, geom_.pt, out_len, fo, dp);
  be.gemm(false, true, rows, kc, nt * fo, 1.0f, dp, nt * fo, col, nt * fo, 1.0f, dw, kc);
  if (!dxj) return;
  be.gemm(true, false, kc, nt * fo, rows, 1.0f, w, kc, dp, nt * fo, 0.0f, col, nt * fo);
  be.col2im(fg, col, t0, nt, dxj);
}

const float* Conv2d::forward(const float* x, int n, int t, const int32_t* lengths, Mode mode) {
  Backend& be = store_->backend();
  x_ = x;
  n_ = n;
  lengths_ = lengths;
  geom_.t_in = t;
  const int to = geom_.t_out(), fo = geom_.f_out(), co = spec_.c_out;
  const size_t in_plane = static_cast<size_t>(spec_.c_in) * t * spec_.f_in;
  const size_t out_plane = static_cast<size_t>(co) * to * fo;
  out_lengths_.resize(n);
  for (int j = 0; j < n; ++j) out_lengths_[j] = std::min(to, spec_.out_length(lengths[j]));
  float* z = z_.ensure(out_plane * n);
  be.fill(z, out_plane * n, 0.0f);
  const int chunk = this->chunk(), nw = workers(n);
  for (int w = 0; w < nw; ++w) workspace(w).col.ensure(col_floats(chunk, tap_path() ? t : to));
  be.parallel_tasks(nw, [&](int w) {
    for (int j = w; j < n; j += nw)
      for (int t0 = 0; t0 < frames(j); t0 += chunk)
        forward_chunk(x + j * in_plane, t0, std::min(chunk, frames(j) - t0), out_lengths_[j],
                      z + j * out_plane, ws_[w]);
  });
  float* y = y_.ensure(out_plane * n);
  bn_->forward(BnLayout{BnLayout::kChannels, n, co, to, fo, out_lengths_.data()}, z, y, mode);
  be.clipped_relu(y, out_plane * n, spec_.clip);
  return y;
}

float* Conv2d::backward(float* dy, bool need_dx) {
  Backend& be = store_->backend();
  const int t = geom_.t_in, to = geom_.t_out(), fo = geom_.f_out();
  const int co = spec_.c_out, n = n_;
  const size_t in_plane = static_cast<size_t>(spec_.c_in) * t * spec_.f_in;
  const size_t out_plane = static_cast<size_t>(co) * to * fo;
  be.clipped_relu_backward(y_.data(), dy, out_plane * n, spec_.clip);
  float* dz = dz_.ensure(out_plane * n);
  bn_->backward(BnLayout{BnLayout::kChannels, n, co, to, fo, out_lengths_.data()}, z_.data(), dy,
                dz);
  float* dx = nullptr;
  if (need_dx) {
    dx = dx_.ensure(in_plane * n);
    be.fill(dx, in_plane * n, 0.0f);
  }
  const int chunk = this->chunk(), groups = grad_groups(n);
  const int nw = std::min(workers(n), groups);
  for (int w = 0; w < nw; ++w) workspace(w).col.ensure(col_floats(chunk, tap_path() ? t : to));
  // One group: straight into the gradient. Several: each group's sum apart, then in order.
  const size_t wsize = store_->params_info()[w_].size;
  while (groups > 1 && dw_parts_.size() < static_cast<size_t>(groups)) {
    dw_parts_.emplace_back();
    dw_parts_.back().set_backend(&be);
  }
  be.parallel_tasks(nw, [&](int w) {
    for (int g = w; g < groups; g += nw) {
      float* dw = store_->grad(w_);
      if (groups > 1) {
        dw = dw_parts_[g].ensure(wsize);
        be.fill(dw, wsize, 0.0f);
      }
      for (int j = g; j < n; j += groups)
        for (int t0 = 0; t0 < frames(j); t0 += chunk)
          backward_chunk(x_ + j * in_plane, dz + j * out_plane, t0, std::min(chunk, frames(j) - t0),
                         out_lengths_[j], dx ? dx + j * in_plane : nullptr, dw, ws_[w]);
    }
  });
  if (groups > 1)
    for (int g = 0; g < groups; ++g) be.axpy(wsize, 1.0f, dw_parts_[g].data(), store_->grad(w_));
  if (dx) be.mask_maps(dx, n, spec_.c_in, t, spec_.f_in, lengths_);
  return dx;
}

}  // namespace ds2::model
