// sclite-compatible alignment counts and the trn format; see wer.h for the conventions.
#include "decode/wer.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/fs.h"
#include "pipeline/alphabet.h"

namespace ds2::decode {

double ErrorCounts::rate() const {
  if (ref == 0) return errors() == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(errors()) / static_cast<double>(ref);
}

ErrorCounts& ErrorCounts::operator+=(const ErrorCounts& o) {
  sub += o.sub;
  del += o.del;
  ins += o.ins;
  correct += o.correct;
  ref += o.ref;
  return *this;
}

namespace {

bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

}  // namespace

std::vector<std::string> tokenize(const std::string& text, Unit unit) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size();) {
    const char ch = text[i];
    if (is_space(ch)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      ++i;
      continue;
    }
    if (unit == Unit::kWord) {
      cur += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
      ++i;
    } else {  // one code point per token; invalid UTF-8 bytes go one by one
      size_t j = i;
      uint32_t cp = 0;
      if (!pipeline::next_code_point(text, &j, &cp) || j == i) j = i + 1;
      std::string tok = text.substr(i, j - i);
      if (tok.size() == 1 && tok[0] >= 'A' && tok[0] <= 'Z') tok[0] = tok[0] - 'A' + 'a';
      out.push_back(std::move(tok));
      i = j;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<AlignStep> align_path(const std::vector<std::string>& ref,
                                  const std::vector<std::string>& hyp) {
  constexpr int kSub = 4, kIns = 3, kDel = 3;
  enum : uint8_t { kDiag, kUp /* deletion: ref consumed */, kLeft /* insertion */ };
  const size_t n = ref.size(), m = hyp.size();
  // cost[a][b] for ref[0..a) vs hyp[0..b); back pointers per cell.
  std::vector<int64_t> cost((n + 1) * (m + 1));
  std::vector<uint8_t> back((n + 1) * (m + 1));
  auto at = [m](size_t a, size_t b) { return a * (m + 1) + b; };
  cost[0] = 0;
  for (size_t b = 1; b <= m; ++b) {
    cost[at(0, b)] = cost[at(0, b - 1)] + kIns;
    back[at(0, b)] = kLeft;
  }
  for (size_t a = 1; a <= n; ++a) {
    cost[at(a, 0)] = cost[at(a - 1, 0)] + kDel;
    back[at(a, 0)] = kUp;
    for (size_t b = 1; b <= m; ++b) {
      const int64_t sub = cost[at(a - 1, b - 1)] + (ref[a - 1] == hyp[b - 1] ? 0 : kSub);
      const int64_t del = cost[at(a - 1, b)] + kDel;
      const int64_t ins = cost[at(a, b - 1)] + kIns;
      // sclite's order: sub/correct if <= both, else del if < ins, else ins.
      if (sub <= del && sub <= ins) {
        cost[at(a, b)] = sub;
        back[at(a, b)] = kDiag;
      } else if (del < ins) {
        cost[at(a, b)] = del;
        back[at(a, b)] = kUp;
      } else {
        cost[at(a, b)] = ins;
        back[at(a, b)] = kLeft;
      }
    }
  }
  std::vector<AlignStep> path;
  for (size_t a = n, b = m; a > 0 || b > 0;) {
    switch (back[at(a, b)]) {
      case kDiag:
        --a, --b;
        path.push_back({ref[a] == hyp[b] ? AlignOp::kCorrect : AlignOp::kSub, a, b});
        break;
      case kUp:
        --a;
        path.push_back({AlignOp::kDel, a, b});
        break;
      default:
        --b;
        path.push_back({AlignOp::kIns, a, b});
        break;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

ErrorCounts align_counts(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  ErrorCounts e;
  e.ref = static_cast<int64_t>(ref.size());
  for (const AlignStep& s : align_path(ref, hyp)) {
    switch (s.op) {
      case AlignOp::kCorrect:
        ++e.correct;
        break;
      case AlignOp::kSub:
        ++e.sub;
        break;
      case AlignOp::kDel:
        ++e.del;
        break;
      case AlignOp::kIns:
        ++e.ins;
        break;
    }
  }
  return e;
}

std::vector<TrnEntry> read_trn(const std::string& path) {
  std::ifstream in(path);
  DS2_REQUIRE(in, IoError, "{}: cannot open trn file", path);
  std::vector<TrnEntry> out;
  std::unordered_map<std::string, int64_t> seen;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    size_t end = line.size();
    while (end > 0 && is_space(line[end - 1])) --end;
    size_t begin = 0;
    while (begin < end && is_space(line[begin])) ++begin;
    if (begin == end) continue;
    const size_t open = line.rfind('(', end);
    if (line[end - 1] != ')' || open == std::string::npos || open < begin)
      DS2_THROW(FormatError, "{}:{}: no '(utt_id)' at the end of the line", path, lineno);
    TrnEntry e;
    e.id = line.substr(open + 1, end - 1 - open - 1);
    DS2_REQUIRE(!e.id.empty(), FormatError, "{}:{}: empty utterance id '()'", path, lineno);
    size_t text_end = open;
    while (text_end > begin && is_space(line[text_end - 1])) --text_end;
    e.text = line.substr(begin, text_end - begin);
    auto [it, fresh] = seen.emplace(e.id, lineno);
    DS2_REQUIRE(fresh, FormatError, "{}:{}: duplicate utterance id '{}' (first on line {})", path,
                lineno, e.id, it->second);
    out.push_back(std::move(e));
  }
  DS2_REQUIRE(!in.bad(), IoError, "{}: read error", path);
  return out;
}

std::string trn_line(const std::string& path, const TrnEntry& e) {
  DS2_REQUIRE(!e.id.empty() && e.id.find_first_of("() \t\r\n") == std::string::npos, FormatError,
              "{}: utterance id '{}' cannot go into a trn file", path, e.id);
  DS2_REQUIRE(e.text.find_first_of("\r\n") == std::string::npos, FormatError,
              "{}: transcript of '{}' holds a line break", path, e.id);
  return e.text.empty() ? "(" + e.id + ")\n" : e.text + " (" + e.id + ")\n";
}

void write_trn(const std::string& path, const std::vector<TrnEntry>& entries) {
  std::string text;
  for (const auto& e : entries) text += trn_line(path, e);
  write_file_atomic(path, text);
}

namespace {

std::string name_some(const std::vector<std::string>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 5; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > 5) s += fmt::format(", ... ({} in all)", ids.size());
  return s;
}

}  // namespace

ScoreResult score(const std::vector<TrnEntry>& ref, const std::vector<TrnEntry>& hyp, Unit unit,
                  const std::string& ref_origin, const std::string& hyp_origin) {
  std::unordered_map<std::string, const TrnEntry*> by_id;
  for (const auto& h : hyp) by_id.emplace(h.id, &h);
  std::unordered_set<std::string> ref_ids;
  std::vector<std::string> missing, extra;
  for (const auto& r : ref) {
    ref_ids.insert(r.id);
    if (!by_id.count(r.id)) missing.push_back(r.id);
  }
  for (const auto& h : hyp)
    if (!ref_ids.count(h.id)) extra.push_back(h.id);
  if (!missing.empty() || !extra.empty()) {
    std::string msg;
    if (!missing.empty())
      msg = fmt::format("{} has no hypothesis for {} reference id(s): {}", hyp_origin,
                        missing.size(), name_some(missing));
    if (!extra.empty())
      msg += fmt::format("{}{} has {} id(s) not in {}: {}", msg.empty() ? "" : "; ", hyp_origin,
                         extra.size(), ref_origin, name_some(extra));
    DS2_THROW(FormatError, "{}", msg);
  }
  ScoreResult r;
  r.ids.reserve(ref.size());
  r.per_utt.reserve(ref.size());
  for (const auto& e : ref) {
    const ErrorCounts c =
        align_counts(tokenize(e.text, unit), tokenize(by_id.at(e.id)->text, unit));
    r.total += c;
    r.ids.push_back(e.id);
    r.per_utt.push_back(c);
  }
  return r;
}

}  // namespace ds2::decode
