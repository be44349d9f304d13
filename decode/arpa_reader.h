// Streaming ARPA reader: the one parser of ARPA text (format in decode/arpa_lm.h), shared by
// ArpaLm (which keeps the n-grams in hash tables) and the compiler of the binary form
// (decode/lm_compile.cc, which sorts them into a trie). It checks the syntax, the counts
// against \data\, unigram uniqueness and that every word of an n-gram is a unigram; each error
// is a FormatError "ORIGIN:LINE: ..." naming the line.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ds2::decode {

// Word ids in unigram order: the i-th line of \1-grams: is id i.
struct ArpaVocab {
  std::vector<std::string> words;
  std::unordered_map<std::string, int32_t> ids;
};

struct ArpaHandler {
  // The counts of \data\ (counts[n-1] n-grams of order n), once, before any n-gram.
  std::function<void(const std::vector<int64_t>& counts)> on_counts;
  // One n-gram of order `n` (1-based), ids[0..n) oldest first, log10 values (bow 0 when the
  // line has none). Returns false when the n-gram was already given: the reader then fails
  // with "duplicate N-gram" at that line.
  std::function<bool(int n, const int32_t* ids, float log10_prob, float log10_bow)> on_ngram;
  // Called after every 2^20 n-grams with the number read so far (may be empty).
  std::function<void(int64_t ngrams_read)> on_progress;
};

// Reads ARPA text from `in` (`origin` names it in errors); fills `vocab` as the unigrams come.
void read_arpa(std::istream& in, const std::string& origin, ArpaVocab* vocab,
               const ArpaHandler& handler);

// Splits `line` on spaces and tabs into `out` (views into line).
void split_arpa_fields(std::string_view line, std::vector<std::string_view>* out);

}  // namespace ds2::decode
