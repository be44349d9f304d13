// ARPA reader and back-off scoring; see arpa_lm.h for the format and the scoring rule.
#include "decode/arpa_lm.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "decode/arpa_reader.h"

namespace ds2::decode {

namespace {

constexpr double kLn10 = 2.302585092994045684;

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
  ArpaVocab vocab;
  ArpaHandler h;
  h.on_counts = [&](const std::vector<int64_t>& counts) {
    for (size_t n = 1; n <= counts.size(); ++n) {
      lm.tables_.emplace_back(static_cast<int>(n));
      lm.tables_.back().reserve(counts[n - 1]);
    }
  };
  h.on_ngram = [&](int n, const int32_t* ids, float prob, float bow) {
    return lm.tables_[n - 1].add(ids, prob, bow);
  };
  read_arpa(in, origin, &vocab, h);
  lm.words_ = std::move(vocab.words);
  lm.ids_ = std::move(vocab.ids);
  auto find = [&](const char* w) {
    auto it = lm.ids_.find(w);
    return it == lm.ids_.end() ? kNoWord : it->second;
  };
  lm.bos_ = find("<s>");
  lm.eos_ = find("</s>");
  lm.unk_ = find("<unk>");
  lm.vocab_trie_ = make_vocabulary_trie(
      lm, lm.vocab_size(), [&](int32_t id) -> std::string_view { return lm.words_[id]; });
  return lm;
}

// ---- lexicon --------------------------------------------------------------------------------

void ArpaLm::set_lexicon(const std::vector<std::string>& words, const std::string& source) {
  lexicon_trie_ = make_lexicon_trie(*this, words);
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
    if (!line.empty() && line.back() == '\r') line.pop_back();
    split_arpa_fields(line, &fields);
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

}  // namespace ds2::decode
