// ARPA reader and back-off scoring; see arpa_lm.h for the format and the scoring rule.
#include "decode/arpa_lm.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace ds2::decode {

namespace {

constexpr double kLn10 = 2.302585092994045684;

// Splits `line` on spaces and tabs into `out` (views into line).
void split_fields(std::string_view line, std::vector<std::string_view>* out) {
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

uint64_t mix(uint64_t h) {  // splitmix64 finalizer
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace

// ---- Table -----------------------------------------------------------------------------------

uint64_t ArpaLm::Table::hash(const int32_t* ids) const {
  uint64_t h = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(n_);
  for (int i = 0; i < n_; ++i) h = mix(h ^ static_cast<uint32_t>(ids[i]));
  return h;
}

void ArpaLm::Table::reserve(int64_t count) {
  // The header's count is a claim, not a size: reserve at most 1 M entries up front (add() grows
  // the table), so "ngram 1=999999999999999999" ends in a count mismatch, not std::bad_alloc.
  count = std::min<int64_t>(count, int64_t{1} << 20);
  ids_.reserve(static_cast<size_t>(count) * n_);
  prob_.reserve(count);
  bow_.reserve(count);
  size_t slots = 16;
  while (slots < static_cast<size_t>(count) * 2) slots *= 2;
  if (slots > slot_.size()) rehash(slots);
}

void ArpaLm::Table::rehash(size_t slots) {
  slot_.assign(slots, -1);
  const size_t mask = slots - 1;
  for (int64_t e = 0; e < size(); ++e) {
    size_t s = hash(&ids_[e * n_]) & mask;
    while (slot_[s] >= 0) s = (s + 1) & mask;
    slot_[s] = e;
  }
}

int64_t ArpaLm::Table::find(const int32_t* ids) const {
  if (slot_.empty()) return -1;
  const size_t mask = slot_.size() - 1;
  for (size_t s = hash(ids) & mask;; s = (s + 1) & mask) {
    const int64_t e = slot_[s];
    if (e < 0) return -1;
    const int32_t* k = &ids_[e * n_];
    int i = 0;
    while (i < n_ && k[i] == ids[i]) ++i;
    if (i == n_) return e;
  }
}

bool ArpaLm::Table::add(const int32_t* ids, float log10_prob, float log10_bow) {
  if (find(ids) >= 0) return false;
  if (static_cast<size_t>(size() + 1) * 2 > slot_.size())
    rehash(slot_.empty() ? 16 : slot_.size() * 2);
  const int64_t e = size();
  ids_.insert(ids_.end(), ids, ids + n_);
  prob_.push_back(log10_prob);
  bow_.push_back(log10_bow);
  const size_t mask = slot_.size() - 1;
  size_t s = hash(ids) & mask;
  while (slot_[s] >= 0) s = (s + 1) & mask;
  slot_[s] = e;
  return true;
}

// ---- loading ---------------------------------------------------------------------------------

ArpaLm ArpaLm::load(const std::string& path) {
  std::ifstream in(path);
  DS2_REQUIRE(in, IoError, "{}: cannot open ARPA file", path);
  return parse(in, path);
}

ArpaLm ArpaLm::parse(std::istream& in, const std::string& origin) {
  ArpaLm lm;
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
  for (size_t n = 1; n <= counts.size(); ++n) {
    lm.tables_.emplace_back(static_cast<int>(n));
    lm.tables_.back().reserve(counts[n - 1]);
  }

  // Sections. `t` holds the first non-header line.
  std::vector<std::string_view> f;
  std::vector<int32_t> ids;
  int order = 0;           // section being read (0: none yet)
  int64_t in_section = 0;  // entries read in it
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
    split_fields(t, &f);
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
        const int32_t id = static_cast<int32_t>(lm.words_.size());
        if (!lm.ids_.emplace(w, id).second) fail_at(fmt::format("duplicate unigram '{}'", w));
        lm.words_.push_back(w);
        ids.push_back(id);
      } else {
        auto it = lm.ids_.find(w);
        if (it == lm.ids_.end())
          fail_at(fmt::format("word '{}' of a {}-gram is not a unigram", w, order));
        ids.push_back(it->second);
      }
    }
    if (!lm.tables_[order - 1].add(ids.data(), prob, bow))
      fail_at(fmt::format("duplicate {}-gram '{}'", order, t));
    ++in_section;
  }
  if (!ended) DS2_THROW(FormatError, "{}:{}: missing \\end\\ (file truncated?)", origin, lineno);
  if (order != static_cast<int>(counts.size()))
    DS2_THROW(FormatError, "{}:{}: \\end\\ after \\{}-grams: but \\data\\ announces order {}",
              origin, lineno, order, counts.size());

