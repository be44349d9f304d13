// The compiled binary form of an ARPA n-gram LM (format "ds2-lm", version 1), written by
// `ds2 lm compile IN.arpa OUT.bin` (compile_arpa_lm) and read by CompiledLm through a read-only
// shared memory map: opening costs O(header) and every rank of a node shares one copy of the
// file in the page cache. Scores are exactly ArpaLm's (same float32 values, same summation).
//
// Layout: a reversed sorted-array trie, one level per order, as KenLM's trie but with byte
// fields. The n-gram (w_1 .. w_n) (w_n predicted) is the node reached from the root by w_n, then
// w_{n-1}, ..., w_1; so the level-n node of (w_1..w_n) is a child of the level-(n-1) node of its
// suffix (w_2..w_n). Level 1 is indexed by word id (the ARPA's unigram order). At level n >= 2
// the children of one parent are contiguous and sorted by their word (w_1), and node i of level
// n-1 has its children at level-n indices [child[i], child[i+1]). An n-gram whose suffix is not
// listed gets that suffix as a "blank" node (probability NaN, back-off 0), so every listed
// n-gram is reachable; a blank is not a listed n-gram.
//
// Scoring log10 P(w | h_1..h_k) (k cut to order-1): walk w, h_k, h_{k-1}, ... while the nodes
// exist; the deepest non-blank node on the way is the longest listed n-gram (h_{k-m+1}..h_k, w)
// and gives its probability p. Walk h_k, h_{k-1}, ... for the back-offs of the contexts
// (h_{k-j+1}..h_k), j = 1..k (0 when not listed or blank). Result: sum of the back-offs for
// j = k down to m+1 (in double, longest first, as ArpaLm), plus p. 2k binary searches at most.
//
// File (little-endian; every section starts at a multiple of 64 bytes):
//   header      LmFileHeader below (magic "ds2-lm\0\0", version, order, vocabulary size,
//               <s> </s> <unk> ids, counts, file size, checksums, section table)
//   vocab_offs  uint64 [V + 1]        word i is bytes [offs[i], offs[i+1]) of vocab_bytes
//   vocab_bytes char [..]             the words' UTF-8 bytes, concatenated
//   vocab_hash  uint32 [S]            S a power of two >= 2V; slot = word id + 1 or 0 (empty);
//                                     linear probing from fnv1a64(word) & (S - 1)
//   for each order n = 1..N:
//     word      uint32 [E_n]          (n >= 2) the node's word (w_1 of its n-gram)
//     prob      float32 [E_n]         log10 probability, NaN for a blank
//     bow       float32 [E_n]         (n < N) log10 back-off weight (0 when the ARPA has none)
//     child     uint32 [E_n + 1]      (n < N) first child at level n+1; child[E_n] = E_{n+1}
// E_1 = V; E_n >= the ARPA's count of order n (blanks added). Bytes per n-gram: 16 at the middle
// orders, 8 at the highest, 12 + the word's bytes at order 1: 15 per n-gram on bench_lm's 5-gram
// models, 1.24-1.32x KenLM's bit-packed unquantized trie (bench/README.md). No quantization:
// float32 keeps results equal to ArpaLm's (8-bit codebooks would save 4-6 bytes per n-gram).
//
// Checks on open (O(header)): magic, version (another one is refused), the header's checksum,
// the file's size against the header's (a truncated copy is refused), every section inside the
// file with the size its counts imply, the vocabulary's bounds. Lookups clamp every child range
// to its level, so a corrupt body gives wrong scores (or a FormatError naming the field), never a
// crash; verify() checks the body's checksum (O(file)).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "decode/arpa_lm.h"
#include "decode/word_trie.h"

namespace ds2::decode {

constexpr char kLmMagic[8] = {'d', 's', '2', '-', 'l', 'm', '\0', '\0'};
constexpr uint32_t kLmVersion = 1;
constexpr int kLmMaxOrder = 16;
constexpr int kLmSectionsPerOrder = 4;  // word, prob, bow, child
constexpr int kLmSections = 3 + kLmSectionsPerOrder * kLmMaxOrder;

struct LmSection {
  uint64_t offset = 0;  // from the start of the file
  uint64_t bytes = 0;
};

struct LmFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;            // sizeof(LmFileHeader)
  uint32_t order;                   // 1..kLmMaxOrder
  uint32_t vocab_size;              // V
  int32_t bos, eos, unk;            // word ids or -1
  uint32_t flags;                   // 0 (no quantization); reserved
  uint64_t file_bytes;              // size of the whole file
  uint64_t header_checksum;         // fnv1a64 of the header with this field 0
  uint64_t body_checksum;           // lm_body_checksum of bytes [header_bytes, file_bytes)
  uint64_t listed[kLmMaxOrder];     // n-grams of each order in the ARPA
  uint64_t entries[kLmMaxOrder];    // nodes stored per level (listed + blanks)
  LmSection sections[kLmSections];  // index: lm_section(order, field) or 0, 1, 2 (vocabulary)
};

