// Conv2d block: convolution as sgemm, then batch norm and clipped ReLU.
//
// Weights are (C_out, kt, C_in, kf), i.e. a (C_out kt, C_in kf) matrix whose row (c, i) is tap i
// of output channel c. Tap i of output frame t' reads input frame s = t' st - pt + i, so input
// frame s meets only the taps i with i = s + pt (mod st), and gives them to output frame
// t' = (s + pt - i) / st. The taps therefore fall into st residue classes rho (i = rho + a st,
// a < k_rho), each met by the input frames s = first_rho + u st, u = 0, 1, ...: a stride-1
// convolution over u with k_rho taps, output frame t' = u + delta_rho - a. Per utterance and
// class, in chunks of m such input frames (only valid ones: s < T_n; output frames >=
// out_length(T_n) are dropped and stay zero):
//   colf = im2col over frequency only of the chunk's frames, (C_in kf, m F');
//   P = W_rho (C_out k_rho, C_in kf) colf, one GEMM giving every tap's partial output;
//   z[c, u + delta - a] += P[(c, a), u] (conv_tap_add).
// Every input frame is unfolded and multiplied once, with no halo between chunks, the unfolded
// matrix holds C_in kf rows per input frame (a full im2col would hold C_in kt kf per output
// frame), and the GEMM has C_out k_rho rows, which keeps sgemm efficient (for DS2's first layer,
// 32 filters 41x11 at time stride 3: 128 rows instead of 32, and 41 x 3 unfolded rows per output
// frame instead of 451). On the CPU a chunk is sized to stay in the core's L2 cache
// (kCpuChunkBudget). W_rho is W itself at stride 1 and a packed copy of its rows otherwise.
// Backward recomputes the columns per chunk instead of storing them (memory stays one chunk):
// dP = each tap's slice of dz (conv_tap_gather), dW_rho += dP colf^T, dcolf = W_rho^T dP,
// dx += col2im(dcolf). Chunks hold at most spec.col_budget floats (32 MiB), so the workspace
// does not grow with T.
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
  for (Buffer* b : {&z_, &y_, &dz_, &dx_, &w_packed_}) b->set_backend(&store.backend());
}

int ConvSpec::chunk_frames(size_t budget) const {
  const int taps = (kt + st - 1) / st;  // the largest residue class
  const size_t per_frame = static_cast<size_t>(std::max(c_in * kf, c_out * taps)) * f_out();
  return static_cast<int>(std::clamp<size_t>(budget / per_frame, 1, 1 << 20));
}

namespace {
constexpr int kGradGroups = 8;  // weight-gradient groups on the CPU (at most 8 workers use them)
// Floats per chunk on the CPU: the unfolded columns and P of a chunk then fit in a core's L2
// cache, where im2col writes them and the GEMM reads them back (bench_model).
constexpr size_t kCpuChunkBudget = size_t{1} << 18;  // 1 MiB
}  // namespace

std::vector<Conv2d::Residue> Conv2d::residues() const {
  std::vector<Residue> out;
  const int st = spec_.st, pt = spec_.pt();
  for (int rho = 0; rho < std::min(st, spec_.kt); ++rho) {
    Residue r;
    r.rho = rho;
    r.taps = (spec_.kt - rho + st - 1) / st;
    r.first = ((rho - pt) % st + st) % st;  // the first input frame s = rho - pt (mod st)
    r.delta = (r.first + pt - rho) / st;    // exact: first + pt = rho (mod st)
    r.row0 = out.empty() ? 0 : out.back().row0 + spec_.c_out * out.back().taps;
    out.push_back(r);
  }
  return out;
}

ConvGeom Conv2d::residue_geom(const Residue& r) const {
  ConvGeom f = geom_;  // frame u of the class is input frame first + u st, frequency unfolded
  f.kt = 1;
  f.pt = -r.first;
  return f;
}

int Conv2d::residue_frames(const Residue& r, int j) const {
  const int len = std::min(geom_.t_in, lengths_[j]);
  return len > r.first ? (len - r.first + spec_.st - 1) / spec_.st : 0;
}

int Conv2d::chunk() const {
  const bool cpu = store_->backend().device_index() < 0;
  return spec_.chunk_frames(cpu ? std::min(spec_.col_budget, kCpuChunkBudget) : spec_.col_budget);
}

const float* Conv2d::residue_weights(const Residue& r) {
  const float* w = store_->param(w_);
  if (spec_.st == 1) return w;
  const int kc = spec_.c_in * spec_.kf;
  return w_packed_.data() + static_cast<size_t>(r.row0) * kc;
}

void Conv2d::pack_weights() {
  if (spec_.st == 1) return;
  // Class rho's rows (c, a) = W rows (c, rho + a st), the classes one after the other (row0).
  Backend& be = store_->backend();
  const int kc = spec_.c_in * spec_.kf, co = spec_.c_out;
  const float* w = store_->param(w_);
  float* wp = w_packed_.ensure(static_cast<size_t>(co) * spec_.kt * kc);
  for (const Residue& r : residues())
    for (int c = 0; c < co; ++c)
      for (int a = 0; a < r.taps; ++a)
        be.copy(wp + (static_cast<size_t>(r.row0) + c * r.taps + a) * kc,
                w + (static_cast<size_t>(c) * spec_.kt + r.rho + a * spec_.st) * kc, kc);
}

size_t Conv2d::col_floats(int chunk) const {
  const int frames = (geom_.t_in + spec_.st - 1) / spec_.st;  // the most a class can have
  return static_cast<size_t>(spec_.c_in) * spec_.kf * std::min(chunk, frames) * geom_.f_out();
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
    for (Buffer* b : {&ws_.back().col, &ws_.back().p, &ws_.back().dw})
      b->set_backend(&store_->backend());
  }
  return ws_[w];
}

