// WordTrie construction and the tries of an LM (see word_trie.h).
#include "decode/word_trie.h"

#include <algorithm>

#include "core/error.h"
#include "decode/arpa_lm.h"

namespace ds2::decode {

void WordTrie::add(std::string_view word, int32_t lm_id, float unigram_logp) {
  DS2_REQUIRE(!word.empty(), ConfigError, "word trie: an empty word");
  int32_t node = 0;
  nodes_[0].smear = std::max(nodes_[0].smear, unigram_logp);
  for (unsigned char b : word) {
    const uint64_t key = static_cast<uint64_t>(node) * 256 + b;
    int32_t next = children_.find(key);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      bool inserted = false;
      children_.find_or_insert(key, next, &inserted);
    }
    node = next;
    nodes_[node].smear = std::max(nodes_[node].smear, unigram_logp);
  }
  if (nodes_[node].word == kNoWord) {
    nodes_[node].word = lm_id;
    ++words_;
  }
}

float unigram_ln(const LanguageModel& lm, int32_t id) {
  if (id == LanguageModel::kNoWord) id = lm.unk_id();
  return static_cast<float>(lm.log_prob(nullptr, 0, id));  // kNoWord: the LM's -100 (log10)
}

WordTrie make_vocabulary_trie(const LanguageModel& lm, int32_t vocab_size,
                              const std::function<std::string_view(int32_t)>& word) {
  WordTrie t;
  for (int32_t id = 0; id < vocab_size; ++id)
    if (id != lm.bos_id() && id != lm.eos_id() && id != lm.unk_id())
      t.add(word(id), id, unigram_ln(lm, id));
  return t;
}

WordTrie make_lexicon_trie(const LanguageModel& lm, const std::vector<std::string>& words) {
  WordTrie t;
  for (const std::string& w : words) {
    const int32_t id = lm.word_id(w);
    const bool known = id != LanguageModel::kNoWord && id != lm.unk_id();
    t.add(w, known ? id : WordTrie::kOovWord, unigram_ln(lm, known ? id : LanguageModel::kNoWord));
  }
  return t;
}

}  // namespace ds2::decode