enum LmField { kLmWord = 0, kLmProb = 1, kLmBow = 2, kLmChild = 3 };
enum LmVocabSection { kLmVocabOffsets = 0, kLmVocabBytes = 1, kLmVocabHash = 2 };
inline int lm_section(int order, LmField f) { return 3 + kLmSectionsPerOrder * (order - 1) + f; }

// FNV-1a over the little-endian 64-bit words of `data` (a tail of < 8 bytes zero-padded).
uint64_t lm_body_checksum(const void* data, size_t bytes);

// True when the file at `path` starts with kLmMagic (false when it cannot be read).
bool is_compiled_lm(const std::string& path);

class CompiledLm : public LanguageModel {
 public:
  // Maps `path` read-only (MAP_SHARED). Throws IoError when it cannot be opened or mapped,
  // FormatError "PATH: ..." naming the field when the header or the section table is invalid.
  explicit CompiledLm(const std::string& path);
  ~CompiledLm() override;
  CompiledLm(const CompiledLm&) = delete;
  CompiledLm& operator=(const CompiledLm&) = delete;

  int order() const override { return static_cast<int>(h_->order); }
  int32_t word_id(std::string_view word) const override;
  int32_t bos_id() const override { return h_->bos; }
  int32_t eos_id() const override { return h_->eos; }
  int32_t unk_id() const override { return h_->unk; }
  double log_prob(const int32_t* context, int n_ctx, int32_t word) const override;
  // Built on first use (O(vocabulary bytes)), then shared; thread-safe.
  const WordTrie* vocabulary_trie() const override;
  const WordTrie* lexicon_trie() const override { return lexicon_ ? &lexicon_trie_ : nullptr; }
  const std::string& lexicon_source() const override { return lexicon_source_; }
  // As ArpaLm::set_lexicon.
  void set_lexicon(const std::vector<std::string>& words, const std::string& source);

  // Same contract as ArpaLm::log10_prob.
  double log10_prob(const int32_t* context, int n_ctx, int32_t word) const;
  int32_t vocab_size() const { return static_cast<int32_t>(h_->vocab_size); }
  std::string_view word(int32_t id) const;
  int64_t count(int n) const { return static_cast<int64_t>(h_->listed[n - 1]); }
  int64_t entries(int n) const { return static_cast<int64_t>(h_->entries[n - 1]); }
  uint64_t file_bytes() const { return h_->file_bytes; }
  const std::string& path() const { return path_; }
  // Recomputes the body checksum (reads the whole file); throws FormatError on a mismatch.
  void verify() const;

 private:
  template <typename T>
  const T* section(int index) const {
    return reinterpret_cast<const T*>(base_ + h_->sections[index].offset);
  }
  // Index at level n+1 of the child of node `i` (level n) with word `w`, or -1.
  int64_t child(int n, int64_t i, int32_t w) const;

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  const LmFileHeader* h_ = nullptr;
  // Per level n (index n-1): the arrays (null where the level has none).
  struct Level {
    const uint32_t* word = nullptr;
    const float* prob = nullptr;
    const float* bow = nullptr;
    const uint32_t* child = nullptr;
    int64_t entries = 0;
  };
  std::vector<Level> levels_;
  const uint64_t* vocab_offs_ = nullptr;
  const char* vocab_bytes_ = nullptr;
  const uint32_t* vocab_hash_ = nullptr;
  uint64_t hash_mask_ = 0;

  mutable std::once_flag vocab_once_;
  mutable WordTrie vocab_trie_;
  WordTrie lexicon_trie_;
  bool lexicon_ = false;
  std::string lexicon_source_;
};

// Compiles the ARPA file `arpa` into `out` (written to a temporary name and renamed). Throws
// the reader's FormatError "ARPA:LINE: ..." for bad input, FormatError "ARPA: duplicate
// N-gram '...'" for an n-gram listed twice, IoError when `out` cannot be written. `progress`
// (may be empty) is called with a message now and then on large files.
struct LmCompileStats {
  std::vector<int64_t> listed, entries;  // per order
  uint64_t file_bytes = 0;
  double read_s = 0, build_s = 0, write_s = 0;
};
LmCompileStats compile_arpa_lm(const std::string& arpa, const std::string& out,
                               const std::function<void(const std::string&)>& progress = {});

}  // namespace ds2::decode