void Conv2d::forward_chunk(const float* xj, const Residue& r, int u0, int m, int out_len, float* zj,
                           Workspace& ws) {
  Backend& be = store_->backend();
  const int to = geom_.t_out(), fo = geom_.f_out(), co = spec_.c_out;
  const int kc = spec_.c_in * spec_.kf, rows = co * r.taps;
  float* col = ws.col.data();
  float* p = ws.p.ensure(static_cast<size_t>(rows) * m * fo);
  be.im2col(residue_geom(r), xj, u0, m, col);
  be.gemm(false, false, rows, m * fo, kc, 1.0f, residue_weights(r), kc, col, m * fo, 0.0f, p,
          m * fo);
  be.conv_tap_add(p, co, r.taps, u0, m, r.delta, out_len, fo, zj, to * fo);
}

void Conv2d::backward_chunk(const float* xj, const float* dzj, const Residue& r, int u0, int m,
                            int out_len, float* dxj, float* dw, Workspace& ws) {
  Backend& be = store_->backend();
  const int to = geom_.t_out(), fo = geom_.f_out(), co = spec_.c_out;
  const int kc = spec_.c_in * spec_.kf, rows = co * r.taps;
  const ConvGeom g = residue_geom(r);
  float* col = ws.col.data();
  float* dp = ws.p.ensure(static_cast<size_t>(rows) * m * fo);
  be.im2col(g, xj, u0, m, col);
  be.conv_tap_gather(dzj, to * fo, co, r.taps, u0, m, r.delta, out_len, fo, dp);
  be.gemm(false, true, rows, kc, m * fo, 1.0f, dp, m * fo, col, m * fo, 1.0f, dw, kc);
  if (!dxj) return;
  be.gemm(true, false, kc, m * fo, rows, 1.0f, residue_weights(r), kc, dp, m * fo, 0.0f, col,
          m * fo);
  be.col2im(g, col, u0, m, dxj);
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
  pack_weights();
  const std::vector<Residue> classes = residues();
  const int chunk = this->chunk(), nw = workers(n);
  for (int w = 0; w < nw; ++w) workspace(w).col.ensure(col_floats(chunk));
  be.parallel_tasks(nw, [&](int w) {
    for (int j = w; j < n; j += nw)
      for (const Residue& r : classes)
        for (int u0 = 0; u0 < residue_frames(r, j); u0 += chunk)
          forward_chunk(x + j * in_plane, r, u0, std::min(chunk, residue_frames(r, j) - u0),
                        out_lengths_[j], z + j * out_plane, ws_[w]);
  });
  float* y = y_.ensure(out_plane * n);
  bn_->forward(BnLayout{BnLayout::kChannels, n, co, to, fo, out_lengths_.data()}, z, y, mode);
  be.clipped_relu(y, out_plane * n, spec_.clip);
  return y;
}

float* Conv2d::backward(float* dy, bool need_dx) {
  Backend& be = store_->backend();
  const int t = geom_.t_in, to = geom_.t_out(), fo = geom_.f_out();
  const int co = spec_.c_out, n = n_, kc = spec_.c_in * spec_.kf;
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
  pack_weights();
  const std::vector<Residue> classes = residues();
  const int chunk = this->chunk(), groups = grad_groups(n);
  const int nw = std::min(workers(n), groups);
  for (int w = 0; w < nw; ++w) workspace(w).col.ensure(col_floats(chunk));
  // One group: straight into the gradient. Several: each group's sum apart, then in order.
  const size_t wsize = store_->params_info()[w_].size;
  while (groups > 1 && dw_parts_.size() < static_cast<size_t>(groups)) {
    dw_parts_.emplace_back();
    dw_parts_.back().set_backend(&be);
  }
  be.parallel_tasks(nw, [&](int w) {
    Workspace& ws = ws_[w];
    for (int g = w; g < groups; g += nw) {
      float* dw = store_->grad(w_);
      if (groups > 1) {
        dw = dw_parts_[g].ensure(wsize);
        be.fill(dw, wsize, 0.0f);
      }
      for (const Residue& r : classes) {
        // Stride 1: the one class is W itself. Else the class's packed rows are summed apart,
        // then added to their rows of dw.
        float* dwr = dw;
        const size_t rsize = static_cast<size_t>(co) * r.taps * kc;
        if (spec_.st > 1) {
          dwr = ws.dw.ensure(rsize);
          be.fill(dwr, rsize, 0.0f);
        }
        for (int j = g; j < n; j += groups)
          for (int u0 = 0; u0 < residue_frames(r, j); u0 += chunk)
            backward_chunk(x_ + j * in_plane, dz + j * out_plane, r, u0,
                           std::min(chunk, residue_frames(r, j) - u0), out_lengths_[j],
                           dx ? dx + j * in_plane : nullptr, dwr, ws);
        if (spec_.st > 1)
          for (int c = 0; c < co; ++c)
            for (int a = 0; a < r.taps; ++a)
              be.axpy(kc, 1.0f, dwr + (static_cast<size_t>(c) * r.taps + a) * kc,
                      dw + (static_cast<size_t>(c) * spec_.kt + r.rho + a * spec_.st) * kc);
      }
    }
  });
  if (groups > 1)
    for (int g = 0; g < groups; ++g) be.axpy(wsize, 1.0f, dw_parts_[g].data(), store_->grad(w_));
  if (dx) be.mask_maps(dx, n, spec_.c_in, t, spec_.f_in, lengths_);
  return dx;
}

}  // namespace ds2::model
