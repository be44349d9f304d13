// Transcriber: checkpoint + featurizer + decoder for single files (see transcribe.h).
#include "eval/transcribe.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "eval/arpa_lm.h"
#include "eval/stream.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"
#include "pipeline/featurizer.h"

namespace ds2::eval {

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
      ("lm", po::value(&lm), "ARPA word language model (beam decoder)")
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
  // clang-format on
  beam.add_to(d);
  features.add_to(d);
}

std::string trained_normalize(const std::string& ini) {
  std::istringstream in(ini);
  std::string line;
  auto trim = [](const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') break;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    if (trim(line.substr(0, eq)) == "normalize") return trim(line.substr(eq + 1));
  }
  return "";
}

void FeatureNorm::apply(float* x, size_t frames, size_t f) const {
  std::vector<double> m(f, 0.0), inv(f, 1.0);
  if (mode == "global") {
    for (size_t c = 0; c < f; ++c) {
      m[c] = mean[c];
      inv[c] = 1.0 / std[c];
    }
  } else if (mode == "utterance" && frames > 0) {
    std::vector<double> var(f, 0.0);
    for (size_t r = 0; r < frames; ++r)
      for (size_t c = 0; c < f; ++c) m[c] += x[r * f + c];
    for (size_t c = 0; c < f; ++c) m[c] /= static_cast<double>(frames);
    for (size_t r = 0; r < frames; ++r)
      for (size_t c = 0; c < f; ++c) {
        const double d = x[r * f + c] - m[c];
        var[c] += d * d;
      }
    for (size_t c = 0; c < f; ++c)
      inv[c] = 1.0 / std::max(std::sqrt(var[c] / static_cast<double>(frames)), 1e-5);
  } else {
    return;  // none
  }
  for (size_t c = 0; c < f; ++c) {
    const float mc = static_cast<float>(m[c]), s = static_cast<float>(inv[c]);
    for (size_t r = 0; r < frames; ++r) x[r * f + c] = (x[r * f + c] - mc) * s;
  }
}

Transcriber::Transcriber(const TranscribeOptions& o) : o_(o) {
  DS2_REQUIRE(o.decoder == "greedy" || o.decoder == "beam", ConfigError,
              "option 'decoder': '{}' (expected greedy or beam)", o.decoder);
  DS2_REQUIRE(o.lm.empty() || o.decoder == "beam", ConfigError,
              "option 'lm': a language model needs --decoder beam");
  DS2_REQUIRE(o.chunk_ms > 0, ConfigError, "option 'chunk-ms': {} (must be > 0)", o.chunk_ms);
  model::ModelConfig cfg = model::read_checkpoint_config(o.model);
  cfg.device = o.device;
  cfg.num_threads = o.threads;
  if (o.stream && cfg.bidirectional)
    DS2_THROW(ConfigError,
              "{}: --stream needs a forward-only model (model.bidirectional = false, with a "
              "lookahead): this one is bidirectional, and its backward direction reads the "
              "utterance's last frame first",
              o.model);
  featurizer_ = std::make_unique<pipeline::Featurizer>(o.features);
  DS2_REQUIRE(cfg.n_bins == featurizer_->n_bins(), ConfigError,
              "{}: the model takes {} bins but --window-ms {} at --sample-rate {} gives {}",
              o.model, cfg.n_bins, o.features.window_ms, o.features.sample_rate,
              featurizer_->n_bins());
  net_ = std::make_unique<model::Network>(cfg, /*with_grads=*/false);
  model::NormStats stats;
  model::CheckpointExtras extras;
  model::load_checkpoint(o.model, *net_, &stats, &extras);
  norm_.mode = o.normalize;
  if (norm_.mode.empty()) {
    auto it = extras.str.find("train_ini");
    norm_.mode = it == extras.str.end() ? "" : trained_normalize(it->second);
    if (norm_.mode.empty()) norm_.mode = "global";
  }
  DS2_REQUIRE(norm_.mode == "global" || norm_.mode == "utterance" || norm_.mode == "none",
              ConfigError, "option 'normalize': '{}' (expected global, utterance or none)",
              norm_.mode);
  const size_t f = static_cast<size_t>(cfg.n_bins);
  if (norm_.mode == "global")
    DS2_REQUIRE(stats.mean.size() == f && stats.std.size() == f, FormatError,
                "{}: no normalization statistics (/norm) for global normalization; pass "
                "--normalize none or utterance if the model was trained so",
                o.model);
  DS2_REQUIRE(!(o.stream && norm_.mode == "utterance"), ConfigError,
              "option 'stream': utterance normalization needs the whole utterance before the "
              "first frame (use a model trained with global normalization, or --normalize)");
  norm_.mean = stats.mean;
  norm_.std = stats.std;
  auto ait = extras.str.find("alphabet");
  DS2_REQUIRE(ait != extras.str.end(), FormatError,
              "{}: no alphabet (/extra/alphabet); a checkpoint written by ds2 train has one",
              o.model);
  alphabet_ = std::make_unique<pipeline::Alphabet>(
      pipeline::Alphabet::parse(ait->second, o.model + ":/extra/alphabet"));
  DS2_REQUIRE(alphabet_->size() == cfg.alphabet_size, ConfigError,
              "{}: the model has {} outputs but its alphabet {} symbols", o.model,
              cfg.alphabet_size, alphabet_->size());
  if (!o.lm.empty()) lm_ = std::make_unique<ArpaLm>(ArpaLm::load(o.lm));
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
  norm_.apply(feats.data(), feats.size() / f, f);
  return feats;
}

