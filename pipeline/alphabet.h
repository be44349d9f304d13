// The output alphabet and transcript normalization.
//
// File format (share/alphabets/en.txt): UTF-8, one symbol per line, in index order. The first
// line must be `<blank>` (index 0, the CTC blank); `<space>` stands for the space character.
// Any other line is one Unicode character. The same text is stored in every shard, index and
// checkpoint, so a model always knows its alphabet.
//
// Normalization (applied before the alphabet check), language-neutral rules:
//   1. the text must be valid UTF-8;
//   2. letters are lower-cased (ASCII and Latin-1/Latin Extended-A capitals);
//   3. typographic apostrophes (U+2018, U+2019, U+02BC, `) become ';
//   4. whitespace, '-', '_', '/', U+2010..U+2015 (dashes) become a space;
//   5. other punctuation (ASCII punctuation, U+201C/D quotes, U+2026 ellipsis, ...) is dropped
//      unless it is itself a symbol of the alphabet;
//   6. runs of spaces collapse to one, leading/trailing spaces are trimmed.
// A character still outside the alphabet after this (a digit, a symbol, a foreign letter) makes
// the transcript invalid; the reason names the character and its code point.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ds2::pipeline {

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

  // Normalizes `text` into `out`. Returns false and sets `reason` when the text is not valid
  // UTF-8 or holds a character outside the alphabet after normalization.
  bool normalize(const std::string& text, std::string* out, std::string* reason) const;
  // Label indices (1..size-1) of a normalized transcript. Throws FormatError on a character
  // outside the alphabet (normalize first).
  std::vector<int32_t> encode(const std::string& normalized) const;
  // UTF-8 text of label indices; blanks are skipped.
  std::string decode(const int32_t* ids, size_t n) const;

 private:
  std::vector<std::string> symbols_;
  std::unordered_map<uint32_t, int32_t> index_;  // code point -> label index
};

// Decodes one UTF-8 code point at s[i], advancing i; returns false on invalid UTF-8.
bool next_code_point(const std::string& s, size_t* i, uint32_t* cp);
// Appends the UTF-8 encoding of cp.
void append_utf8(uint32_t cp, std::string* out);

}  // namespace ds2::pipeline
