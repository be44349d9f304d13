// Transcriber: checkpoint + featurizer + decoder for single files (see transcribe.h).
#include "eval/transcribe.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "decode/arpa_lm.h"
#include "decode/load_lm.h"
#include "eval/stream.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"
#include "pipeline/featurizer.h"

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

namespace {
auto log() { return logger("transcribe"); }
}  // namespace

void TranscribeOptions::add_to(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("model", po::value(&model)->required(), "checkpoint (RUN/ckpt-best.h5)")
      ("file", po::value(&files)->multitoken(), "audio file(s); also the positional arguments")
      ("manifest", po::value(&manifest),
       "also transcribe the audio of this manifest (tsv, jsonl, csv or a LibriSpeech tree)")
      ("lm", po::value(&lm), "word LM: ARPA, or compiled by ds2 lm compile (beam decoder)")
      ("decoder", po::value(&decoder)->default_value(decoder), "greedy | beam")
      ("device", po::value(&device)->default_value(device), "network backend: cpu | cuda")
      ("threads", po::value(&threads)->default_value(threads),
       "CPU threads of the network (0: OpenMP default)")
      ("normalize", po::value(&normalize),
       "feature normalization: global | utterance | none (default: as the model was trained)")
      ("stream", po::bool_switch(&stream),
       "streaming decode (forward-only models): feed the audio in chunks of --chunk-ms and "
       "print a partial text per chunk on stderr. Incremental (each conv layer gets its "
       "context frames, the recurrent state is carried between chunks) and exact: an output "
       "frame is emitted once later audio cannot change it (past the conv and lookahead "
       "context), so the final text is the offline one")
      ("chunk-ms", po::value(&chunk_ms)->default_value(chunk_ms),
       "audio per chunk with --stream (milliseconds)");
  // Not FeatureOptions::add_to: these have no default value (the checkpoint's is the default)
  // and record that they were given.
  d.add_options()
      ("sample-rate", po::value(&features.sample_rate)->notifier([this](int) {
         features_given.sample_rate = true; }),
       "audio is converted to this rate (Hz) before featurizing (default: the checkpoint's)")
      ("window-ms", po::value(&features.window_ms)->notifier([this](double) {
         features_given.window_ms = true; }),
       "spectrogram window (ms) (default: the checkpoint's)")
      ("hop-ms", po::value(&features.hop_ms)->notifier([this](double) {
         features_given.hop_ms = true; }),
       "spectrogram frame step (ms) (default: the checkpoint's)")
      ("feature", po::value(&features.feature)->notifier([this](const std::string&) {
         features_given.feature = true; }),
       "log: log(|X|^2 + 1e-10); log1p: log1p(|X|^2) (default: the checkpoint's)");
  // clang-format on
  beam.add_to(d);
}

namespace {

// o->features with every field not given explicitly taken from the checkpoint's settings (when
// it has them); a warning for each given field that differs from them.
void resolve_features(TranscribeOptions* o, const model::CheckpointExtras& extras) {
  pipeline::FeatureMeta trained;
  if (!model::get_feature_meta(extras, o->model, &trained)) {
    log()->debug(
        "{}: no feature settings (written before they were stored): using the "
        "defaults and the command line's",
        o->model);
    return;
  }
  pipeline::FeatureOptions& f = o->features;
  const TranscribeOptions::FeaturesGiven& g = o->features_given;
  pipeline::FeatureMeta given;
  given.sample_rate = f.sample_rate;
  given.window_ms = f.window_ms;
  given.hop_ms = f.hop_ms;
  given.feature = f.feature;
  if (!g.sample_rate) f.sample_rate = trained.sample_rate;
  if (!g.window_ms) f.window_ms = trained.window_ms;
  if (!g.hop_ms) f.hop_ms = trained.hop_ms;
  if (!g.feature) f.feature = trained.feature;
  const bool is_given[] = {g.sample_rate, g.window_ms, g.hop_ms, false, g.feature};
  const char* option[] = {"sample-rate", "window-ms", "hop-ms", "", "feature"};
  const auto want = model::feature_fields(trained), have = model::feature_fields(given);
  for (size_t i = 0; i < want.size(); ++i)
    if (is_given[i] && want[i].second != have[i].second)
      log()->warn("--{} {} overrides {}'s {} {} (what the model was trained on)", option[i],
                  have[i].second, o->model, want[i].first, want[i].second);
}

}  // namespace

Transcriber::Transcriber(const TranscribeOptions& o) : o_(o) {
  DS2_REQUIRE(o.decoder == "greedy" || o.decoder == "beam", ConfigError,
              "option 'decoder': '{}' (expected greedy or beam)", o.decoder);
  DS2_REQUIRE(o.lm.empty() || o.decoder == "beam", ConfigError,
              "option 'lm': a language model needs --decoder beam");
  DS2_REQUIRE(o.chunk_ms > 0, ConfigError, "option 'chunk-ms': {} (must be > 0)", o.chunk_ms);
  if (o.stream && model::read_checkpoint_config(o.model).bidirectional)
    DS2_THROW(ConfigError,
              "{}: --stream needs a forward-only model (model.bidirectional = false, with a "
              "lookahead): this one is bidirectional, and its backward direction reads the "
              "utterance's last frame first",
              o.model);
  am_ = std::make_unique<AcousticModel>(o.model, o.device, o.threads, o.normalize);
  resolve_features(&o_, am_->extras());
  featurizer_ = std::make_unique<pipeline::Featurizer>(o_.features);
  const int n_bins = am_->net().config().n_bins;
  DS2_REQUIRE(n_bins == featurizer_->n_bins(), ConfigError,
              "{}: the model takes {} bins but --window-ms {} at --sample-rate {} gives {}",
              o.model, n_bins, o_.features.window_ms, o_.features.sample_rate,
              featurizer_->n_bins());
  DS2_REQUIRE(!(o.stream && am_->normalize_mode() == "utterance"), ConfigError,
              "option 'stream': utterance normalization needs the whole utterance before the "
              "first frame (use a model trained with global normalization, or --normalize)");
  if (!o.lm.empty()) lm_ = load_decoder_lm(o.lm, o.beam.lexicon);
}

