// The output alphabet and transcript normalization.
//
// File format (share/alphabets/en.txt): UTF-8, one line each, in index order. The first symbol
// line must be `<blank>` (index 0, the CTC blank); `<space>` stands for the space character; any
// other line of exactly one Unicode character is that symbol. Also allowed, anywhere:
//   - an empty line (skipped);
//   - a comment: a line of two or more characters that starts with '#' (a line "#" alone is
//     the symbol '#');
//   - a normalization rule: a line of two or more characters that starts with '@':
//       @space SET         characters that become a space
//                          (default @space [[:White_Space:][:Pd:][:Pc:]/]: whitespace, dashes,
//                          connectors such as '_', and '/')
//       @drop SET          characters that are deleted
//                          (default @drop [[:P:]\$+<=>\^|~]: all punctuation, ASCII symbols)
//       @map SET C         characters mapped to the one character C before the above (the
//                          first @map whose SET holds it; repeatable; the file's @map lines
//                          replace the default one: @map [\u2018\u2019\u02BC`] ')
//     SET is an ICU UnicodeSet pattern (UTS #35: [a-z], [:Pd:] general categories, [:Han:]
//     scripts, [:White_Space:] properties, \uXXXX escapes, [[:P:]-[。]] differences). A file that
//     gives none of a kind gets that kind's default; the defaults are the English rules, so
//     en.txt holds no rule lines. `@space []` or `@drop []` turns a kind off.
// The same text (to_string(): symbols, then the rules that differ from the defaults; comments
// dropped) is stored in every shard, index and checkpoint, so a model always knows its alphabet.
//
// Normalization (applied before the alphabet check):
//   1. the text must be valid UTF-8;
//   2. NFKC_Casefold (Unicode's NFKC + full case folding + removal of default-ignorable code
//      points, ICU's Normalizer2 "nfkc_cf"): full-width forms become ASCII, ligatures split,
//      'A' -> 'a', 'Σ' -> 'σ', 'ß' -> "ss", U+00A0 and U+3000 -> ' ', '…' -> "...";
//   3. @map (typographic apostrophes -> ');
//   4. then each code point, by the first that applies:
//        a symbol of the alphabet        kept (en's ' is punctuation but a symbol: kept);
//        U+0020 or in @space             a space;
//        in @drop                        deleted;
//        otherwise                       the transcript is invalid; the reason names the
//                                        character (after steps 2-3) and its code point;
//   5. runs of spaces collapse to one, leading/trailing spaces are trimmed; without <space>
//      in the alphabet, spaces are deleted (a Mandarin alphabet).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ds2::pipeline {

struct NormalizationRules;  // alphabet.cc: the ICU sets of @space, @drop, @map

class Alphabet {
 public:
  // Throws IoError / FormatError naming path:line.
  static Alphabet load(const std::string& path);
  // Parses the file format from a string; `origin` names it in errors.
  static Alphabet parse(const std::string& text, const std::string& origin);
  // The file format text (round-trips through parse()).
  std::string to_string() const;

  int size() const { return static_cast<int>(symbols_.size()); }  // including the blank
  int blank() const { return 0; }
  // The symbol of index i as UTF-8 (" " for <space>, "" for the blank).
  const std::string& symbol(int i) const { return symbols_.at(i); }
  // The rule lines of to_string() (those that differ from the defaults), each ending in '\n'.
  std::string rules_text() const;

  // Normalizes `text` into `out`. Returns false and sets `reason` when the text is not valid
  // UTF-8 or holds a character outside the alphabet after normalization.
  bool normalize(const std::string& text, std::string* out, std::string* reason) const;
  // The same, but a character outside the alphabet that no rule turns into a space or drops is
  // kept, and spaces are kept even without <space>: the text that normalize() would give if
  // every such character were a symbol (what `ds2 alphabet` counts). Fails only on bad UTF-8.
  bool normalize_open(const std::string& text, std::string* out, std::string* reason) const;
  // Label indices (1..size-1) of a normalized transcript. Throws FormatError on a character
  // outside the alphabet (normalize first).
  std::vector<int32_t> encode(const std::string& normalized) const;
  // UTF-8 text of label indices; blanks are skipped.
  std::string decode(const int32_t* ids, size_t n) const;

 private:
  bool normalize_impl(const std::string& text, bool open, std::string* out,
                      std::string* reason) const;

  std::vector<std::string> symbols_;
  std::unordered_map<uint32_t, int32_t> index_;      // code point -> label index
  std::shared_ptr<const NormalizationRules> rules_;  // never null (the defaults when unset)
};

// Decodes one UTF-8 code point at s[i], advancing i; returns false on invalid UTF-8.
bool next_code_point(const std::string& s, size_t* i, uint32_t* cp);
// Appends the UTF-8 encoding of cp.
void append_utf8(uint32_t cp, std::string* out);

}  // namespace ds2::pipeline
