// Every parser of outside input against the seeded mutator of fuzz_util.h, for a bounded time
// each (DS2_FUZZ_SECONDS, default 3): no crash, no hang, every error a ds2::Error whose message
// starts with "FILE:" or "FILE:LINE:" (formats with lines), and, where an input is accepted, an
// independent check of what the parser returned (accounting of manifest rows, valid unique ids,
// round trips, self-scoring, finite LM scores). Inputs that once broke a parser are kept in
// regression_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/options.h"
#include "decode/arpa_lm.h"
#include "decode/wer.h"
#include "model/config.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"
#include "pipeline/manifest.h"
#include "pipeline/prep.h"
#include "pipeline/utt_id.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/testutil.h"

namespace ds2::fuzz {
namespace {

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class Fuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    init_logging(0, 1, 0);  // warnings only: libsox complains about every broken header
    std::printf("fuzz work dir %s\n", dir_.path().c_str());
  }
  test::TempDir dir_{"ds2-fuzz"};
};

// Manifest rows: no throw for a readable file; rows = entries + rejects, each line once; every
// reject names FILE:LINE (a tree: its *.trans.txt line or the audio file); ids valid and unique.
void check_manifest(const pipeline::Manifest& m, const std::string& file, bool tree) {
  if (static_cast<int64_t>(m.entries.size() + m.rejects.size()) != m.rows)
    throw CheckFailed(fmt::format("{} entries + {} rejects != {} rows", m.entries.size(),
                                  m.rejects.size(), m.rows));
  std::set<int64_t> lines;
  std::set<std::string> ids;
  for (const auto& e : m.entries) {
    if (!lines.insert(e.line).second) throw CheckFailed("line twice");
    if (!ids.insert(e.utt_id).second) throw CheckFailed("id twice: " + e.utt_id);
    if (!pipeline::utt_id_problem(e.utt_id).empty()) throw CheckFailed("bad id " + e.utt_id);
  }
  for (const auto& r : m.rejects) {
    if (!lines.insert(r.line).second) throw CheckFailed("line twice: " + r.reason);
    // A tree's rows are numbered across files: its reasons name "TRANS.txt:LINE:" or the
    // audio file without a line.
    const std::string bad = !tree ? names_file(r.reason, file + ":" + std::to_string(r.line), false)
                            : r.reason.rfind(r.path + ":", 0) == 0 && r.path != file
                                ? ""
                                : names_file(r.reason, file, true);
    if (!bad.empty()) throw CheckFailed(bad + ": " + r.reason);
  }
}

void fuzz_manifest(const std::string& workdir, const std::string& ext,
                   std::vector<std::string> seeds) {
  const std::string path = workdir + "/m." + ext;
  run_fuzz(
      ext, path, std::move(seeds), common_tokens(),
      [&](const std::string&) { check_manifest(pipeline::read_manifest(path), path, false); },
      [&](const std::string& msg) { return names_file(msg, path, false); });
}

TEST_F(Fuzz, TsvManifest) {
  fuzz_manifest(dir_.path(), "tsv",
                {"a/x.wav\t1.5\thello world\nb.wav\t\tsecond\r\n\nc.wav\t2\tthird\tid_3\n",
                 "/abs/p.flac\t0.25\tabsolute\n../up/q.wav\t\tup one\tq\nx.wav\t1\tdup\n"
                 "x.wav\t1\tdup\ns p.wav\t\tspace\n(p).wav\t\tparen\n"});
}

TEST_F(Fuzz, JsonLinesManifest) {
  fuzz_manifest(dir_.path(), "jsonl",
                {"{\"audio_filepath\": \"a/x.wav\", \"duration\": 1.5, \"text\": \"hi\"}\n"
                 "{\"audio_filepath\": \"y.wav\", \"text\": \"no duration\", \"utt_id\": \"u\"}\n",
                 "{\"audio_filepath\": \"z.wav\", \"duration\": null, \"text\": \"\\u00fc\", "
                 "\"utt_id\": null}\n[1, 2]\n{\"audio_filepath\": 3}\n"});
}

TEST_F(Fuzz, CsvManifest) {
  fuzz_manifest(dir_.path(), "csv",
                {"wav_filename,wav_filesize,transcript\nclips/a.wav,1234,plain text\n"
                 "clips/b.wav,99,\"with, comma and \"\"quotes\"\"\"\n",
                 "wav_filename,wav_filesize,transcript,utt_id\nc.wav,1,t,cv_1\nd.wav,,\"x\",\n"});
}

