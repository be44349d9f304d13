// Audio decoding through libsox, entirely in memory.
//
// decode_audio: sox_open_read -> sox_read in blocks, mixing the interleaved channels to mono
// (average) as they arrive -> if the file's rate differs from the target, an effects chain
//   [ds2_source] -> [rate -h] -> [ds2_sink]
// where ds2_source is an input effect whose drain() hands out the mono buffer and ds2_sink an
// output effect whose flow() appends to a std::vector (the pattern of sox's example1.c, with our
// own buffers instead of files) -> int32 samples scaled by 2^-31 to float in [-1, 1).
//
// Thread safety: libsox is initialized once for the whole process by augment/sox_init.h (a second
// sox_init() aborts), which also routes libsox messages to logger("sox") and keeps the last
// failure text per thread; we use that text to name the cause in our exceptions. Effect handlers
// come from augment::find_sox_effect (sox_find_effect itself is not thread-safe). Everything else
// (sox_open_read, sox_read, one effects chain per call) works on per-call objects; the rate
// effect's shared FFT cache is lock-protected in libsox's OpenMP builds (Debian/Ubuntu).
#include "pipeline/audio.h"

#include <fcntl.h>
#include <sox.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "augment/sox_init.h"
#include "core/error.h"
#include "core/fs.h"

