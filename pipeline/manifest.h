// Corpus inputs (DESIGN.md "Corpus inputs"): TSV, JSON-lines (NeMo), CSV (DeepSpeech / Common
// Voice) and a LibriSpeech-style tree. Every input row becomes either an entry or a reject with
// its reason, so accepted + rejected = rows holds from the first stage on.
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
  std::string utt_id;      // unique id: the audio path relative to the manifest, sans extension
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
  std::vector<Reject> rejects;  // malformed rows, duplicates
};

// Reads a manifest. format "auto" picks by extension (.tsv/.txt, .json/.jsonl, .csv) or
// "librispeech" for a directory. Unreadable file: IoError. Malformed rows never throw: they are
// rejected with "file:line: ..." reasons.
Manifest read_manifest(const std::string& path, const std::string& format = "auto");

}  // namespace ds2::pipeline
