// Corpus inputs (DESIGN.md "Corpus inputs"): TSV, JSON-lines (NeMo), CSV (DeepSpeech / Common
// Voice) and a LibriSpeech-style tree. Every input row becomes either an entry or a reject with
// its reason, so accepted + rejected = rows holds from the first stage on.
//
// Rows (blank lines and a CSV header are not rows):
//   TSV    path<TAB>duration<TAB>transcript[<TAB>utt_id]   duration may be empty (then measured)
//   JSONL  {"audio_filepath": ..., "duration": ..., "text": ..., "utt_id": ...}   duration and
//          utt_id optional (null or absent)
//   CSV    wav_filename,wav_filesize,transcript[,utt_id]   RFC 4180 quoting; the header line
//          "wav_filename,..." is skipped; wav_filesize is not read
//   tree   <root>/**/<x>.trans.txt lines "<utt_id> <TRANSCRIPT>", audio <utt_id>.flac|.wav
//          anywhere under root; an audio file without a line is a row too (rejected)
// Paths are relative to the manifest's folder (or absolute). Utterance ids: see utt_id.h (the
// row's own id, else file stems when unique, else relative paths).
//
// Id collisions: rows whose ids are equal and whose audio is the same file are duplicate rows:
// the first is kept and each later one is rejected naming it. Rows whose ids are equal but whose
// audio files differ are all rejected, each reason naming the other rows: no row silently wins.
// A tree's id that names two audio files (a.flac and a.wav, or two folders) rejects its line
// naming both files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds2::pipeline {

struct ManifestEntry {
  int64_t line = 0;        // 1-based line of the manifest (of the *.trans.txt for a tree)
  std::string path;        // audio path, resolved against the manifest's folder
  double duration = -1;    // seconds; < 0 when the manifest leaves it empty (then measured)
  std::string transcript;  // as written in the manifest (normalized later)
  std::string utt_id;      // unique within the manifest, valid per utt_id_problem() (utt_id.h)
  std::string source;      // "manifest.tsv:17", for messages
};

struct Reject {
  int64_t line = 0;
  std::string path;
  std::string reason;
};

struct Manifest {
  std::string path;    // the manifest file or tree root
  std::string format;  // "tsv", "jsonl", "csv" or "librispeech"
  int64_t rows = 0;    // input rows (data lines; headers and blank lines excluded)
  std::vector<ManifestEntry> entries;
  std::vector<Reject> rejects;  // malformed rows, invalid or colliding ids; in line order
  std::string id_rule;          // how derived ids were made, for the log (utt_id.h)
};

// Reads a manifest. format "auto" picks by extension (.tsv/.txt, .json/.jsonl, .csv) or
// "librispeech" for a directory. Unreadable file: IoError; unknown format: ConfigError.
// Malformed rows never throw: they are rejected with "file:line: ..." reasons.
Manifest read_manifest(const std::string& path, const std::string& format = "auto");

}  // namespace ds2::pipeline
