// Character counts of a manifest's normalized transcripts and the alphabet made from them
// (see alphabet_build.h).
#include "pipeline/alphabet_build.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace ds2::pipeline {

CharacterCounts count_characters(const Manifest& m, const Alphabet& base) {
  CharacterCounts c;
  c.rows = m.rows;
  c.rejects = m.rejects;
  std::unordered_map<uint32_t, CharCount> by_cp;
  std::unordered_map<uint32_t, int64_t> last_row;  // code point -> last row index counted in
  std::string text, why;
  for (size_t r = 0; r < m.entries.size(); ++r) {
    const ManifestEntry& e = m.entries[r];
    if (!base.normalize_open(e.transcript, &text, &why)) {
      c.rejects.push_back({e.line, e.path, fmt::format("{}: transcript: {}", e.source, why)});
      continue;
    }
    ++c.counted;
    size_t i = 0;
    uint32_t cp = 0;
    while (i < text.size() && next_code_point(text, &i, &cp)) {
      if (cp == ' ') {
        ++c.spaces;
        continue;
      }
      CharCount& k = by_cp[cp];
      if (k.count++ == 0) {
        k.cp = cp;
        k.first = e.source;
      }
      auto [it, added] = last_row.try_emplace(cp, static_cast<int64_t>(r));
      if (added || it->second != static_cast<int64_t>(r)) ++k.rows;
      it->second = static_cast<int64_t>(r);
    }
  }
  c.chars.reserve(by_cp.size());
  for (auto& [cp, k] : by_cp) c.chars.push_back(std::move(k));
  std::sort(c.chars.begin(), c.chars.end(), [](const CharCount& a, const CharCount& b) {
    return a.count != b.count ? a.count > b.count : a.cp < b.cp;
  });
  std::stable_sort(c.rejects.begin(), c.rejects.end(),
                   [](const Reject& a, const Reject& b) { return a.line < b.line; });
  return c;
}

BuiltAlphabet build_alphabet(const CharacterCounts& c, const Alphabet& base, int64_t min_count,
                             bool space) {
  BuiltAlphabet b;
  b.text = "<blank>\n";
  if (space && c.spaces >= min_count) {
    b.space = true;
    b.text += "<space>\n";
    ++b.symbols;
  }
  for (const CharCount& k : c.chars) {
    // Alphabet::parse refuses control characters as symbols (they do not survive a line).
    const bool usable = k.cp >= 0x20 && k.cp != 0x7F;
    if (k.count < min_count || !usable) {
      b.rare.push_back(k);
      continue;
    }
    b.kept.push_back(k);
    append_utf8(k.cp, &b.text);
    b.text += "\n";
    ++b.symbols;
  }
  b.text += base.rules_text();
  return b;
}

std::string rare_tsv(const BuiltAlphabet& b, int64_t min_count) {
  std::string s = "code_point\tcharacter\tcount\trows\tfirst_row\twhy\n";
  for (const CharCount& k : b.rare) {
    const bool usable = k.cp >= 0x20 && k.cp != 0x7F;
    std::string ch;
    if (usable) append_utf8(k.cp, &ch);
    s += fmt::format(
        "U+{:04X}\t{}\t{}\t{}\t{}\t{}\n", k.cp, ch, k.count, k.rows, k.first,
        usable ? fmt::format("below --min-count {}", min_count) : std::string("control character"));
  }
  return s;
}

}  // namespace ds2::pipeline
