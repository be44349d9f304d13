// Transcriber / `ds2 transcribe` (eval/transcribe.h) on randomly initialised checkpoints:
//  * streaming == offline: the final text of transcribe_stream equals the whole-file text of the
//    same forward-only model (greedy and beam), partial texts grow chunk by chunk, and the last
//    partial is the final text (the frame-level check is tests/eval/stream_test.cc);
//  * per-file errors name the file (missing: IoError, not audio or too short: FormatError);
//  * option errors are ConfigErrors: --stream with a bidirectional model or with utterance
//    normalization, --lm without --decoder beam;
//  * the ds2 binary prints FILE<TAB>text in argument order, keeps going past a bad file with one
//    error line naming it, and exits 1; its texts equal the library's.
//  * feature settings: those stored in the checkpoint are used by default (feature frames of a
//    1 s file = 1 + (rate - window) / hop, closed form), a --hop-ms given explicitly overrides
//    them, an older checkpoint without them gets the defaults, and only options actually on the
//    command line count as given.
// `ds2 eval`'s hyp.trn as the oracle for the offline text is tests/eval/transcribe_e2e_test.py.
#include "eval/transcribe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"
#include "pipeline/prep.h"
#include "tests/eval/checkpoint_fixture.h"
#include "tests/testutil.h"

namespace ds2::eval {
namespace {

model::ModelConfig tiny(bool bidirectional) {
  model::ModelConfig c;
  c.conv_filters = "4";
  c.conv_kernel = "41x11";
  c.conv_stride = "2x2";
  c.rnn_layers = 1;
  c.rnn_hidden = 16;
  c.bidirectional = bidirectional;
  c.lookahead = bidirectional ? 0 : 4;
  c.num_threads = 1;
  c.seed = 5;
  return c;
}

// A random-init checkpoint with an alphabet, global statistics and a training normalize line.
std::string make_checkpoint(const test::TempDir& dir, const std::string& name, bool bidirectional,
                            const std::string& normalize = "global",
                            const pipeline::FeatureMeta* meta = nullptr) {
  return test::save_fixture_checkpoint(
      dir, name, tiny(bidirectional), {-6.0, 0.01, 2.0, 0.005},
      "batch-size = 4\nnormalize = " + normalize + "\n[model]\nrnn_layers = 1\n", meta);
}

std::string make_wav(const test::TempDir& dir, const std::string& name, double seconds,
                     uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 0.05f);
  std::vector<float> x(static_cast<size_t>(seconds * 16000));
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = i / 16000.0, f = 200 + 150 * seed + 300 * std::sin(3 * t);
    x[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * f * t)) + noise(rng);
  }
  const std::string path = dir / name;
  pipeline::write_audio(path, x, 16000);
  return path;
}

TranscribeOptions options(const std::string& model) {
  TranscribeOptions o;
  o.model = model;
  o.threads = 1;
  return o;
}

TEST(Transcribe, StreamEqualsOffline) {
  test::TempDir dir("ds2-transcribe");
  const std::string ckpt = make_checkpoint(dir, "fwd.h5", false);
  const std::vector<std::string> wavs = {make_wav(dir, "a.wav", 0.45, 1),
                                         make_wav(dir, "b.wav", 1.7, 2)};
  for (const std::string decoder : {"greedy", "beam"}) {
    TranscribeOptions o = options(ckpt);
    o.decoder = decoder;
    o.beam.beam = 8;
    Transcriber offline(o);
    o.stream = true;
    o.chunk_ms = 160;
    Transcriber streaming(o);
    for (const std::string& w : wavs) {
      const std::string want = offline.transcribe_file(w);
      EXPECT_FALSE(want.empty()) << "a random model should say something for " << w;
      std::vector<std::string> partials;
      std::vector<double> times;
      const std::string got = streaming.transcribe_stream(w, [&](double s, const std::string& t) {
        times.push_back(s);
        partials.push_back(t);
      });
      EXPECT_EQ(got, want) << decoder << " " << w;
      const pipeline::AudioInfo info = pipeline::probe_audio(w);
      ASSERT_EQ(partials.size(), static_cast<size_t>(std::ceil(info.duration_s / 0.16 - 1e-9)));
      EXPECT_EQ(partials.back(), want);
      EXPECT_NEAR(times.back(), info.duration_s, 1e-9);
      if (decoder == std::string("greedy")) {  // best path of a prefix: a prefix of the text
        for (const std::string& p : partials) EXPECT_EQ(want.compare(0, p.size(), p), 0) << p;
      }
    }
  }
}

