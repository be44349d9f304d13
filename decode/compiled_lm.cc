// CompiledLm: opening a "ds2-lm" file (read-only shared memory map, header checks) and back-off
// scoring on its reversed trie; the format and the scoring walk are in decode/compiled_lm.h.
#include "decode/compiled_lm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/rng.h"

namespace ds2::decode {

namespace {

constexpr double kLn10 = 2.302585092994045684;

bool little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

uint64_t header_checksum(const LmFileHeader& h) {
  LmFileHeader c = h;
  c.header_checksum = 0;
  return fnv1a64(&c, sizeof(c));
}

}  // namespace

uint64_t lm_body_checksum(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  if (i < bytes) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, bytes - i);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  return h;
}

bool is_compiled_lm(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char m[8] = {};
  const ssize_t n = ::read(fd, m, sizeof(m));
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof(m)) && std::memcmp(m, kLmMagic, sizeof(m)) == 0;
}

CompiledLm::CompiledLm(const std::string& path) : path_(path) {
  DS2_REQUIRE(little_endian(), ConfigError, "{}: ds2-lm files are little-endian; this host is not",
              path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  DS2_REQUIRE(fd >= 0, IoError, "{}: cannot open compiled LM: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    DS2_THROW(IoError, "{}: cannot stat compiled LM: {}", path, std::strerror(e));
  }
  size_ = static_cast<size_t>(st.st_size);
  // Magic and version first (a file of another version may have another header size).
  LmFileHeader head{};
  const ssize_t got = ::pread(fd, &head, sizeof(head), 0);
  if (got < 8 || std::memcmp(head.magic, kLmMagic, 8) != 0) {
    ::close(fd);
    DS2_THROW(FormatError, "{}: field 'magic': not a compiled ds2-lm file ({} bytes)", path, size_);
  }
  if (got < 12 || head.version != kLmVersion) {
    ::close(fd);
    DS2_THROW(FormatError,
              "{}: field 'version': ds2-lm version {}, this build reads version {} "
              "(recompile it with ds2 lm compile)",
              path, got < 12 ? 0 : head.version, kLmVersion);
  }
  if (got < static_cast<ssize_t>(sizeof(head))) {
    ::close(fd);
    DS2_THROW(FormatError, "{}: truncated: {} bytes, the header alone needs {}", path, size_,
              sizeof(head));
  }
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file
  DS2_REQUIRE(p != MAP_FAILED, IoError, "{}: cannot map compiled LM ({} bytes): {}", path, size_,
              std::strerror(map_errno));
  base_ = static_cast<const uint8_t*>(p);
  h_ = reinterpret_cast<const LmFileHeader*>(base_);
  try {
    const LmFileHeader& h = *h_;
    auto bad = [&](const char* field, const std::string& why) {
      DS2_THROW(FormatError, "{}: field '{}': {}", path, field, why);
    };
    if (h.header_checksum != header_checksum(h)) bad("header_checksum", "header corrupt");
    if (h.header_bytes != sizeof(LmFileHeader))
      bad("header_bytes", fmt::format("{} (expected {})", h.header_bytes, sizeof(LmFileHeader)));
    if (h.file_bytes != size_)
      bad("file_bytes", fmt::format("the header says {} bytes, the file has {} (truncated copy?)",
                                    h.file_bytes, size_));
    if (h.order < 1 || h.order > static_cast<uint32_t>(kLmMaxOrder))
      bad("order", fmt::format("{} (1..{})", h.order, kLmMaxOrder));
    if (h.flags != 0) bad("flags", fmt::format("{:#x} (this build reads 0)", h.flags));
    const int64_t v = h.vocab_size;
    if (v < 1 || h.entries[0] != h.vocab_size) bad("vocab_size", fmt::format("{}", v));
    for (int32_t id : {h.bos, h.eos, h.unk})
      if (id < -1 || id >= v) bad("bos/eos/unk", fmt::format("word id {} of {}", id, v));
    const int n_max = static_cast<int>(h.order);
    auto check = [&](int s, uint64_t want, const char* what) {
      const LmSection& sec = h.sections[s];
      if (sec.bytes != want)
        bad(what, fmt::format("section {} has {} bytes, its counts imply {}", s, sec.bytes, want));
      if (want == 0) return;
      if (sec.offset % 64 != 0 || sec.offset < sizeof(LmFileHeader) || sec.offset > size_ ||
          sec.bytes > size_ - sec.offset)
        bad(what, fmt::format("section {} [{}, +{}) lies outside the {}-byte file", s, sec.offset,
                              sec.bytes, size_));
    };
    for (int n = 1; n <= kLmMaxOrder; ++n) {
      const uint64_t e = n <= n_max ? h.entries[n - 1] : 0;
      if (n <= n_max && (e >= (uint64_t{1} << 32) || h.listed[n - 1] > e))
        bad("entries", fmt::format("order {}: {} nodes for {} n-grams", n, e, h.listed[n - 1]));
      check(lm_section(n, kLmWord), n >= 2 ? e * 4 : 0, "word");
      check(lm_section(n, kLmProb), e * 4, "prob");
      check(lm_section(n, kLmBow), n < n_max ? e * 4 : 0, "bow");
      check(lm_section(n, kLmChild), n < n_max ? (e + 1) * 4 : 0, "child");
    }
    uint64_t slots = 2;
    while (slots < 2 * static_cast<uint64_t>(v)) slots *= 2;
    check(kLmVocabOffsets, (v + 1) * 8, "vocab_offs");
    check(kLmVocabHash, slots * 4, "vocab_hash");
    vocab_offs_ = section<uint64_t>(kLmVocabOffsets);
    const uint64_t text = h.sections[kLmVocabBytes].bytes;
    check(kLmVocabBytes, text, "vocab_bytes");
    if (vocab_offs_[0] != 0 || vocab_offs_[v] != text)
      bad("vocab_offs", fmt::format("the words span bytes [{}, {}), the section has {}",
                                    vocab_offs_[0], vocab_offs_[v], text));
    vocab_bytes_ = section<char>(kLmVocabBytes);
    vocab_hash_ = section<uint32_t>(kLmVocabHash);
    hash_mask_ = slots - 1;
    levels_.resize(n_max);
    for (int n = 1; n <= n_max; ++n) {
      Level& l = levels_[n - 1];
      l.entries = static_cast<int64_t>(h.entries[n - 1]);
      if (n >= 2) l.word = section<uint32_t>(lm_section(n, kLmWord));
      l.prob = section<float>(lm_section(n, kLmProb));
      if (n < n_max) {
        l.bow = section<float>(lm_section(n, kLmBow));
        l.child = section<uint32_t>(lm_section(n, kLmChild));
      }
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
    throw;
  }
}

CompiledLm::~CompiledLm() {
  if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

void CompiledLm::verify() const {
  const uint64_t sum = lm_body_checksum(base_ + h_->header_bytes, size_ - h_->header_bytes);
  DS2_REQUIRE(sum == h_->body_checksum, FormatError,
              "{}: field 'body_checksum': {:#018x} stored, {:#018x} computed (file corrupt)", path_,
              h_->body_checksum, sum);
}

std::string_view CompiledLm::word(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  const uint64_t text = h_->sections[kLmVocabBytes].bytes;
  const uint64_t b = std::min(vocab_offs_[id], text), e = std::min(vocab_offs_[id + 1], text);
  return b < e ? std::string_view(vocab_bytes_ + b, e - b) : std::string_view();
}

int32_t CompiledLm::word_id(std::string_view w) const {
  uint64_t s = fnv1a64(w.data(), w.size()) & hash_mask_;
  for (uint64_t probes = 0; probes <= hash_mask_; ++probes, s = (s + 1) & hash_mask_) {
    const uint32_t slot = vocab_hash_[s];
    if (slot == 0) break;
    const int32_t id = static_cast<int32_t>(slot - 1);
    if (word(id) == w) return id;
  }
  return unk_id();
}

int64_t CompiledLm::child(int n, int64_t i, int32_t w) const {
  const Level& l = levels_[n - 1];
  const Level& next = levels_[n];
  const int64_t b = std::min<int64_t>(l.child[i], next.entries);
  const int64_t e = std::min<int64_t>(l.child[i + 1], next.entries);
  if (b >= e) return -1;
  const uint32_t* first = next.word + b;
  const uint32_t* last = next.word + e;
  const uint32_t* it = std::lower_bound(first, last, static_cast<uint32_t>(w));
  return it != last && *it == static_cast<uint32_t>(w) ? it - next.word : -1;
}

double CompiledLm::log10_prob(const int32_t* context, int n_ctx, int32_t word) const {
  if (word < 0 || word >= vocab_size()) return ArpaLm::kUnknownLog10;
  const int max_ctx = order() - 1;
  if (n_ctx > max_ctx) {
    context += n_ctx - max_ctx;
    n_ctx = max_ctx;
  }
  const int32_t v = vocab_size();
  // Longest listed n-gram ending in `word`: walk word, h_k, h_{k-1}, ...
  float p = levels_[0].prob[word];
  int m = 0;  // its context length
  int64_t node = word;
  for (int j = 1; j <= n_ctx; ++j) {
    const int32_t h = context[n_ctx - j];
    if (h < 0 || h >= v) break;
    node = child(j, node, h);
    if (node < 0) break;
    const float q = levels_[j].prob[node];
    if (!std::isnan(q)) {
      p = q;
      m = j;
    }
  }
  if (m == n_ctx) return p;
  // Back-offs of the contexts of lengths m+1..k: walk h_k, h_{k-1}, ... (levels 1..k).
  float bow[kLmMaxOrder] = {};
  int listed = 0;  // bow[j-1] holds the context of length j for j <= listed
  const int32_t last = context[n_ctx - 1];
  if (last >= 0 && last < v) {
    node = last;
    bow[0] = levels_[0].bow[node];
    listed = 1;
    for (int j = 2; j <= n_ctx; ++j) {
      const int32_t h = context[n_ctx - j];
      if (h < 0 || h >= v) break;
      node = child(j - 1, node, h);
      if (node < 0) break;
      bow[j - 1] = levels_[j - 1].bow[node];
      listed = j;
    }
  }
  double bow_sum = 0;  // as ArpaLm: longest context first, in double
  for (int k = std::min(n_ctx, listed); k > m; --k) bow_sum += bow[k - 1];
  return bow_sum + p;
}

double CompiledLm::log_prob(const int32_t* context, int n_ctx, int32_t word) const {
  return kLn10 * log10_prob(context, n_ctx, word);
}

const WordTrie* CompiledLm::vocabulary_trie() const {
  std::call_once(vocab_once_, [&] {
    vocab_trie_ = make_vocabulary_trie(*this, vocab_size(), [&](int32_t id) {
      const std::string_view w = word(id);
      DS2_REQUIRE(!w.empty(), FormatError,
                  "{}: field 'vocab_offs': word {} is empty (file corrupt? ds2 lm info --verify)",
                  path_, id);
      return w;
    });
  });
  return &vocab_trie_;
}

void CompiledLm::set_lexicon(const std::vector<std::string>& words, const std::string& source) {
  lexicon_trie_ = make_lexicon_trie(*this, words);
  lexicon_ = true;
  lexicon_source_ = source;
}

}  // namespace ds2::decode
