// Audio file decoding and writing through libsox, in memory (no sox process is started).
//
// Every format the installed libsox reads works (wav, flac, mp3, ogg, sph, au, raw, ...).
// Errors name the file: IoError when the file cannot be opened or read at all, FormatError when
// it is opened but its contents are not decodable audio (bad header, truncated data).
// libsox's own messages go to ds2::logger("sox") at debug level.
// All functions may be called from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds2::pipeline {

// How to read a headerless .raw / .pcm file (sox cannot tell from the bytes).
struct RawFormat {
  int sample_rate = 16000;  // Hz
  int channels = 1;         // interleaved
  // "signed-integer", "unsigned-integer", "floating-point", "a-law" or "u-law"
  std::string encoding = "signed-integer";
  int bits = 16;  // bits per sample (8 for a-law / u-law, 32 or 64 for floating-point)
  bool big_endian = false;
};

struct AudioInfo {
  int sample_rate = 0;  // Hz, as stored in the file
  int channels = 0;
  int64_t samples_per_channel = 0;  // 0 for an empty file
  double duration_s = 0;            // samples_per_channel / sample_rate
};

// Reads the header only (cheap) and returns what it says. When the header does not state a
// length (some streamed formats), the file is decoded to count the samples.
// `raw` is used for files ending in .raw/.pcm (RawFormat{} defaults when null).
// Throws IoError "PATH: cannot open audio: <reason>" or FormatError "PATH: ...".
AudioInfo probe_audio(const std::string& path, const RawFormat* raw = nullptr);

// The whole file as mono float32 samples in [-1, 1] at `target_rate` Hz: channels are averaged,
// then the rate is converted with sox's "rate -h" (high quality) effect in an in-memory effects
// chain (skipped when the file is already at target_rate). A file with 0 samples gives an empty
// vector (the caller decides whether that is an error); a truncated or undecodable file throws
// FormatError naming the path. Files ending in .raw/.pcm are read as `raw` (RawFormat{} when null).
std::vector<float> decode_audio(const std::string& path, int target_rate = 16000,
                                const RawFormat* raw = nullptr);

// Writes mono float samples (clipped to [-1, 1]) as 16-bit audio whose container is chosen by the
// extension of `path`: .wav (PCM), .flac, .raw/.pcm (signed 16-bit little-endian, no header), or
// any other type libsox writes. Written to a temporary name in the same directory and renamed when
// complete. Throws IoError naming the path.
void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate);

// Process-wide libsox initialization (sox_init, sox_format_init, message routing); idempotent and
// thread-safe. Forwards to augment::init_sox(), the one place in ds2 that initializes libsox (a
// second sox_init() aborts the process). The functions above call it.
void init_sox();

}  // namespace ds2::pipeline
