// In-memory libsox effects chain.
//
// libsox moves audio through a chain of effects; the first effect "drains" samples out of
// nothing and the last one "flows" them to wherever it wants. We register two small effect
// handlers of our own: buffer_input drains from a std::vector<float> (converted to sox's 32-bit
// integer samples) and buffer_output appends what it receives to another vector. Each effect's
// private area (priv, allocated by libsox) holds a pointer to the per-call Buffers struct, so the
// handlers keep no state of their own and calls on different threads never share anything.
#include "augment/effects.h"

#include <cmath>
#include <cstring>
#include <string>

#include "augment/sox_init.h"
#include "core/error.h"

namespace ds2::augment {
namespace {

struct Buffers {
  const std::vector<float>* in = nullptr;
  size_t pos = 0;
  std::vector<float>* out = nullptr;
  uint64_t clips = 0;
};

Buffers* buffers_of(sox_effect_t* effp) { return *static_cast<Buffers**>(effp->priv); }

int input_drain(sox_effect_t* effp, sox_sample_t* obuf, size_t* osamp) {
  Buffers* b = buffers_of(effp);
  const size_t n = std::min(*osamp, b->in->size() - b->pos);
  const float* src = b->in->data() + b->pos;
  SOX_SAMPLE_LOCALS;
  for (size_t i = 0; i < n; ++i) obuf[i] = SOX_FLOAT_32BIT_TO_SAMPLE(src[i], b->clips);
  b->pos += n;
  *osamp = n;
  return n ? SOX_SUCCESS : SOX_EOF;
}

int output_flow(sox_effect_t* effp, const sox_sample_t* ibuf, sox_sample_t* obuf, size_t* isamp,
                size_t* osamp) {
  Buffers* b = buffers_of(effp);
  const size_t n = *isamp;
  const size_t old = b->out->size();
  b->out->resize(old + n);
  float* dst = b->out->data() + old;
  SOX_SAMPLE_LOCALS;
  for (size_t i = 0; i < n; ++i) dst[i] = SOX_SAMPLE_TO_FLOAT_32BIT(ibuf[i], b->clips);
  *osamp = 0;  // nothing goes further down the chain
  return SOX_SUCCESS;
}

const sox_effect_handler_t* input_handler() {
  static const sox_effect_handler_t h = {
      "ds2_buffer_input", nullptr, SOX_EFF_MCHAN, nullptr,         nullptr, nullptr,
      input_drain,        nullptr, nullptr,       sizeof(Buffers*)};
  return &h;
}

const sox_effect_handler_t* output_handler() {
  static const sox_effect_handler_t h = {
      "ds2_buffer_output", nullptr, SOX_EFF_MCHAN, nullptr, nullptr,
      output_flow,         nullptr, nullptr,       nullptr, sizeof(Buffers*)};
  return &h;
}

// Owns a chain; deletes it (and every effect added to it) on scope exit.
class Chain {
 public:
  Chain(double rate, size_t length) {
    enc_.encoding = SOX_ENCODING_FLOAT;
    enc_.bits_per_sample = 32;
    signal_.rate = rate;
    signal_.channels = 1;
    signal_.precision = 32;
    signal_.length = length;
    chain_ = sox_create_effects_chain(&enc_, &enc_);
    DS2_REQUIRE(chain_, Error, "libsox: cannot create an effects chain");
  }
  ~Chain() { sox_delete_effects_chain(chain_); }
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  // Adds one effect with textual arguments (as on the sox command line). `out_rate` is the rate
  // the effect is asked to produce (only rate-changing effects look at it). `buffers`, when
  // given, goes into the effect's private area (our own handlers).
  void add(const sox_effect_handler_t* handler, const std::vector<std::string>& args,
           double out_rate, Buffers* buffers = nullptr) {
    sox_effect_t* e = sox_create_effect(handler);
    DS2_REQUIRE(e, Error, "libsox: cannot create effect '{}'", handler->name);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    clear_sox_message();
    if (buffers) *static_cast<Buffers**>(e->priv) = buffers;
    if (!buffers &&
        sox_effect_options(e, static_cast<int>(argv.size()), argv.data()) != SOX_SUCCESS) {
      free(e->priv);
      free(e);
      DS2_THROW(Error, "libsox effect '{} {}': bad arguments: {}", handler->name, join(args),
                sox_messages());
    }
    sox_signalinfo_t out = signal_;
    out.rate = out_rate;
    const int rc = sox_add_effect(chain_, e, &signal_, &out);
    if (rc != SOX_SUCCESS) {
      free(e->priv);
      free(e);
      DS2_THROW(Error, "libsox effect '{} {}': cannot start: {}", handler->name, join(args),
                sox_messages());
    }
    free(e);  // sox_add_effect copied the struct into the chain, which now owns e->priv
  }

