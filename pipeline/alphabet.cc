// The alphabet file (symbols, comments, @space/@drop/@map rules) and transcript normalization on
// ICU: NFKC_Casefold, then the rules' UnicodeSets per code point (see alphabet.h for the steps).
#include "pipeline/alphabet.h"

#include <fmt/format.h>
#include <unicode/normalizer2.h>
#include <unicode/parsepos.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <sstream>
#include <utility>

#include "core/error.h"
#include "core/fs.h"

namespace ds2::pipeline {

bool next_code_point(const std::string& s, size_t* i, uint32_t* cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), k = *i;
  unsigned char c = p[k];
  int len;
  uint32_t v;
  if (c < 0x80) {
    len = 1, v = c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07;
  } else {
    return false;
  }
  if (k + len > n) return false;
  for (int j = 1; j < len; ++j) {
    if ((p[k + j] & 0xC0) != 0x80) return false;
    v = (v << 6) | (p[k + j] & 0x3F);
  }
  // Overlong encodings and surrogates are invalid.
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
  *cp = v;
  *i = k + len;
  return true;
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---------------------------------------------------------------------------------------------
// Rules.

struct NormalizationRules {
  struct Set {
    std::string pattern;  // as written in the file (UTF-8)
    icu::UnicodeSet set;
  };
  Set space, drop;
  std::vector<std::pair<Set, uint32_t>> maps;  // first matching set gives the target
  const icu::Normalizer2* nfkc_cf = nullptr;   // owned by ICU, never deleted

