// WordTrie construction (see word_trie.h).
#include "decode/word_trie.h"

#include <algorithm>

#include "core/error.h"

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

}  // namespace ds2::decode
