// `ds2 transcribe`: text of audio files from a trained checkpoint, one process, no dataset.
//
// Per file: libsox decode to mono at the feature rate (pipeline/audio.h), the DS2 spectrogram
// (pipeline/featurizer.h) with the feature settings the checkpoint was trained on (sample rate,
// window, hop, log/log1p, stored by ds2 train; defaults for checkpoints from before; each of
// --sample-rate --window-ms --hop-ms --feature overrides its setting, with a warning when it
// differs), normalization as the checkpoint was trained (pipeline/normalize.h, as `ds2 eval`:
// the `normalize` line of the training configuration stored in the checkpoint, --normalize
// overrides it; global statistics from the checkpoint's /norm), the network's forward pass in
// inference mode (batch norm on running statistics), and greedy or prefix-beam (+ ARPA LM)
// decoding (decode/ctc_decode.h). The text is what `ds2 eval` writes to hyp.trn for the same audio.
//
// Streaming (--stream, forward-only models only): the decoded samples are fed to the featurizer
// and the network in chunks of --chunk-ms as a live source would deliver them; the network runs
// incrementally (eval/stream.h: conv windows with their context, the recurrent state carried
// from chunk to chunk) and each output frame is emitted as soon as later audio cannot change it.
// Each chunk gives a partial text: the decode of the frames final so far (greedy: a prefix of the
// final text; beam: the best prefix of the running search, ranked as at the end of an utterance,
// so a later chunk may revise it). Both decoders advance over the new frames only, so a stream
// costs O(frames) in all; the final text equals the whole-file decode of the same activations.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "decode/ctc_decode.h"
#include "eval/acoustic_model.h"
#include "pipeline/featurizer.h"
#include "pipeline/normalize.h"

namespace ds2::model {
class Network;
}
namespace ds2::pipeline {
class Alphabet;
class Featurizer;
}  // namespace ds2::pipeline

namespace ds2::decode {
class LanguageModel;
}  // namespace ds2::decode

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

struct TranscribeOptions {
  std::string model;               // checkpoint (.h5)
  std::vector<std::string> files;  // audio files (positional arguments)
  std::string manifest;            // a corpus manifest (pipeline/manifest.h) whose audio to add
  std::string lm;                  // ARPA word LM (beam decoder only); empty: none
  std::string decoder = "greedy";  // greedy | beam
  std::string device = "cpu";      // network backend: cpu | cuda
  int threads = 0;                 // CPU threads of the network (0: OpenMP default)
  std::string normalize;           // "" = as the checkpoint was trained; global | utterance | none
  bool stream = false;             // chunked decoding (forward-only models)
  double chunk_ms = 320;           // audio per chunk with --stream, milliseconds
  BeamOptions beam;
  // Featurizer settings. A field marked in `features_given` is used as set; the others are
  // replaced by the checkpoint's (FeatureOptions' defaults for checkpoints without them).
  pipeline::FeatureOptions features;
  struct FeaturesGiven {
    bool sample_rate = false, window_ms = false, hop_ms = false, feature = false;
  } features_given;
  // --model --manifest --lm --decoder --device --threads --normalize --stream --chunk-ms
  // + BeamOptions + --sample-rate --window-ms --hop-ms --feature (each marks features_given;
  // `this` is captured, so parse into the object add_to was called on); the files are the
  // positional arguments (--file).
  void add_to(po::options_description& d);
};

// A checkpoint loaded for decoding one file at a time. Not thread-safe.
class Transcriber {
 public:
  // Loads the checkpoint (AcousticModel without a dataset: the alphabet and, for global
  // normalization, the statistics must be the checkpoint's), the featurizer and the LM. ConfigError
  // for inconsistent options (e.g. --stream with a bidirectional model or with utterance
  // normalization, --lm without --decoder beam, bins that do not match).
  explicit Transcriber(const TranscribeOptions& o);
  ~Transcriber();

  // Normalized features (frames, n_bins) of an audio file. IoError / FormatError naming the file
  // when it cannot be read or decoded or is shorter than one analysis window.
  std::vector<float> features(const std::string& path);
  // Text of normalized features (frames, n_bins), whole utterance at once.
  std::string transcribe(const std::vector<float>& feats);
  std::string transcribe_file(const std::string& path) { return transcribe(features(path)); }

  // Called after each chunk with the audio seconds received so far and the text of the output
  // frames final so far.
  using PartialCallback = std::function<void(double seconds, const std::string& text)>;
  // Streaming decode of a file (see the file comment); returns the final text.
  std::string transcribe_stream(const std::string& path, const PartialCallback& on_partial);

  // Text of activations (t, C) row-major (host): greedy or beam as configured, words joined by
  // single spaces.
  std::string decode(const float* act, int t);
  // Words of decoded labels: spaces at the ends and repeated spaces removed (as ds2 eval).
  std::string text(const std::vector<int32_t>& labels) const;
  const std::string& normalize_mode() const { return am_->normalize_mode(); }
  // The featurizer settings in use (the checkpoint's, or the options' where given).
  const pipeline::FeatureOptions& feature_options() const { return o_.features; }
  model::Network& network() { return am_->net(); }

 private:
  // Decoded mono samples at the feature rate; IoError / FormatError naming the file.
  std::vector<float> samples(const std::string& path);

  // Greedy or beam as configured, over activations that arrive in pieces (one piece: a whole
  // file); the beam search lives in ws_. One at a time per Transcriber.
  class Decoder {
   public:
    explicit Decoder(Transcriber& tr);
    void advance(const float* act, int t);  // the next t output frames, (t, C) row-major
    std::vector<int32_t> labels();          // the best labelling so far
    int frames = 0;                         // output frames advanced over

   private:
    Transcriber& tr_;
    int c_;
    GreedyStream greedy_;
    std::unique_ptr<PrefixBeamSearch> beam_;
  };

  TranscribeOptions o_;
  std::unique_ptr<AcousticModel> am_;  // network, normalization, alphabet (acoustic_model.h)
  std::unique_ptr<pipeline::Featurizer> featurizer_;
  std::unique_ptr<LanguageModel> lm_;
  BeamWorkspace ws_;
  std::vector<float> logp_, act_;
};

// argv[0] is "transcribe". Prints `FILE<TAB>text` per file on stdout in argument order (files,
// then the manifest's); with --stream also `partial<TAB>FILE<TAB>SECONDS<TAB>text` per chunk on
// stderr. A file that cannot be decoded gets one error line on stderr and the others go on;
// returns 1 when any file failed, else 0. Option errors throw.
int transcribe_main(int argc, char** argv);

}  // namespace ds2::eval