  uint32_t map(uint32_t cp) const {
    for (const auto& m : maps)
      if (m.first.set.contains(static_cast<UChar32>(cp))) return m.second;
    return cp;
  }
};

namespace {

constexpr const char* kDefaultSpace = "[[:White_Space:][:Pd:][:Pc:]/]";
constexpr const char* kDefaultDrop = "[[:P:]\\$+<=>\\^|~]";
constexpr const char* kDefaultMapSet = "[\\u2018\\u2019\\u02BC`]";
constexpr uint32_t kDefaultMapTo = '\'';

// Throws FormatError naming `where` when `pattern` is not one whole UnicodeSet pattern.
NormalizationRules::Set make_set(const std::string& pattern, const std::string& where) {
  NormalizationRules::Set s;
  s.pattern = pattern;
  UErrorCode st = U_ZERO_ERROR;
  const icu::UnicodeString p = icu::UnicodeString::fromUTF8(icu::StringPiece(pattern));
  icu::ParsePosition pos(0);
  s.set.applyPattern(p, pos, USET_IGNORE_SPACE, nullptr, st);
  DS2_REQUIRE(U_SUCCESS(st) && pos.getIndex() == p.length(), FormatError,
              "{}: '{}' is not a UnicodeSet pattern ({}{})", where, pattern,
              U_FAILURE(st) ? u_errorName(st) : "text after the set",
              U_FAILURE(st) ? "" : fmt::format(" at offset {}", pos.getIndex()));
  return s;
}

const icu::Normalizer2* nfkc_casefold() {
  UErrorCode st = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(st);
  DS2_REQUIRE(U_SUCCESS(st) && n, ConfigError, "ICU: no NFKC_Casefold normalizer ({})",
              u_errorName(st));
  return n;
}

const std::shared_ptr<const NormalizationRules>& default_rules() {
  static const std::shared_ptr<const NormalizationRules> r = [] {
    auto d = std::make_shared<NormalizationRules>();
    d->space = make_set(kDefaultSpace, "default @space");
    d->drop = make_set(kDefaultDrop, "default @drop");
    d->maps.emplace_back(make_set(kDefaultMapSet, "default @map"), kDefaultMapTo);
    d->nfkc_cf = nfkc_casefold();
    return std::shared_ptr<const NormalizationRules>(std::move(d));
  }();
  return r;
}

bool same_maps(const NormalizationRules& a, const NormalizationRules& b) {
  if (a.maps.size() != b.maps.size()) return false;
  for (size_t i = 0; i < a.maps.size(); ++i)
    if (a.maps[i].second != b.maps[i].second || a.maps[i].first.set != b.maps[i].first.set)
      return false;
  return true;
}

// One rule line ("@space SET", "@drop SET", "@map SET C") into `r`; `seen` tracks which kinds
// the file has given (a kind given once replaces its default; @space/@drop only once).
void parse_rule(const std::string& line, const std::string& where, NormalizationRules* r,
                bool seen[3]) {
  const size_t sp = line.find_first_of(" \t");
  const std::string key = line.substr(0, sp);
  const size_t arg_at = sp == std::string::npos ? line.size() : line.find_first_not_of(" \t", sp);
  std::string arg = arg_at == std::string::npos ? "" : line.substr(arg_at);
  DS2_REQUIRE(key == "@space" || key == "@drop" || key == "@map", FormatError,
              "{}: unknown rule '{}' (expected @space, @drop or @map)", where, key);
  DS2_REQUIRE(!arg.empty(), FormatError, "{}: {} needs a UnicodeSet pattern", where, key);
  if (key == "@map") {
    const size_t last = arg.find_last_of(" \t");
    DS2_REQUIRE(last != std::string::npos, FormatError,
                "{}: @map needs a UnicodeSet pattern and a target character", where);
    const std::string to = arg.substr(last + 1);
    std::string set = arg.substr(0, last);
    set.erase(set.find_last_not_of(" \t") + 1);
    size_t i = 0;
    uint32_t cp = 0;
    DS2_REQUIRE(next_code_point(to, &i, &cp) && i == to.size() && cp > 0x20 && cp != 0x7F,
                FormatError, "{}: @map target '{}' is not one printable character", where, to);
    if (!seen[2]) r->maps.clear();
    seen[2] = true;
    r->maps.emplace_back(make_set(set, where + ": @map"), cp);
    return;
  }
  const int k = key == "@space" ? 0 : 1;
  DS2_REQUIRE(!seen[k], FormatError, "{}: {} given twice", where, key);
  seen[k] = true;
  (k == 0 ? r->space : r->drop) = make_set(arg, where + ": " + key);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The file.

Alphabet Alphabet::load(const std::string& path) { return parse(read_file(path), path); }

Alphabet Alphabet::parse(const std::string& text, const std::string& origin) {
  Alphabet a;
  auto rules = std::make_shared<NormalizationRules>(*default_rules());
  bool seen[3] = {false, false, false};
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.size() > 1 && line[0] == '#') continue;  // a comment ("#" alone is a symbol)
    if (line.size() > 1 && line[0] == '@') {          // a rule ("@" alone is a symbol)
      parse_rule(line, fmt::format("{}:{}", origin, lineno), rules.get(), seen);
      continue;
    }
    if (a.symbols_.empty()) {  // the first symbol line (an empty line 1 once skipped this)
      DS2_REQUIRE(line == "<blank>", FormatError, "{}:{}: first symbol must be <blank>, got '{}'",
                  origin, lineno, line);
      a.symbols_.push_back("");
      continue;
    }
    std::string sym = line == "<space>" ? " " : line;
    size_t i = 0;
    uint32_t cp = 0;
    DS2_REQUIRE(next_code_point(sym, &i, &cp) && i == sym.size(), FormatError,
                "{}:{}: symbol '{}' is not exactly one UTF-8 character", origin, lineno, line);
    // A control character (a lone '\r' left of "\r\r") would not survive to_string() -> parse().
    DS2_REQUIRE(cp >= 0x20 && cp != 0x7F, FormatError,
                "{}:{}: symbol U+{:04X} is a control character", origin, lineno, cp);
    DS2_REQUIRE(!a.index_.count(cp), FormatError, "{}:{}: symbol '{}' appears twice", origin,
                lineno, line);
    a.index_[cp] = static_cast<int32_t>(a.symbols_.size());
    a.symbols_.push_back(sym);
  }
  DS2_REQUIRE(a.symbols_.size() >= 2, FormatError, "{}:{}: alphabet has no symbols (end of file)",
              origin, lineno);
  if (seen[0] || seen[1] || seen[2])
    a.rules_ = std::move(rules);
  else
    a.rules_ = default_rules();
  return a;
}

std::string Alphabet::rules_text() const {
  const NormalizationRules& d = *default_rules();
  const NormalizationRules& r = rules_ ? *rules_ : d;  // a default-constructed Alphabet
  std::string s;
  if (r.space.set != d.space.set) s += "@space " + r.space.pattern + "\n";
  if (r.drop.set != d.drop.set) s += "@drop " + r.drop.pattern + "\n";
  if (!same_maps(r, d)) {
    for (const auto& m : r.maps) {
      s += "@map " + m.first.pattern + " ";
      append_utf8(m.second, &s);
      s += "\n";
    }
  }
  return s;
}

std::string Alphabet::to_string() const {
  std::string s = "<blank>\n";
  for (size_t i = 1; i < symbols_.size(); ++i)
    s += (symbols_[i] == " " ? "<space>" : symbols_[i]) + "\n";
  return s + rules_text();
}

// ---------------------------------------------------------------------------------------------
// Normalization.

bool Alphabet::normalize(const std::string& text, std::string* out, std::string* reason) const {
  return normalize_impl(text, false, out, reason);
}

bool Alphabet::normalize_open(const std::string& text, std::string* out,
                              std::string* reason) const {
  return normalize_impl(text, true, out, reason);
}

bool Alphabet::normalize_impl(const std::string& text, bool open, std::string* out,
                              std::string* reason) const {
  out->clear();
  // 1. Valid UTF-8, checked here so that the reason names the byte (ICU would substitute).
  for (size_t i = 0; i < text.size();) {
    const size_t at = i;
    uint32_t cp = 0;
    if (!next_code_point(text, &i, &cp)) {
      *reason = fmt::format("not valid UTF-8 at byte {}", at);
      return false;
    }
  }
  // 2. NFKC_Casefold.
  const NormalizationRules& r = rules_ ? *rules_ : *default_rules();
  UErrorCode st = U_ZERO_ERROR;
  const icu::UnicodeString folded =
      r.nfkc_cf->normalize(icu::UnicodeString::fromUTF8(
                               icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))),
                           st);
  if (U_FAILURE(st)) {
    *reason = fmt::format("Unicode normalization failed ({})", u_errorName(st));
    return false;
  }
  // 3-5. Per code point: @map, then symbol / space / drop / invalid; spaces collapse.
  const bool keep_spaces = open || index_.count(' ');
  bool pending_space = false;
  for (int32_t k = 0; k < folded.length();) {
    const UChar32 c = folded.char32At(k);
    k += U16_LENGTH(c);
    const uint32_t cp = r.map(static_cast<uint32_t>(c));
    const auto u = static_cast<UChar32>(cp);
    const bool symbol = cp != ' ' && index_.count(cp);
    if (!symbol && (cp == ' ' || r.space.set.contains(u))) {
      pending_space = true;
      continue;
    }
    if (!symbol && r.drop.set.contains(u)) continue;
    if (!symbol && !open) {
      std::string ch;
      append_utf8(cp, &ch);
      *reason = fmt::format("character '{}' (U+{:04X}) not in alphabet", ch, cp);
      return false;
    }
    if (pending_space && !out->empty() && keep_spaces) out->push_back(' ');
    pending_space = false;
    append_utf8(cp, out);
  }
  return true;
}

std::vector<int32_t> Alphabet::encode(const std::string& normalized) const {
  std::vector<int32_t> ids;
  ids.reserve(normalized.size());
  size_t i = 0;
  while (i < normalized.size()) {
    uint32_t cp = 0;
    DS2_REQUIRE(next_code_point(normalized, &i, &cp), FormatError, "encode: invalid UTF-8 in '{}'",
                normalized);
    auto it = index_.find(cp);
    DS2_REQUIRE(it != index_.end(), FormatError, "encode: U+{:04X} not in alphabet ('{}')", cp,
                normalized);
    ids.push_back(it->second);
  }
  return ids;
}

std::string Alphabet::decode(const int32_t* ids, size_t n) const {
  std::string s;
  for (size_t i = 0; i < n; ++i)
    if (ids[i] > 0 && ids[i] < size()) s += symbols_[ids[i]];
  return s;
}

}  // namespace ds2::pipeline