namespace ds2::pipeline {
namespace {

constexpr size_t kReadBlock = 1 << 16;  // samples (all channels) per sox_read
constexpr double kInt32Scale = 1.0 / 2147483648.0;
// Header rates above this are refused: no audio format goes near it, and rates are ints below
// (a WAV header's 32-bit rate of 4e9 made sox's `rate` effect assert: `factor > 0').
constexpr double kMaxRate = 10e6;  // Hz
// Samples reserved up front from a header's length claim; more still fit (the vector grows), so
// a header claiming 4 G samples in a 600-byte file costs no memory.
constexpr size_t kMaxReserve = size_t{1} << 24;

std::string lower_ext(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool is_raw_path(const std::string& path) {
  const std::string e = lower_ext(path);
  return e == "raw" || e == "pcm";
}

// The cause from libsox's last message on this thread, without its "can't open input file
// `PATH': " prefix.
std::string fail_reason(const std::string& fallback) {
  std::string r = augment::sox_last_message();
  const size_t q = r.find("': ");
  if (r.rfind("can't open", 0) == 0 && q != std::string::npos) r = r.substr(q + 3);
  return r.empty() ? fallback : r;
}

bool length_known(sox_uint64_t len) {
  return len != SOX_UNSPEC && len != SOX_UNKNOWN_LEN && len != SOX_IGNORE_LENGTH;
}

struct SoxCloser {
  void operator()(sox_format_t* f) const { sox_close(f); }
};
using SoxFile = std::unique_ptr<sox_format_t, SoxCloser>;

sox_encoding_t raw_encoding(const std::string& path, const RawFormat& r) {
  if (r.encoding == "signed-integer") return SOX_ENCODING_SIGN2;
  if (r.encoding == "unsigned-integer") return SOX_ENCODING_UNSIGNED;
  if (r.encoding == "floating-point") return SOX_ENCODING_FLOAT;
  if (r.encoding == "a-law") return SOX_ENCODING_ALAW;
  if (r.encoding == "u-law") return SOX_ENCODING_ULAW;
  DS2_THROW(ConfigError,
            "{}: raw encoding '{}' is not one of signed-integer, unsigned-integer, "
            "floating-point, a-law, u-law",
            path, r.encoding);
}

// Opens `path` for reading; raw files are described by `raw`. Checks readability first so a
// missing file is an IoError with the system's reason, and anything libsox rejects a FormatError.
SoxFile open_input(const std::string& path, const RawFormat* raw) {
  init_sox();
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) DS2_THROW(IoError, "{}: cannot open audio: {}", path, std::strerror(errno));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  DS2_REQUIRE(regular, IoError, "{}: cannot open audio: not a regular file", path);

  augment::clear_sox_message();
  sox_format_t* f = nullptr;
  if (is_raw_path(path)) {
    const RawFormat r = raw ? *raw : RawFormat{};
    DS2_REQUIRE(r.sample_rate > 0 && r.channels > 0 && r.bits > 0, ConfigError,
                "{}: raw format needs positive sample_rate, channels and bits (got {}, {}, {})",
                path, r.sample_rate, r.channels, r.bits);
    sox_signalinfo_t sig{};
    sig.rate = r.sample_rate;
    sig.channels = static_cast<unsigned>(r.channels);
    sox_encodinginfo_t enc{};
    sox_init_encodinginfo(&enc);
    enc.encoding = raw_encoding(path, r);
    enc.bits_per_sample = static_cast<unsigned>(r.bits);
    const uint16_t probe = 1;
    const bool host_little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    enc.reverse_bytes = (r.big_endian == host_little) ? sox_option_yes : sox_option_no;
    f = sox_open_read(path.c_str(), &sig, &enc, "raw");
  } else {
    f = sox_open_read(path.c_str(), nullptr, nullptr, nullptr);
  }
  if (!f) DS2_THROW(FormatError, "{}: cannot open audio: {}", path, fail_reason("not decodable"));
  SoxFile file(f);
  DS2_REQUIRE(f->signal.rate >= 1 && f->signal.rate <= kMaxRate && f->signal.channels > 0,
              FormatError, "{}: cannot open audio: header gives rate {} and {} channels", path,
              f->signal.rate, f->signal.channels);
  DS2_REQUIRE(std::floor(f->signal.rate) == f->signal.rate, FormatError,
              "{}: non-integer sample rate {} is not supported", path, f->signal.rate);
  f->sox_errno = 0;
  return file;
}

// Throws FormatError on a read error of `f` or when fewer samples (all channels) arrived than
// its header says.
void check_read_end(sox_format_t* f, const std::string& path, int64_t total) {
  const auto ch = static_cast<int64_t>(f->signal.channels);
  DS2_REQUIRE(f->sox_errno == 0, FormatError, "{}: read error after {} samples: {}", path, total,
              f->sox_errstr[0] ? f->sox_errstr : std::strerror(f->sox_errno));
  // mp3/mp2 headers give an estimate, not a count.
  const std::string type = f->filetype ? f->filetype : "";
  if (length_known(f->signal.length) && type != "mp3" && type != "mp2") {
    const auto expected = static_cast<int64_t>(f->signal.length);
    DS2_REQUIRE(total >= expected, FormatError,
                "{}: truncated: header says {} samples per channel, file holds {}", path,
                expected / ch, total / ch);
  }
}

// Reads every sample of `f`, calling sink(block, n_frames) with interleaved blocks of whole
// frames. Throws FormatError on a read error or when fewer samples arrive than the header says.
template <typename Sink>
int64_t read_frames(sox_format_t* f, const std::string& path, Sink&& sink) {
  const size_t ch = f->signal.channels;
  // Not value-initialized: sox_read fills what is used (a zeroed 256 KiB per file showed in
  // prep's profile).
  const size_t n = std::max<size_t>(ch, kReadBlock / ch * ch);
  std::unique_ptr<sox_sample_t[]> buf(new sox_sample_t[n]);
  int64_t total = 0;  // samples, all channels
  for (;;) {
    const size_t got = sox_read(f, buf.get(), n);
    if (got == 0) break;
    total += static_cast<int64_t>(got);
    sink(buf.get(), got / ch);  // a trailing partial frame is dropped
  }
  check_read_end(f, path, total);
  return total / static_cast<int64_t>(ch);
}

// The whole file mixed to mono (average of the channels), as int32 sox samples. A mono file is
// read straight into the result (no staging block, no copy: most corpora are mono).
std::vector<sox_sample_t> read_mono(sox_format_t* f, const std::string& path) {
  const size_t ch = f->signal.channels;
  std::vector<sox_sample_t> mono;
  if (ch == 1) {
    // One more than the header's count, so the read that returns 0 needs no growth.
    mono.resize(length_known(f->signal.length) ? std::min<size_t>(f->signal.length, kMaxReserve) + 1
                                               : kReadBlock);
    size_t have = 0;
    for (;;) {
      if (have == mono.size()) mono.resize(2 * have);
      const size_t got = sox_read(f, mono.data() + have, mono.size() - have);
      if (got == 0) break;
      have += got;
    }
    mono.resize(have);
    check_read_end(f, path, static_cast<int64_t>(have));
    return mono;
  }
  if (length_known(f->signal.length))
    mono.reserve(std::min<size_t>(f->signal.length / ch, kMaxReserve));
  read_frames(f, path, [&](const sox_sample_t* s, size_t frames) {
    for (size_t i = 0; i < frames; ++i) {
      int64_t sum = 0;
      for (size_t c = 0; c < ch; ++c) sum += s[i * ch + c];
      mono.push_back(static_cast<sox_sample_t>(
          std::llround(static_cast<double>(sum) / static_cast<double>(ch))));
    }
  });
  return mono;
}

// --- in-memory source and sink effects ---------------------------------------------------------

struct Source {
  const sox_sample_t* data;
  size_t size, pos;
};
struct Sink {
  std::vector<sox_sample_t>* out;
  bool failed;
};

int source_drain(sox_effect_t* effp, sox_sample_t* obuf, size_t* osamp) {
  Source* s = *static_cast<Source**>(effp->priv);
  const size_t n = std::min(*osamp, s->size - s->pos);
  std::memcpy(obuf, s->data + s->pos, n * sizeof(sox_sample_t));
  s->pos += n;
  *osamp = n;
  return n ? SOX_SUCCESS : SOX_EOF;
}

int sink_flow(sox_effect_t* effp, const sox_sample_t* ibuf, sox_sample_t* obuf, size_t* isamp,
              size_t* osamp) {
  Sink* s = *static_cast<Sink**>(effp->priv);
  try {
    s->out->insert(s->out->end(), ibuf, ibuf + *isamp);
  } catch (...) {
    s->failed = true;
    return SOX_EOF;
  }
  *osamp = 0;
  return SOX_SUCCESS;
}

// Handler fields: name, usage, flags, getopts, start, flow, drain, stop, kill, priv_size.
// clang-format off
const sox_effect_handler_t kSourceHandler = {"ds2_source", nullptr, SOX_EFF_MCHAN, nullptr,
    nullptr, nullptr, source_drain, nullptr, nullptr, sizeof(Source*)};
const sox_effect_handler_t kSinkHandler = {"ds2_sink", nullptr, SOX_EFF_MCHAN, nullptr,
    nullptr, sink_flow, nullptr, nullptr, nullptr, sizeof(Sink*)};
// clang-format on

struct ChainDeleter {
  void operator()(sox_effects_chain_t* c) const { sox_delete_effects_chain(c); }
};

// Adds an effect to `chain`. `priv`, when given, is stored as the effect's private pointer.
void add_effect(sox_effects_chain_t* chain, const sox_effect_handler_t* h,
                std::vector<std::string> args, void* priv, sox_signalinfo_t* sig,
                const sox_signalinfo_t* out, const std::string& path) {
  DS2_REQUIRE(h, Error, "{}: libsox lacks a needed effect", path);
  sox_effect_t* e = sox_create_effect(h);
  DS2_REQUIRE(e, Error, "{}: cannot create sox effect '{}'", path, h->name);
  if (priv) *static_cast<void**>(e->priv) = priv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  const int rc_opt = sox_effect_options(e, static_cast<int>(argv.size()), argv.data());
  if (rc_opt != SOX_SUCCESS) {
    sox_delete_effect(e);
    DS2_THROW(Error, "{}: bad options for sox effect '{}': {}", path, h->name,
              fail_reason("rejected"));
  }
  const int rc_add = sox_add_effect(chain, e, sig, out);
  free(e);  // NOLINT: the chain holds a copy of the struct (and owns priv) once added
  DS2_REQUIRE(rc_add == SOX_SUCCESS, Error, "{}: cannot set up sox effect '{}': {}", path, h->name,
              fail_reason("failed"));
}

// Converts mono int32 samples from in_rate to out_rate with sox's "rate -h".
std::vector<sox_sample_t> resample(const std::vector<sox_sample_t>& in, unsigned precision,
                                   int in_rate, int out_rate, const std::string& path) {
  Source src{in.data(), in.size(), 0};
  std::vector<sox_sample_t> out;
  out.reserve(static_cast<size_t>(static_cast<double>(in.size()) * out_rate / in_rate + 1024));
  Sink sink{&out, false};

  sox_signalinfo_t sig{};
  sig.rate = in_rate;
  sig.channels = 1;
  sig.precision = std::min(precision ? precision : 32u, 32u);
  sig.length = in.size();
  sox_signalinfo_t target = sig;
  target.rate = out_rate;
  target.length = SOX_UNKNOWN_LEN;
  sox_encodinginfo_t enc{};
  sox_init_encodinginfo(&enc);
  enc.encoding = SOX_ENCODING_SIGN2;
  enc.bits_per_sample = 32;

  augment::clear_sox_message();
  std::unique_ptr<sox_effects_chain_t, ChainDeleter> chain(sox_create_effects_chain(&enc, &enc));
  DS2_REQUIRE(chain, Error, "{}: cannot create a sox effects chain", path);
  add_effect(chain.get(), &kSourceHandler, {}, &src, &sig, &sig, path);
  add_effect(chain.get(), augment::find_sox_effect("rate"), {"-h", std::to_string(out_rate)},
             nullptr, &sig, &target, path);
  add_effect(chain.get(), &kSinkHandler, {}, &sink, &sig, &sig, path);
  const int rc = sox_flow_effects(chain.get(), nullptr, nullptr);
  DS2_REQUIRE(!sink.failed, Error, "{}: out of memory while resampling", path);
  DS2_REQUIRE(rc == SOX_SUCCESS, FormatError, "{}: resampling {} -> {} Hz failed: {}", path,
              in_rate, out_rate, fail_reason("sox_flow_effects failed"));
  return out;
}

std::vector<float> to_float(const std::vector<sox_sample_t>& s) {
  std::vector<float> out(s.size());
  const float scale = static_cast<float>(kInt32Scale);
  for (size_t i = 0; i < s.size(); ++i) out[i] = static_cast<float>(s[i]) * scale;
  return out;
}

}  // namespace

void init_sox() { augment::init_sox(); }

AudioInfo probe_audio(const std::string& path, const RawFormat* raw) {
  SoxFile f = open_input(path, raw);
  AudioInfo info;
  info.sample_rate = static_cast<int>(f->signal.rate);
  info.channels = static_cast<int>(f->signal.channels);
  if (length_known(f->signal.length)) {
    info.samples_per_channel = static_cast<int64_t>(f->signal.length / f->signal.channels);
  } else {  // no length in the header: count by decoding
    info.samples_per_channel = read_frames(f.get(), path, [](const sox_sample_t*, size_t) {});
  }
  info.duration_s = static_cast<double>(info.samples_per_channel) / info.sample_rate;
  return info;
}

std::vector<float> decode_audio(const std::string& path, int target_rate, const RawFormat* raw) {
  DS2_REQUIRE(target_rate > 0, ConfigError, "{}: target sample rate must be positive, got {}", path,
              target_rate);
  SoxFile f = open_input(path, raw);
  const int rate = static_cast<int>(f->signal.rate);
  const unsigned precision = f->signal.precision;
  std::vector<sox_sample_t> mono = read_mono(f.get(), path);
  f.reset();
  if (rate != target_rate && !mono.empty())
    mono = resample(mono, precision, rate, target_rate, path);
  return to_float(mono);
}

void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  DS2_REQUIRE(sample_rate > 0, ConfigError, "{}: sample rate must be positive, got {}", path,
              sample_rate);
  init_sox();
  std::string type = lower_ext(path);
  DS2_REQUIRE(!type.empty(), IoError, "{}: cannot tell the audio type: no file extension", path);
  sox_encodinginfo_t enc{};
  sox_init_encodinginfo(&enc);
  enc.bits_per_sample = 16;
  if (type == "raw" || type == "pcm") {
    type = "raw";
    enc.encoding = SOX_ENCODING_SIGN2;
    const uint16_t probe = 1;
    const bool host_little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    enc.reverse_bytes = host_little ? sox_option_no : sox_option_yes;  // little-endian
  } else if (type == "wav") {
    enc.encoding = SOX_ENCODING_SIGN2;
  }  // else: the format's own 16-bit encoding (FLAC for .flac)
  sox_signalinfo_t sig{};
  sig.rate = sample_rate;
  sig.channels = 1;
  sig.precision = 16;
  sig.length = samples.size();

