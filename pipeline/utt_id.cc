// Utterance ids (utt_id.h): the validity rules (valid UTF-8; no white space, Unicode spaces
// included, control characters, parentheses or '~') and derive_utt_ids(): stems when all are
// unique, else paths relative to the common folder with '/' -> '-'.
#include "pipeline/utt_id.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <unordered_map>

#include "pipeline/alphabet.h"

namespace ds2::pipeline {
namespace fs = std::filesystem;

namespace {

// Unicode white space (Zs, the line/paragraph separators, NEL) and the BOM: invisible in a trn
// file and split on by tools that know Unicode.
bool is_unicode_space(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
         cp == 0xFEFF;
}

bool is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Absolute and lexically normal, without a trailing '/' ("/m/" -> "/m").
fs::path absolute_normal(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(fs::path(p), ec);
  a = (ec ? fs::path(p) : a).lexically_normal();
  return a.has_filename() || a == a.root_path() ? a : a.parent_path();
}

// True when `p` lies inside folder `dir` (both absolute and lexically normal).
bool is_under(const fs::path& p, const fs::path& dir) {
  fs::path rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

std::string relative_id(const fs::path& p, const fs::path& base) {
  std::string s = p.lexically_relative(base).replace_extension().string();
  std::replace(s.begin(), s.end(), '/', '-');
  return s;
}

}  // namespace

std::string utt_id_problem(const std::string& id) {
  if (id.empty()) return "empty";
  for (size_t i = 0; i < id.size();) {
    const size_t at = i;
    uint32_t cp = 0;
    if (!next_code_point(id, &i, &cp))
      return fmt::format("not valid UTF-8 (byte {} of '{}')", at + 1, printable(id));
    if (cp == ' ' || is_unicode_space(cp)) return fmt::format("holds a space (U+{:04X})", cp);
    if (is_control(cp)) return fmt::format("holds a control character (U+{:04X})", cp);
    if (cp == '(' || cp == ')') return fmt::format("holds '{}', which a trn file cannot", char(cp));
    if (cp == '~') return "holds '~', which is reserved for augmented copies (<id>~aug<k>)";
  }
  return "";
}

std::string printable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    uint32_t cp = 0;
    if (!next_code_point(s, &i, &cp)) {
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[at]));
      i = at + 1;
    } else if (is_control(cp) || cp == '\\') {
      if (cp < 0x80)
        out += fmt::format("\\x{:02X}", cp);
      else
        for (size_t k = at; k < i; ++k)
          out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[k]));
    } else {
      out.append(s, at, i - at);
    }
  }
  return out;
}

DerivedIds derive_utt_ids(const std::vector<std::string>& paths, const std::string& manifest_dir) {
  DerivedIds d;
  std::vector<fs::path> abs;
  abs.reserve(paths.size());
  // stem -> index of the first file with it; one stem per row at most, so memory stays at a
  // few tens of bytes per utterance beyond the paths themselves.
  std::unordered_map<std::string, size_t> first_of_stem;
  first_of_stem.reserve(paths.size());
  bool stems_unique = true;
  for (const auto& p : paths) {
    abs.push_back(absolute_normal(p));
    auto [it, fresh] = first_of_stem.emplace(abs.back().stem().string(), abs.size() - 1);
    if (!fresh && abs[it->second] != abs.back()) stems_unique = false;
  }
  first_of_stem = {};
  if (stems_unique) {
    d.rule = "file stems";
    for (const auto& a : abs) d.ids.push_back(a.stem().string());
    return d;
  }
  fs::path base = absolute_normal(manifest_dir.empty() ? "." : manifest_dir);
  if (!std::all_of(abs.begin(), abs.end(), [&](const fs::path& a) { return is_under(a, base); })) {
    base = abs.front().parent_path();  // the deepest folder holding every audio file
    for (const auto& a : abs)
      while (!is_under(a, base) && base != base.parent_path()) base = base.parent_path();
  }
  d.rule = "paths relative to " + base.string();
  for (const auto& a : abs) d.ids.push_back(relative_id(a, base));
  return d;
}

}  // namespace ds2::pipeline
