// Conv2d block: im2col + one sgemm per chunk of output frames, then batch norm and clipped ReLU.
//
// Per utterance n and chunk of output frames [t0, t0 + nt) (only frames < out_length(T_n) are
// computed; the rest stay zero): col = im2col(x_n) (K, nt F'), z_n[:, t0 F' ..] = W (C_out, K)
// col. Backward recomputes col per chunk instead of storing it (memory stays one chunk):
// dW += dz_chunk col^T, and when dx is needed dcol = W^T dz_chunk, dx_n += col2im(dcol).
// The chunk holds at most kColFloats floats (16 MiB), so the workspace does not grow with T.
#include "model/conv.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ds2::model {
namespace {
constexpr size_t kColFloats = size_t{1} << 22;
}

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
  w_ = store.add_param(name + ".weight", {spec.c_out, spec.c_in, spec.kt, spec.kf}, Init::kNormal,
                       static_cast<float>(std::sqrt(2.0 / k)));
  bn_ = std::make_unique<BatchNorm>(store, name + ".bn", spec.c_out, spec.bn_momentum, spec.bn_eps);
  for (Buffer* b : {&z_, &y_, &dz_, &dx_, &col_}) b->set_backend(&store.backend());
}

int Conv2d::chunk_frames() const {
  const size_t per_frame = static_cast<size_t>(geom_.col_rows()) * geom_.f_out();
  return static_cast<int>(std::max<size_t>(1, kColFloats / per_frame));
}

const float* Conv2d::forward(const float* x, int n, int t, const int32_t* lengths, Mode mode) {
  Backend& be = store_->backend();
  x_ = x;
  n_ = n;
  lengths_ = lengths;
  geom_.t_in = t;
  const int to = geom_.t_out(), fo = geom_.f_out(), k = geom_.col_rows(), co = spec_.c_out;
  const size_t in_plane = static_cast<size_t>(spec_.c_in) * t * spec_.f_in;
  const size_t out_plane = static_cast<size_t>(co) * to * fo;
  out_lengths_.resize(n);
  for (int j = 0; j < n; ++j) out_lengths_[j] = std::min(to, spec_.out_length(lengths[j]));
  float* z = z_.ensure(out_plane * n);
  be.fill(z, out_plane * n, 0.0f);
  const int chunk = chunk_frames();
  float* col = col_.ensure(static_cast<size_t>(k) * std::min(chunk, to) * fo);
  for (int j = 0; j < n; ++j)
    for (int t0 = 0; t0 < out_lengths_[j]; t0 += chunk) {
      const int nt = std::min(chunk, out_lengths_[j] - t0);
      be.im2col(geom_, x + j * in_plane, t0, nt, col);
      be.gemm(false, false, co, nt * fo, k, 1.0f, store_->param(w_), k, col, nt * fo, 0.0f,
              z + j * out_plane + static_cast<size_t>(t0) * fo, to * fo);
    }
  float* y = y_.ensure(out_plane * n);
  bn_->forward(BnLayout{BnLayout::kChannels, n, co, to, fo, out_lengths_.data()}, z, y, mode);
  be.clipped_relu(y, out_plane * n, spec_.clip);
  return y;
}

float* Conv2d::backward(float* dy, bool need_dx) {
  Backend& be = store_->backend();
  const int t = geom_.t_in, to = geom_.t_out(), fo = geom_.f_out(), k = geom_.col_rows();
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
  const int chunk = chunk_frames();
  float* col = col_.ensure(static_cast<size_t>(k) * std::min(chunk, to) * fo);
  float* dw = store_->grad(w_);
  for (int j = 0; j < n; ++j)
    for (int t0 = 0; t0 < out_lengths_[j]; t0 += chunk) {
      const int nt = std::min(chunk, out_lengths_[j] - t0);
      const float* g = dz + j * out_plane + static_cast<size_t>(t0) * fo;
      be.im2col(geom_, x_ + j * in_plane, t0, nt, col);
      be.gemm(false, true, co, k, nt * fo, 1.0f, g, to * fo, col, nt * fo, 1.0f, dw, k);
      if (dx) {
        be.gemm(true, false, k, nt * fo, co, 1.0f, store_->param(w_), k, g, to * fo, 0.0f, col,
                nt * fo);
        be.col2im(geom_, col, t0, nt, dx + j * in_plane);
      }
    }
  if (dx) be.mask_maps(dx, n, spec_.c_in, t, spec_.f_in, lengths_);
  return dx;
}

}  // namespace ds2::model
