// A spelling trie of a word list (an LM's vocabulary or a lexicon) over the words' UTF-8 bytes,
// for the prefix beam search's partial-word scoring and its lexicon mode (decode/ctc_decode.cc).
//
// Node 0 is the empty spelling. Each node carries
//   word:  the LM word id of the word spelled to this node (kNoWord when no listed word ends
//          here; kOovWord when a listed word ends here but the LM does not know it),
//   smear: max over the listed words below this node (itself included) of their unigram ln P
//          (ln P(<unk>), or kUnknownLog10 in ln, for a word the LM does not know): an upper
//          bound-like estimate of what the partial word will cost once complete, independent of
//          the context (flashlight calls this "max smearing").
// Children are found through one hash table keyed by (node, byte); a symbol of k bytes is k
// steps. Building is O(total bytes of the words); the trie is immutable afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "decode/flat_map.h"

namespace ds2::decode {

class LanguageModel;

class WordTrie {
 public:
  static constexpr int32_t kNoWord = -1;
  static constexpr int32_t kOovWord = -2;

  WordTrie() : nodes_(1) {}

  // Adds `word` (non-empty) with its LM id (or kOovWord) and unigram ln P. A word added twice
  // keeps its first id and the larger ln P.
  void add(std::string_view word, int32_t lm_id, float unigram_logp);

  // The node reached from `node` by the bytes of `symbol`, or -1 when no listed word continues
  // that way. step(-1, ...) is -1.
  int32_t step(int32_t node, std::string_view symbol) const {
    for (unsigned char b : symbol) {
      if (node < 0) return -1;
      node = children_.find(static_cast<uint64_t>(node) * 256 + b);
    }
    return node;
  }
  int32_t word(int32_t node) const { return nodes_[node].word; }
  bool ends_word(int32_t node) const { return nodes_[node].word != kNoWord; }
  float smear(int32_t node) const { return nodes_[node].smear; }
  size_t nodes() const { return nodes_.size(); }
  size_t words() const { return words_; }

 private:
  struct Node {
    int32_t word = kNoWord;
    float smear = -1e30f;
  };
  std::vector<Node> nodes_;
  FlatMap children_;
  size_t words_ = 0;
};

// The tries of an LM, built the same way for every LanguageModel (ArpaLm, CompiledLm):
// ln P(word) without context as the tries take it (kNoWord: <unk>'s, or kUnknownLog10 in ln).
float unigram_ln(const LanguageModel& lm, int32_t id);
// The vocabulary trie: every id in [0, vocab_size) but <s>, </s> and <unk>, spelled word(id).
WordTrie make_vocabulary_trie(const LanguageModel& lm, int32_t vocab_size,
                              const std::function<std::string_view(int32_t)>& word);
// A lexicon's trie: a word the LM does not know (or <unk> itself) is kOovWord.
WordTrie make_lexicon_trie(const LanguageModel& lm, const std::vector<std::string>& words);

}  // namespace ds2::decode