  auto find = [&](const char* w) {
    auto it = lm.ids_.find(w);
    return it == lm.ids_.end() ? kNoWord : it->second;
  };
  lm.bos_ = find("<s>");
  lm.eos_ = find("</s>");
  lm.unk_ = find("<unk>");
  lm.build_vocab_trie();
  return lm;
}

// ---- spelling tries --------------------------------------------------------------------------

float ArpaLm::unigram_ln(int32_t id) const {
  if (id == kNoWord) id = unk_;
  if (id == kNoWord) return static_cast<float>(kLn10 * kUnknownLog10);
  const int64_t e = tables_[0].find(&id);
  return static_cast<float>(kLn10 * (e >= 0 ? tables_[0].prob(e) : kUnknownLog10));
}

void ArpaLm::build_vocab_trie() {
  vocab_trie_ = WordTrie();
  for (int32_t id = 0; id < vocab_size(); ++id)
    if (id != bos_ && id != eos_ && id != unk_) vocab_trie_.add(words_[id], id, unigram_ln(id));
}

void ArpaLm::set_lexicon(const std::vector<std::string>& words, const std::string& source) {
  lexicon_trie_ = WordTrie();
  for (const std::string& w : words) {
    auto it = ids_.find(w);
    const bool known = it != ids_.end() && it->second != unk_;
    lexicon_trie_.add(w, known ? it->second : WordTrie::kOovWord,
                      unigram_ln(known ? it->second : kNoWord));
  }
  lexicon_ = true;
  lexicon_source_ = source;
}

std::vector<std::string> ArpaLm::read_lexicon(const std::string& path) {
  std::ifstream in(path);
  if (!in) DS2_THROW(IoError, "{}: cannot open the lexicon", path);
  std::vector<std::string> words;
  std::string line;
  std::vector<std::string_view> fields;
  while (std::getline(in, line)) {
    split_fields(trim(line), &fields);
    if (fields.empty() || fields[0][0] == '#') continue;
    words.emplace_back(fields[0]);
  }
  DS2_REQUIRE(!words.empty(), FormatError, "{}: the lexicon lists no word", path);
  return words;
}

// ---- scoring ---------------------------------------------------------------------------------

int32_t ArpaLm::word_id(std::string_view word) const {
  auto it = ids_.find(std::string(word));
  return it == ids_.end() ? unk_ : it->second;
}

double ArpaLm::log10_prob(const int32_t* context, int n_ctx, int32_t word) const {
  if (word < 0 || word >= vocab_size()) return kUnknownLog10;
  const int max_ctx = order() - 1;
  if (n_ctx > max_ctx) {
    context += n_ctx - max_ctx;
    n_ctx = max_ctx;
  }
  // key = (context suffix of length k, word); try k = n_ctx down to 0.
  int32_t key[64];
  DS2_REQUIRE(n_ctx < 64, ConfigError, "LM order {} too large (max 64)", order());
  double bow_sum = 0;
  for (int k = n_ctx; k >= 0; --k) {
    const int32_t* h = context + (n_ctx - k);
    for (int i = 0; i < k; ++i) key[i] = h[i];
    key[k] = word;
    const Table& tab = tables_[k];
    const int64_t e = tab.find(key);
    if (e >= 0) return bow_sum + tab.prob(e);
    if (k > 0) {  // back off: add bow(h) when h is listed
      const int64_t he = tables_[k - 1].find(key);
      if (he >= 0) bow_sum += tables_[k - 1].bow(he);
    }
  }
  return kUnknownLog10;  // unreachable: every valid id is a unigram
}

double ArpaLm::log_prob(const int32_t* context, int n_ctx, int32_t word) const {
  return kLn10 * log10_prob(context, n_ctx, word);
}

double ArpaLm::log10_prob(const std::vector<std::string>& words) const {
  DS2_REQUIRE(!words.empty(), ConfigError, "log10_prob: no words");
  std::vector<int32_t> ids;
  for (const auto& w : words) ids.push_back(word_id(w));
  return log10_prob(ids.data(), static_cast<int>(ids.size()) - 1, ids.back());
}

ArpaLm load_decoder_lm(const std::string& path, const std::string& lexicon) {
  ArpaLm lm = ArpaLm::load(path);
  if (!lexicon.empty() && lexicon != "lm") lm.set_lexicon(ArpaLm::read_lexicon(lexicon), lexicon);
  return lm;
}

}  // namespace ds2::decode