TEST_F(Fuzz, LibriSpeechTransTxt) {
  const std::string root = dir_ / "tree";
  const std::string ch = root + "/19/198";
  make_dirs(ch);
  for (const char* f : {"19-198-0000.flac", "19-198-0001.flac", "19-198-0002.wav"})
    write_file_atomic(ch + "/" + f, "x");
  const std::string trans = ch + "/19-198.trans.txt";
  run_fuzz(
      "trans.txt", trans,
      {"19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n19-198-0002 SECOND\n",
       "19-198-0001 ONE\r\n19-198-0001 TWICE\n19-198-0009 NO AUDIO\n\n"},
      common_tokens(),
      [&](const std::string&) { check_manifest(pipeline::read_manifest(root), trans, true); },
      [&](const std::string& msg) { return names_file(msg, root, false); });
}

TEST_F(Fuzz, ArpaLm) {
  const std::string path = dir_ / "lm.arpa";
  const std::string arpa =
      "\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n-0.7\t</s>\n"
      "-0.9\t<unk>\n-0.5\ta\t-0.3\n-0.6\tb\t-0.2\n\n\\2-grams:\n-0.2\t<s> a\n-0.3\ta b\n"
      "-0.4\tb </s>\n\n\\end\\\n";
  const std::string irstlm =
      "\\data\\\nngram  1=        3\nngram  2=        1\nngram  3=        1\n\\1-grams:\n"
      "-1 x -0.1\n-1 y -0.2\n-1 z\n\\2-grams:\n-0.5 x y -0.1\n\\3-grams:\n-0.1 x y z\n\\end\\\n";
  run_fuzz(
      "arpa", path, {arpa, irstlm},
      with(common_tokens(), {"\\data\\", "\\end\\", "\\1-grams:", "\\2-grams:", "\\3-grams:",
                             "ngram 1=", "ngram 2=", "ngram 3=", "<s>", "</s>", "<unk>"}),
      [&](const std::string& in) {
        const decode::ArpaLm lm = decode::ArpaLm::load(path);
        // Scores of every word after every context length stay defined.
        std::vector<int32_t> ctx;
        for (int32_t w = 0; w < std::min(lm.vocab_size(), 8); ++w) {
          for (int n = 0; n <= std::min(lm.order(), 3); ++n) {
            ctx.assign(n, w);
            if (std::isnan(lm.log_prob(ctx.data(), n, w)) ||
                std::isnan(lm.log_prob(ctx.data(), n, decode::LanguageModel::kNoWord)))
              throw CheckFailed("NaN score from an accepted LM");
          }
        }
      },
      [&](const std::string& msg) { return names_file(msg, path, true); });
}

TEST_F(Fuzz, TrnFile) {
  const std::string path = dir_ / "hyp.trn";
  run_fuzz(
      "trn", path,
      {"hello world (spk1-utt1)\n(spk1-utt2)\n  the  end  (u3)  \n",
       "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac (x)\r\nno id here\n"},
      common_tokens(),
      [&](const std::string&) {
        const auto entries = decode::read_trn(path);
        for (auto unit : {decode::Unit::kWord, decode::Unit::kChar})
          if (decode::score(entries, entries, unit).total.errors() != 0)
            throw CheckFailed("a trn file scored against itself has errors");
      },
      [&](const std::string& msg) { return names_file(msg, path, true); });
}

TEST_F(Fuzz, IniOptions) {
  const std::string path = dir_ / "prep.ini";
  run_fuzz(
      "ini options", path,
      {"shards = 4\nmax-duration = 12.5\n[prep]\nthreads = 2\nforce = true\n",
       "# comment\nalphabet = share/alphabets/en.txt\n[train]\nlr = 1\n[prep]\nraw-rate=8000\n"},
      with(common_tokens(), {"[prep]", "[model]", "[", "]", "shards", "threads", "="}),
      [&](const std::string&) {
        pipeline::PrepOptions o;
        po::options_description desc;
        o.add_to(desc);
        po::variables_map vm;
        CommonOptions common;
        const char* argv[] = {"prep", "--manifest", "m.tsv",     "--out",
                              "o",    "--config",   path.c_str()};
        parse_command(7, const_cast<char**>(argv), "fuzz", desc, vm, common);
      },
      // Boost.Program_options reports the option, not the line: FILE: is what we can check.
      [&](const std::string& msg) { return names_file(msg, path, false); });
}

