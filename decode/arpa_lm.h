// Word-level back-off n-gram language model read from an ARPA file of any order, as KenLM
// (lmplz), IRSTLM (compile-lm --text=yes) and SRILM (ngram-count -lm) write them.
//
// ARPA format:
//   \data\ (section start)
//   ngram 1=<count>          (IRSTLM pads: "ngram  1=        13")
//   ngram 2=<count>
//   \1-grams:
//   <log10 prob> <w1> [<log10 backoff>]
//   \2-grams:
//   <log10 prob> <w1> <w2> [<log10 backoff>]
//   ...
//   \end\ (file end)
// Fields are separated by tabs or spaces. Probabilities and back-off weights are log10.
//
// Scoring, with h = (h_1..h_k) the context (oldest first) and h' = (h_2..h_k):
//   log P(w | h) = log P*(w | h)                   if the n-gram (h, w) is listed,
//                = bow(h) + log P(w | h')           otherwise (bow(h) = 0 if h is not listed),
// recursing down to the unigram. A word outside the vocabulary maps to <unk> when the model has
// one; otherwise its log10 probability is kUnknownLog10 (-100, KenLM's convention) and it
// matches no n-gram as context. Contexts longer than order-1 are cut to their last order-1 words.
//
// Storage: one table per order with the n-gram's word ids packed in a flat array and an
// open-addressing index hashed on the id tuple (exact comparison, no hash-only matches). This is
// the reference implementation; large models are compiled to the memory-mapped binary form of
// decode/compiled_lm.h (`ds2 lm compile`), which scores exactly as this class does.
// The parser is decode/arpa_reader.h; load_decoder_lm (decode/load_lm.h) opens either form.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "decode/word_trie.h"

namespace ds2::decode {

// What the decoder needs from a word LM. Log probabilities are natural logs (ln).
class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual int order() const = 0;
  // Word id of `word`: the <unk> id or kNoWord when the word is outside the vocabulary.
  virtual int32_t word_id(std::string_view word) const = 0;
  virtual int32_t bos_id() const = 0;  // <s>, or kNoWord
  virtual int32_t eos_id() const = 0;  // </s>, or kNoWord
  virtual int32_t unk_id() const = 0;  // <unk>, or kNoWord
  // ln P(word | context), context = n_ctx word ids, oldest first (any n_ctx >= 0).
  virtual double log_prob(const int32_t* context, int n_ctx, int32_t word) const = 0;
  // The spelling trie of the vocabulary (every word but <s>, </s>, <unk>), smeared with unigram
  // ln P; null when the model has none (the decoder then scores words only when complete).
  virtual const WordTrie* vocabulary_trie() const { return nullptr; }
  // The lexicon set by the loader (see ArpaLm::set_lexicon), or null: then a lexicon-mode
  // search emits the vocabulary's words. lexicon_source() names it ("" when none).
  virtual const WordTrie* lexicon_trie() const { return nullptr; }
  virtual const std::string& lexicon_source() const {
    static const std::string kNone;
    return kNone;
  }
  static constexpr int32_t kNoWord = -1;
};

class ArpaLm : public LanguageModel {
 public:
  static constexpr double kUnknownLog10 = -100.0;

  // Throws IoError when the file cannot be read, FormatError "FILE:LINE: ..." when it is not
  // valid ARPA (bad count or number, wrong number of fields, count mismatch with the header,
  // an n-gram over a word that is not a unigram, missing \end\).
  static ArpaLm load(const std::string& path);
  // Parses ARPA text from a stream; `origin` names it in errors.
  static ArpaLm parse(std::istream& in, const std::string& origin);

  int order() const override { return static_cast<int>(tables_.size()); }
  int32_t word_id(std::string_view word) const override;
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  int32_t unk_id() const override { return unk_; }
  double log_prob(const int32_t* context, int n_ctx, int32_t word) const override;

  const WordTrie* vocabulary_trie() const override { return &vocab_trie_; }
  const WordTrie* lexicon_trie() const override { return lexicon_ ? &lexicon_trie_ : nullptr; }
  const std::string& lexicon_source() const override { return lexicon_source_; }
  // Restricts what a lexicon-mode search may emit to `words` (a word the LM does not know is
  // allowed and scored as out of vocabulary); `source` names the list (a file path).
  void set_lexicon(const std::vector<std::string>& words, const std::string& source);
  // Reads a lexicon file: one word per line (the first whitespace-separated field; a
  // flashlight-style "word  s p e l l i n g" line gives its word), blank lines and lines
  // starting with '#' skipped. Throws IoError naming the file, FormatError when it has no word.
  static std::vector<std::string> read_lexicon(const std::string& path);

  // log10 P(word | context) with back-off (same contract as log_prob, in log10).
  double log10_prob(const int32_t* context, int n_ctx, int32_t word) const;
  // Convenience for tests and tools: log10 P(words.back() | preceding words), by name.
  double log10_prob(const std::vector<std::string>& words) const;
  // Number of n-grams of order n (1-based).
  int64_t count(int n) const { return tables_.at(n - 1).size(); }
  int32_t vocab_size() const { return static_cast<int32_t>(words_.size()); }
  const std::string& word(int32_t id) const { return words_.at(id); }

 private:
  // The n-grams of one order: ids packed n per entry, open-addressing index over entries.
  class Table {
   public:
    explicit Table(int n) : n_(n) {}
    void reserve(int64_t count);
    // Adds an entry; returns false when the same n-gram is already present.
    bool add(const int32_t* ids, float log10_prob, float log10_bow);
    // Index of the entry with these n ids, or -1.
    int64_t find(const int32_t* ids) const;
    int64_t size() const { return static_cast<int64_t>(prob_.size()); }
    float prob(int64_t i) const { return prob_[i]; }
    float bow(int64_t i) const { return bow_[i]; }

   private:
    uint64_t hash(const int32_t* ids) const;
    void rehash(size_t slots);
    int n_;
    std::vector<int32_t> ids_;
    std::vector<float> prob_, bow_;
    std::vector<int64_t> slot_;  // entry index or -1, size a power of two
  };

  std::vector<Table> tables_;  // tables_[n-1] holds the n-grams
  WordTrie vocab_trie_, lexicon_trie_;
  bool lexicon_ = false;
  std::string lexicon_source_;
  std::vector<std::string> words_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t bos_ = kNoWord, eos_ = kNoWord, unk_ = kNoWord;
};

}  // namespace ds2::decode
