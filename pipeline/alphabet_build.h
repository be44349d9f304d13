// Building an alphabet from a training manifest (`ds2 alphabet`, pipeline/alphabet_main.cc):
// every transcript is normalized as prep will normalize it (Alphabet::normalize_open with the
// rules of a base alphabet), the characters of the results are counted, and those seen at least
// --min-count times become the symbols, most frequent first; the rest are listed for rejection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/alphabet.h"
#include "pipeline/manifest.h"

namespace ds2::pipeline {

struct CharCount {
  uint32_t cp = 0;    // the code point (after normalization)
  int64_t count = 0;  // occurrences in all normalized transcripts
  int64_t rows = 0;   // rows whose normalized transcript holds it
  std::string first;  // the first row that holds it, "manifest.tsv:17"
};

struct CharacterCounts {
  std::vector<CharCount> chars;  // every character but the space; count desc, then code point
  int64_t spaces = 0;            // spaces in the normalized transcripts (runs collapsed)
  int64_t rows = 0;              // manifest rows
  int64_t counted = 0;           // rows whose transcript was counted
  std::vector<Reject> rejects;   // the manifest's rejects, then transcripts that are not UTF-8
};

// Counts the characters of every entry's transcript normalized by `base`'s rules (its symbols
// are kept where a rule would drop them). Never throws for a row: bad rows go to rejects.
CharacterCounts count_characters(const Manifest& m, const Alphabet& base);

struct BuiltAlphabet {
  std::string text;             // the alphabet file: <blank>, <space>?, symbols, base's rules
  int symbols = 0;              // symbols, blank excluded, <space> included
  bool space = false;           // <space> is a symbol
  std::vector<CharCount> kept;  // in index order
  std::vector<CharCount> rare;  // below min_count, or not usable as a symbol (a control char)
};

// The alphabet of the counted characters seen >= min_count times (min_count >= 1); <space>
// first when `space` and the transcripts hold spaces >= min_count times.
BuiltAlphabet build_alphabet(const CharacterCounts& c, const Alphabet& base, int64_t min_count,
                             bool space);

// rare as TSV: a header, then "U+XXXX<TAB>char<TAB>count<TAB>rows<TAB>first row<TAB>why".
std::string rare_tsv(const BuiltAlphabet& b, int64_t min_count);

}  // namespace ds2::pipeline