Transcriber::~Transcriber() = default;

std::vector<float> Transcriber::samples(const std::string& path) {
  std::vector<float> s = pipeline::decode_audio(path, o_.features.sample_rate);
  DS2_REQUIRE(featurizer_->num_frames(static_cast<int64_t>(s.size())) > 0, FormatError,
              "{}: {} samples, shorter than one {} ms analysis window", path, s.size(),
              o_.features.window_ms);
  return s;
}

std::vector<float> Transcriber::features(const std::string& path) {
  std::vector<float> feats;
  featurizer_->compute(samples(path), feats);
  const size_t f = static_cast<size_t>(featurizer_->n_bins());
  am_->normalizer().apply(feats.data(), feats.size() / f, f);
  return feats;
}

std::string Transcriber::transcribe(const std::vector<float>& feats) {
  const int f = featurizer_->n_bins(), c = am_->net().config().alphabet_size;
  const int32_t t = static_cast<int32_t>(feats.size() / f);
  DS2_REQUIRE(t > 0, ConfigError, "Transcriber::transcribe: no feature frames");
  const float* act = am_->net().forward(feats.data(), &t, 1, t, model::Mode::kInfer);
  const int len = am_->net().out_lengths()[0];
  act_.resize(static_cast<size_t>(len) * c);
  am_->net().backend().download(act_.data(), act, act_.size());
  return decode(act_.data(), len);
}

std::string Transcriber::transcribe_stream(const std::string& path,
                                           const PartialCallback& on_partial) {
  const std::vector<float> audio = samples(path);
  const int rate = o_.features.sample_rate, hop = o_.features.hop();
  const size_t f = static_cast<size_t>(featurizer_->n_bins());
  const int64_t chunk = std::max<int64_t>(1, std::llround(o_.chunk_ms * rate / 1000.0));
  StreamingForward stream(am_->net());
  Decoder decoder(*this);
  const int c = am_->net().config().alphabet_size;
  // Advances the decoder over the output frames made final since the last call; its text.
  auto decode_new = [&]() {
    const int t = stream.frames_final() - decoder.frames;
    decoder.advance(stream.activations().data() + static_cast<size_t>(decoder.frames) * c, t);
    return text(decoder.labels());
  };
  std::vector<float> feats;
  int64_t done = 0;  // feature frames computed
  for (int64_t received = 0; received < static_cast<int64_t>(audio.size());) {
    received = std::min<int64_t>(received + chunk, static_cast<int64_t>(audio.size()));
    // Frames [done, num_frames(received)) start at sample done * hop and need only samples
    // already received (featurizer.h: frame i covers [i hop, i hop + window)).
    const int64_t avail = featurizer_->num_frames(received);
    if (avail > done) {
      featurizer_->compute(audio.data() + done * hop, received - done * hop, feats);
      const size_t n = feats.size() / f;
      am_->normalizer().apply(feats.data(), n, f);  // global / none: per frame
      stream.push(feats.data(), static_cast<int>(n));
      done = avail;
    }
    if (received == static_cast<int64_t>(audio.size())) stream.finish();
    // The last chunk's text is the final one, decoded below.
    if (on_partial && received < static_cast<int64_t>(audio.size()))
      on_partial(static_cast<double>(received) / rate, decode_new());
  }
  const std::string final_text = decode_new();
  if (on_partial) on_partial(static_cast<double>(audio.size()) / rate, final_text);
  log()->debug(
      "{}: streamed {} frames, conv windows {} frames ({:.2f}x), decoder workspace {:.1f} MiB",
      path, stream.frames_received(), stream.frames_computed(),
      static_cast<double>(stream.frames_computed()) / std::max(1, stream.frames_received()),
      o_.decoder == "greedy" ? 0.0 : ws_.bytes() / 1048576.0);
  return final_text;
}

Transcriber::Decoder::Decoder(Transcriber& tr)
    : tr_(tr), c_(tr.am_->net().config().alphabet_size), greedy_(tr.am_->alphabet().blank()) {
  if (tr.o_.decoder != "greedy")
    beam_ = std::make_unique<PrefixBeamSearch>(c_, tr.am_->alphabet(), tr.lm_.get(), tr.o_.beam,
                                               &tr.ws_);
}

void Transcriber::Decoder::advance(const float* act, int t) {
  if (t <= 0) return;
  // Both decoders read the log-softmax, as ds2 eval / sweep do (greedy's argmax is the
  // activations' except for ties that the rounding of the softmax creates).
  std::vector<float>& logp = tr_.logp_;
  logp.resize(static_cast<size_t>(t) * c_);
  log_softmax_rows(act, t, c_, c_, logp.data());
  if (beam_)
    beam_->advance(logp.data(), t, c_);
  else
    greedy_.advance(logp.data(), t, c_, c_);
  frames += t;
}

std::vector<int32_t> Transcriber::Decoder::labels() {
  return beam_ ? beam_->best().labels : greedy_.labels();
}

std::string Transcriber::decode(const float* act, int t) {
  Decoder d(*this);
  d.advance(act, t);
  return text(d.labels());
}

std::string Transcriber::text(const std::vector<int32_t>& labels) const {
  std::istringstream words(am_->alphabet().decode(labels.data(), labels.size()));
  std::string out, w;
  while (words >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace ds2::eval
