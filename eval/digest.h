// Content digests for the evaluation history (eval/history.h, schema version 2): what a result
// was measured ON, by bytes rather than by path, so that `ds2 sweep` can tell a checkpoint
// overwritten in place (ckpt-last.h5) or a re-prepared dev set from the one it scored before.
//   checkpoint: file_digest() of the .h5 file's bytes;
//   dataset:    pipeline::dataset_digest() (pipeline/dataset_digest.h: index + plan digests);
//   LM:         lm_digest(): the LM file's bytes, and the lexicon option (its file's bytes when
//               it names a file).
// Digests are 16 hex digits; they detect change, they are not cryptographic.
#pragma once

#include <cstdint>
#include <string>

namespace ds2::eval {

// Digest of a file's bytes, read in 1 MiB chunks (memory: one chunk, whatever the file size):
// h = mix64(h ^ bytes_digest(chunk_i)) over the chunks from a fixed seed, then the file size
// folded in (mix64(h ^ size)). IoError naming the file when it cannot be opened or read.
std::string file_digest(const std::string& path);

// Digest of a word LM as the decoder uses it: file_digest(lm_path) and the lexicon option
// ("" open vocabulary, "lm", or a lexicon file, hashed by content). "" when lm_path is "".
std::string lm_digest(const std::string& lm_path, const std::string& lexicon);

}  // namespace ds2::eval
