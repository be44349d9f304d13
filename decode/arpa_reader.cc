// The ARPA parser (see decode/arpa_reader.h; format in decode/arpa_lm.h).
#include "decode/arpa_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace ds2::decode {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// A decimal number (log10 value); false when `s` is not one in full.
bool parse_number(std::string_view s, float* v) {
  if (s.empty() || s.size() > 63) return false;
  char buf[64];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(buf, &end);
  if (end != buf + s.size() || errno == ERANGE || std::isnan(d)) return false;  // "nan" parses
  *v = static_cast<float>(d);
  return true;
}

bool parse_count(std::string_view s, int64_t* v) {
  s = trim(s);
  if (s.empty() || s.size() > 18) return false;
  int64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + (c - '0');
  }
  *v = r;
  return true;
}

}  // namespace

void split_arpa_fields(std::string_view line, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out->push_back(line.substr(i, j - i));
    i = j;
  }
}

void read_arpa(std::istream& in, const std::string& origin, ArpaVocab* vocab,
               const ArpaHandler& handler) {
  std::string line;
  int64_t lineno = 0;
  auto fail_at = [&](const std::string& msg) {
    DS2_THROW(FormatError, "{}:{}: {}", origin, lineno, msg);
  };

  // Header: skip anything before \data\, then "ngram N=count" lines.
  bool seen_data = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line) == "\\data\\") {
      seen_data = true;
      break;
    }
  }
  if (!seen_data) DS2_THROW(FormatError, "{}:{}: no \\data\\ section", origin, lineno);
  std::vector<int64_t> counts;
  std::string_view t;
  bool pending = false;  // `t` holds a line after the header, not yet processed
  while (std::getline(in, line)) {
    ++lineno;
    t = trim(line);
    if (t.empty()) continue;
    if (t.substr(0, 5) != "ngram") {
      pending = true;
      break;
    }
    const size_t eq = t.find('=');
    int64_t n = 0, c = 0;
    if (eq == std::string_view::npos || !parse_count(t.substr(5, eq - 5), &n) ||
        !parse_count(t.substr(eq + 1), &c))
      fail_at(fmt::format("bad count line '{}' (expected 'ngram N=COUNT')", t));
    if (n != static_cast<int64_t>(counts.size()) + 1)
      fail_at(fmt::format("ngram order {} out of sequence (expected {})", n, counts.size() + 1));
    counts.push_back(c);
  }
  if (counts.empty()) fail_at("no 'ngram N=COUNT' lines after \\data\\");
  if (handler.on_counts) handler.on_counts(counts);

  // Sections. `t` holds the first non-header line.
  std::vector<std::string_view> f;
  std::vector<int32_t> ids;
  int order = 0;           // section being read (0: none yet)
  int64_t in_section = 0;  // entries read in it
  int64_t total = 0;       // n-grams read in all sections
  bool ended = false;
  auto close_section = [&]() {
    if (order > 0 && in_section != counts[order - 1])
      fail_at(fmt::format("\\{}-grams: has {} entries but \\data\\ says {}", order, in_section,
                          counts[order - 1]));
  };
  while (true) {
    if (!pending) {
      if (!std::getline(in, line)) break;
      ++lineno;
      t = trim(line);
    }
    pending = false;
    if (t.empty()) continue;
    if (t[0] == '\\') {
      close_section();
      if (t == "\\end\\") {
        ended = true;
        break;
      }
      int64_t n = 0;
      if (t.size() < 9 || t.substr(t.size() - 7) != "-grams:" ||
          !parse_count(t.substr(1, t.size() - 8), &n))
        fail_at(fmt::format("bad section header '{}'", t));
      if (n != order + 1 || n > static_cast<int64_t>(counts.size()))
        fail_at(
            fmt::format("section \\{}-grams: out of sequence or beyond the order {} in \\data\\", n,
                        counts.size()));
      order = static_cast<int>(n);
      in_section = 0;
      continue;
    }
    if (order == 0) fail_at(fmt::format("n-gram line before any \\N-grams: section: '{}'", t));
    split_arpa_fields(t, &f);
    if (f.size() != static_cast<size_t>(order) + 1 && f.size() != static_cast<size_t>(order) + 2)
      fail_at(fmt::format("{} fields in a {}-gram line (expected {} or {})", f.size(), order,
                          order + 1, order + 2));
    float prob = 0, bow = 0;
    if (!parse_number(f[0], &prob)) fail_at(fmt::format("bad log10 probability '{}'", f[0]));
    if (f.size() == static_cast<size_t>(order) + 2 && !parse_number(f.back(), &bow))
      fail_at(fmt::format("bad log10 back-off weight '{}'", f.back()));
    ids.clear();
    for (int i = 1; i <= order; ++i) {
      const std::string w(f[i]);
      if (order == 1) {
        const int32_t id = static_cast<int32_t>(vocab->words.size());
        if (!vocab->ids.emplace(w, id).second) fail_at(fmt::format("duplicate unigram '{}'", w));
        vocab->words.push_back(w);
        ids.push_back(id);
      } else {
        auto it = vocab->ids.find(w);
        if (it == vocab->ids.end())
          fail_at(fmt::format("word '{}' of a {}-gram is not a unigram", w, order));
        ids.push_back(it->second);
      }
    }
    if (!handler.on_ngram(order, ids.data(), prob, bow))
      fail_at(fmt::format("duplicate {}-gram '{}'", order, t));
    ++in_section;
    if ((++total & ((int64_t{1} << 20) - 1)) == 0 && handler.on_progress)
      handler.on_progress(total);
  }
  if (!ended) DS2_THROW(FormatError, "{}:{}: missing \\end\\ (file truncated?)", origin, lineno);
  if (order != static_cast<int>(counts.size()))
    DS2_THROW(FormatError, "{}:{}: \\end\\ after \\{}-grams: but \\data\\ announces order {}",
              origin, lineno, order, counts.size());
}

}  // namespace ds2::decode