TEST(Transcribe, FileErrorsNameTheFile) {
  test::TempDir dir("ds2-transcribe");
  Transcriber tr(options(make_checkpoint(dir, "fwd.h5", false)));
  const std::string missing = dir / "missing.wav", junk = dir / "junk.wav";
  std::ofstream(junk) << "this is not a RIFF file at all";
  const std::string tiny = make_wav(dir, "tiny.wav", 0.01, 3);  // 160 samples < one window
  // kind: 0 IoError, 1 FormatError, 2 either (libsox may refuse a bad header at open time).
  for (const auto& [path, kind] :
       std::vector<std::pair<std::string, int>>{{missing, 0}, {junk, 2}, {tiny, 1}}) {
    try {
      tr.transcribe_file(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const IoError& e) {
      EXPECT_NE(kind, 1) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    } catch (const FormatError& e) {
      EXPECT_NE(kind, 0) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(Transcribe, OptionErrors) {
  test::TempDir dir("ds2-transcribe");
  TranscribeOptions o = options(make_checkpoint(dir, "bi.h5", true));
  EXPECT_NO_THROW(Transcriber{o});
  o.stream = true;
  try {
    Transcriber tr(o);
    ADD_FAILURE() << "bidirectional --stream accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("forward-only"), std::string::npos) << e.what();
  }
  o = options(make_checkpoint(dir, "utt.h5", false, "utterance"));
  EXPECT_NO_THROW(Transcriber{o});
  o.stream = true;
  EXPECT_THROW(Transcriber{o}, ConfigError);
  o.normalize = "global";
  EXPECT_NO_THROW(Transcriber{o});
  o.lm = test::data_path("tiny.arpa");
  EXPECT_THROW(Transcriber{o}, ConfigError);  // greedy decoder
  o.decoder = "beam";
  EXPECT_NO_THROW(Transcriber{o});
}

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Transcribe, BinaryKeepsGoingPastABadFile) {
  test::TempDir dir("ds2-transcribe");
  const std::string ckpt = make_checkpoint(dir, "fwd.h5", false);
  const std::string a = make_wav(dir, "a.wav", 0.6, 4), b = make_wav(dir, "b.wav", 0.9, 5);
  const std::string bad = dir / "bad.wav";
  std::ofstream(bad) << "RIFF garbage";
  Transcriber tr(options(ckpt));
  const std::string want =
      a + "\t" + tr.transcribe_file(a) + "\n" + b + "\t" + tr.transcribe_file(b) + "\n";
  for (const std::string extra : {"", " --stream --chunk-ms 100"}) {
    const std::string cmd =
        fmt::format("{} transcribe --model {} --threads 1{} {} {} {} > {} 2> {}",
                    test::ds2_binary(), ckpt, extra, a, bad, b, dir / "out", dir / "err");
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc)) << cmd;
    EXPECT_EQ(WEXITSTATUS(rc), 1) << cmd << "\n" << read_file(dir / "err");
    EXPECT_EQ(read_file(dir / "out"), want) << cmd;
    const std::string err = read_file(dir / "err");
    EXPECT_NE(err.find("ds2 transcribe: " + bad + ":"), std::string::npos) << err;
    EXPECT_EQ(err.find("partial\t") != std::string::npos, !extra.empty()) << err;
  }
  // All good: exit 0.
  const std::string cmd = fmt::format("{} transcribe --model {} {} > {} 2> {}", test::ds2_binary(),
                                      ckpt, a, dir / "out", dir / "err");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(dir / "err");
}

TEST(Transcribe, FeatureSettingsComeFromTheCheckpoint) {
  test::TempDir dir("ds2-transcribe");
  const std::string wav = make_wav(dir, "a.wav", 1.0, 6);
  // 8 kHz, 40 ms window (320 samples: the model's 161 bins), 20 ms hop (160 samples), log1p.
  pipeline::FeatureMeta meta;
  meta.sample_rate = 8000;
  meta.window_ms = 40;
  meta.hop_ms = 20;
  meta.feature = "log1p";
  const std::string ckpt = make_checkpoint(dir, "meta.h5", false, "global", &meta);
  Transcriber tr(options(ckpt));
  EXPECT_EQ(tr.feature_options().sample_rate, 8000);
  EXPECT_EQ(tr.feature_options().window_ms, 40);
  EXPECT_EQ(tr.feature_options().hop_ms, 20);
  EXPECT_EQ(tr.feature_options().feature, "log1p");
  EXPECT_EQ(tr.features(wav).size(), size_t(1 + (8000 - 320) / 160) * 161);
  EXPECT_FALSE(tr.transcribe_file(wav).empty());

  // --hop-ms given: it wins (with a warning); the other settings still come from the checkpoint.
  TranscribeOptions o = options(ckpt);
  o.features.hop_ms = 10;
  o.features_given.hop_ms = true;
  Transcriber over(o);
  EXPECT_EQ(over.feature_options().hop_ms, 10);
  EXPECT_EQ(over.feature_options().sample_rate, 8000);
  EXPECT_EQ(over.features(wav).size(), size_t(1 + (8000 - 320) / 80) * 161);
  // A value set without being marked as given is replaced by the checkpoint's.
  o.features_given.hop_ms = false;
  EXPECT_EQ(Transcriber(o).feature_options().hop_ms, 20);

  // A checkpoint without feature settings (written before they were stored): the defaults.
  Transcriber old(options(make_checkpoint(dir, "old.h5", false)));
  EXPECT_EQ(old.feature_options().sample_rate, 16000);
  EXPECT_EQ(old.feature_options().hop_ms, 10);
  EXPECT_EQ(old.features(wav).size(), size_t(1 + (16000 - 320) / 160) * 161);
}

TEST(Transcribe, OnlyOptionsOnTheCommandLineCountAsGiven) {
  TranscribeOptions o;
  po::options_description desc;
  o.add_to(desc);
  const char* argv[] = {"transcribe", "--model", "m.h5", "--hop-ms", "12.5", "--feature", "log1p"};
  po::variables_map vm;
  po::store(po::parse_command_line(7, argv, desc), vm);
  po::notify(vm);
  EXPECT_EQ(o.features.hop_ms, 12.5);
  EXPECT_EQ(o.features.feature, "log1p");
  EXPECT_TRUE(o.features_given.hop_ms);
  EXPECT_TRUE(o.features_given.feature);
  EXPECT_FALSE(o.features_given.window_ms);
  EXPECT_FALSE(o.features_given.sample_rate);
  EXPECT_EQ(o.features.window_ms, pipeline::FeatureOptions{}.window_ms);
}

}  // namespace
}  // namespace ds2::eval