  void flow(const std::string& what) {
    clear_sox_message();
    DS2_REQUIRE(sox_flow_effects(chain_, nullptr, nullptr) == SOX_SUCCESS, Error,
                "libsox effects chain '{}' failed: {}", what, sox_messages());
  }

  double rate() const { return signal_.rate; }
  // Samples clipped inside the effects between input and output.
  uint64_t clips() const { return sox_effects_clips(chain_); }

 private:
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  }
  sox_encodinginfo_t enc_{};
  sox_signalinfo_t signal_{};  // the signal after the last added effect
  sox_effects_chain_t* chain_ = nullptr;
};

std::string num(double v) { return fmt::format("{:.17g}", v); }

}  // namespace

std::vector<float> apply_sox_effects(const std::vector<float>& in, int rate, double speed,
                                     double tempo, double pitch_cents, bool tempo_quick,
                                     uint64_t* clipped_samples) {
  DS2_REQUIRE(rate > 0, Error, "apply_sox_effects: sample rate {} is not positive", rate);
  DS2_REQUIRE(speed > 0 && tempo > 0 && std::isfinite(pitch_cents), Error,
              "apply_sox_effects: bad factors speed={} tempo={} pitch_cents={}", speed, tempo,
              pitch_cents);
  if (clipped_samples) *clipped_samples = 0;
  const double d = std::pow(2.0, pitch_cents / 1200.0);
  const double tempo_factor = tempo / d;  // WSOLA part: tempo, and pitch's time stretch
  const double rate_factor = speed * d;   // resampling part: speed, and pitch's resampling
  const bool do_tempo = std::fabs(tempo_factor - 1.0) > 1e-9;
  const bool do_rate = std::fabs(rate_factor - 1.0) > 1e-9;
  if ((!do_tempo && !do_rate) || in.empty()) return in;

  init_sox();
  std::vector<float> out;
  out.reserve(static_cast<size_t>(static_cast<double>(in.size()) / (tempo * speed)) + 1024);
  Buffers buffers;
  buffers.in = &in;
  buffers.out = &out;
  {
    Chain chain(rate, in.size());
    chain.add(input_handler(), {}, rate, &buffers);
    if (do_tempo) {
      std::vector<std::string> args = {"-s", num(tempo_factor)};
      if (tempo_quick) args.insert(args.begin(), "-q");
      chain.add(find_sox_effect("tempo"), args, rate);
    }
    if (do_rate) {
      chain.add(find_sox_effect("speed"), {num(rate_factor)}, rate * rate_factor);
      chain.add(find_sox_effect("rate"), {}, rate);
    }
    DS2_REQUIRE(std::fabs(chain.rate() - rate) < 1e-6, Error,
                "libsox effects chain ends at {} Hz instead of {} Hz", chain.rate(), rate);
    chain.add(output_handler(), {}, rate, &buffers);
    chain.flow(fmt::format("tempo={} speed={} pitch_cents={}{}", tempo, speed, pitch_cents,
                           tempo_quick ? " (quick)" : ""));
    buffers.clips += chain.clips();
  }
  if (clipped_samples) *clipped_samples = buffers.clips;
  return out;
}

}  // namespace ds2::augment