  const std::string tmp = temp_path_for(path);
  augment::clear_sox_message();
  sox_format_t* f = sox_open_write(tmp.c_str(), &sig, &enc, type.c_str(), nullptr, nullptr);
  DS2_REQUIRE(f, IoError, "{}: cannot write audio: {}", path, fail_reason("sox_open_write failed"));
  std::vector<sox_sample_t> block(kReadBlock);
  bool ok = true;
  for (size_t i = 0; ok && i < samples.size(); i += block.size()) {
    const size_t n = std::min(block.size(), samples.size() - i);
    for (size_t j = 0; j < n; ++j) {
      const double x = std::clamp(static_cast<double>(samples[i + j]), -1.0, 1.0);
      block[j] =
          static_cast<sox_sample_t>(std::clamp(x * 2147483648.0, -2147483648.0, 2147483647.0));
    }
    ok = sox_write(f, block.data(), n) == n;
  }
  std::string why = ok ? "" : (f->sox_errstr[0] ? f->sox_errstr : "short write");
  ok = (sox_close(f) == SOX_SUCCESS) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    DS2_THROW(IoError, "{}: cannot write audio: {}", path,
              why.empty() ? fail_reason("sox_close failed") : why);
  }
  commit_file(tmp, path);
}

}  // namespace ds2::pipeline