TEST_F(Fuzz, ModelConfigIni) {
  const std::string path = dir_ / "model.ini";
  run_fuzz(
      "model ini", path,
      {read_file(std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-tiny.ini"),
       "conv_filters = 32\nconv_kernel = 41x11\nconv_stride = 2x2\nrnn_type = rnn\n"
       "rnn_layers = 1\nrnn_hidden = 8\nbidirectional = false\nlookahead = 2\n"},
      with(common_tokens(), {"[model]", "x", "41x11", "gru", "rnn", "conv_stride", "="}),
      [&](const std::string&) {
        const model::ModelConfig c = model::ModelConfig::from_ini_file(path);
        // An accepted config answers its shape questions and round-trips through to_ini().
        c.conv_layers();
        (void)c.out_length(1000);
        (void)c.rnn_input();
        const auto again = model::ModelConfig::from_ini_string(c.to_ini(), "to_ini");
        if (again.arch_fields() != c.arch_fields())
          throw CheckFailed("to_ini() does not round-trip");
      },
      [&](const std::string& msg) { return names_file(msg, path, false); });
}

TEST_F(Fuzz, AlphabetFile) {
  const std::string path = dir_ / "alphabet.txt";
  const std::string en = read_file(std::string(DS2_SOURCE_ROOT) + "/share/alphabets/en.txt");
  run_fuzz(
      "alphabet", path, {en, "<blank>\n<space>\n\xc3\xa9\n\xe6\x97\xa5\na\r\n"},
      with(common_tokens(), {"<blank>", "<space>", "\n\n"}),
      [&](const std::string&) {
        const pipeline::Alphabet a = pipeline::Alphabet::load(path);
        if (a.size() < 2 || a.symbol(0) != "")
          throw CheckFailed("accepted alphabet without the blank at index 0");
        if (pipeline::Alphabet::parse(a.to_string(), "again").to_string() != a.to_string())
          throw CheckFailed("to_string() does not round-trip");
      },
      [&](const std::string& msg) { return names_file(msg, path, true); });
}

// Transcript normalization of arbitrary bytes with the shipped alphabet: what it accepts
// encodes, and decodes back to the same text.
TEST_F(Fuzz, TranscriptNormalization) {
  const auto a = pipeline::Alphabet::load(std::string(DS2_SOURCE_ROOT) + "/share/alphabets/en.txt");
  run_fuzz(
      "transcript", dir_ / "transcript.txt",
      {"Hello, World!", "don\xe2\x80\x99t stop\xe2\x80\x94now", "  MIXED-case_text/here  ",
       "caf\xc3\xa9 \xc3\x80 la carte"},
      common_tokens(),
      [&](const std::string& in) {
        std::string out, why;
        if (!a.normalize(in, &out, &why)) return;
        const auto labels = a.encode(out);
        if (a.decode(labels.data(), labels.size()) != out)
          throw CheckFailed("encode/decode does not round-trip: '" + out + "'");
      },
      [&](const std::string& msg) { return "normalize/encode threw: " + msg; });
}

// A WAV file: RIFF header, fmt chunk (format tag, channels, rate, bits), data chunk.
std::string wav(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t bits, size_t frames) {
  auto u16 = [](uint16_t v) { return std::string{char(v & 0xff), char(v >> 8)}; };
  auto u32 = [&](uint32_t v) { return u16(v & 0xffff) + u16(v >> 16); };
  const uint32_t block = channels * bits / 8;
  std::string data(frames * block, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 37) & 0xff);
  std::string fmt_chunk = "fmt " + u32(16) + u16(tag) + u16(channels) + u32(rate) +
                          u32(rate * block) + u16(block) + u16(bits);
  std::string body = "WAVE" + fmt_chunk + "data" + u32(data.size()) + data;
  return "RIFF" + u32(body.size()) + body;
}

TEST_F(Fuzz, WavHeadersThroughLibsox) {
  const std::string path = dir_ / "x.wav";
  run_fuzz(
      "wav", path,
      {wav(1, 1, 16000, 16, 400), wav(1, 2, 8000, 8, 300), wav(1, 1, 22050, 24, 200),
       wav(3, 1, 16000, 32, 200), wav(6, 1, 8000, 8, 200), wav(7, 2, 16000, 8, 100)},
      {"RIFF", "WAVE", "fmt ", "data", "LIST", "fact", "\xff\xff\xff\xff", std::string(4, '\0')},
      [&](const std::string&) {
        (void)pipeline::probe_audio(path);
        for (float x : pipeline::decode_audio(path, 16000))
          if (!std::isfinite(x)) throw CheckFailed("non-finite sample");
      },
      [&](const std::string& msg) { return names_file(msg, path, false); });
}

}  // namespace
}  // namespace ds2::fuzz