std::string Transcriber::transcribe(const std::vector<float>& feats) {
  const int f = featurizer_->n_bins(), c = net_->config().alphabet_size;
  const int32_t t = static_cast<int32_t>(feats.size() / f);
  DS2_REQUIRE(t > 0, ConfigError, "Transcriber::transcribe: no feature frames");
  const float* act = net_->forward(feats.data(), &t, 1, t, model::Mode::kInfer);
  const int len = net_->out_lengths()[0];
  act_.resize(static_cast<size_t>(len) * c);
  net_->backend().download(act_.data(), act, act_.size());
  return decode(act_.data(), len);
}

std::string Transcriber::transcribe_stream(const std::string& path,
                                           const PartialCallback& on_partial) {
  const std::vector<float> audio = samples(path);
  const int rate = o_.features.sample_rate, hop = o_.features.hop();
  const size_t f = static_cast<size_t>(featurizer_->n_bins());
  const int64_t chunk = std::max<int64_t>(1, std::llround(o_.chunk_ms * rate / 1000.0));
  StreamingForward stream(*net_);
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
      norm_.apply(feats.data(), n, f);  // global / none: per frame
      stream.push(feats.data(), static_cast<int>(n));
      done = avail;
    }
    if (received == static_cast<int64_t>(audio.size())) stream.finish();
    if (on_partial)
      on_partial(static_cast<double>(received) / rate,
                 decode(stream.activations().data(), stream.frames_final()));
  }
  log()->debug(
      "{}: streamed {} frames, conv windows {} frames ({:.2f}x)", path, stream.frames_received(),
      stream.frames_computed(),
      static_cast<double>(stream.frames_computed()) / std::max(1, stream.frames_received()));
  return decode(stream.activations().data(), stream.frames_final());
}

std::string Transcriber::decode(const float* act, int t) {
  const int c = net_->config().alphabet_size;
  // Both decoders read the log-softmax, as ds2 eval / sweep do (greedy's argmax is the
  // activations' except for ties that the rounding of the softmax creates).
  logp_.resize(static_cast<size_t>(std::max(t, 1)) * c);
  log_softmax_rows(act, t, c, c, logp_.data());
  std::vector<int32_t> labels;
  if (o_.decoder == "greedy") {
    labels = greedy_decode(logp_.data(), t, c, c, alphabet_->blank());
  } else {
    const auto beam =
        prefix_beam_search(logp_.data(), t, c, c, *alphabet_, lm_.get(), o_.beam, &ws_);
    if (!beam.empty()) labels = beam.front().labels;
  }
  // Words of the decoded text: spaces at the ends and repeated spaces removed (as ds2 eval).
  std::istringstream words(alphabet_->decode(labels.data(), labels.size()));
  std::string text, w;
  while (words >> w) text += (text.empty() ? "" : " ") + w;
  return text;
}

}  // namespace ds2::eval
