#include "pipeline/alphabet.h"

#include <fmt/format.h>

#include <cctype>
#include <fstream>
#include <sstream>

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

Alphabet Alphabet::load(const std::string& path) { return parse(read_file(path), path); }

Alphabet Alphabet::parse(const std::string& text, const std::string& origin) {
  Alphabet a;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (a.symbols_.empty()) {  // the first non-empty line (an empty line 1 once skipped this)
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
  return a;
}

std::string Alphabet::to_string() const {
  std::string s = "<blank>\n";
  for (size_t i = 1; i < symbols_.size(); ++i) s += (symbols_[i] == " " ? "<space>" : symbols_[i]) + "\n";
  return s;
}

namespace {
uint32_t lower(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;  // Latin-1 capitals
  if (cp >= 0x100 && cp <= 0x17F && cp % 2 == 0 && cp != 0x130) return cp + 1;  // Latin Ext-A
  return cp;
}
bool is_space_like(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == '-' ||
         cp == '_' || cp == '/' || (cp >= 0x2010 && cp <= 0x2015);
}
bool is_apostrophe(uint32_t cp) { return cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == '`'; }
bool is_droppable_punct(uint32_t cp) {
  if (cp < 0x80) return cp > ' ' && cp < 0x7F && !std::isalnum(static_cast<int>(cp));
  return cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x2026 || cp == 0xAB ||
         cp == 0xBB || cp == 0xBF || cp == 0xA1;
}
}  // namespace

bool Alphabet::normalize(const std::string& text, std::string* out, std::string* reason) const {
  out->clear();
  bool pending_space = false;
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    size_t at = i;
    if (!next_code_point(text, &i, &cp)) {
      *reason = fmt::format("not valid UTF-8 at byte {}", at);
      return false;
    }
    cp = lower(cp);
    if (is_apostrophe(cp)) cp = '\'';
    if (index_.count(cp) && cp != ' ') {
      if (pending_space && !out->empty() && index_.count(' ')) out->push_back(' ');
      pending_space = false;
      append_utf8(cp, out);
      continue;
    }
    if (is_space_like(cp)) {
      pending_space = true;
      continue;
    }
    if (is_droppable_punct(cp)) continue;
    std::string ch;
    append_utf8(cp, &ch);
    *reason = fmt::format("character '{}' (U+{:04X}) not in alphabet", ch, cp);
    return false;
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
