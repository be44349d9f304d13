// compile_arpa_lm: ARPA text -> the "ds2-lm" binary trie of decode/compiled_lm.h.
//
// 1. Read with the one ARPA parser (decode/arpa_reader.h), so syntax errors are the same as
//    ArpaLm's. Order 1 goes to arrays indexed by word id; each n-gram of order n >= 2 becomes a
//    key: its reversed word tuple packed into 128 bits, w_n in the highest bits, w_1 in the lowest
//    (b = bits of the largest word id per word; order x b <= 128), so sorting keys sorts the
//    level by (parent, word) and key >> b is the parent's key.
// 2. From the highest order down: sort the level, refuse a duplicate, and add a blank node to
//    the level below for every parent key that is not listed there (so the level below needs a
//    sort-merge before it is processed in turn). Children pointers follow from one merge pass of
//    two sorted levels.
// 3. Write the sections to a temporary file (checksum over the body as it goes), then the header,
//    and rename. Memory: 24 bytes per n-gram plus the vocabulary (e.g. 2.4 GB for 100 M).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/timer.h"
#include "decode/arpa_reader.h"
#include "decode/compiled_lm.h"

namespace ds2::decode {

namespace {

__extension__ typedef unsigned __int128 u128;

struct Entry {  // 24 bytes: the key as two halves keeps 8-byte alignment
  uint64_t hi, lo;
  float prob, bow;
  u128 key() const { return (static_cast<u128>(hi) << 64) | lo; }
  void set(u128 k) {
    hi = static_cast<uint64_t>(k >> 64);
    lo = static_cast<uint64_t>(k);
  }
  bool operator<(const Entry& o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
  bool same_key(const Entry& o) const { return hi == o.hi && lo == o.lo; }
};

const float kBlank = std::numeric_limits<float>::quiet_NaN();

// Appends bytes to the temporary file with the body checksum of lm_body_checksum computed on the
// fly (the body is fed in whole 8-byte words; pad() keeps sections 64-byte aligned).
class BodyWriter {
 public:
  BodyWriter(std::ofstream& out, const std::string& path) : out_(out), path_(path) {}
  void write(const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    out_.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    DS2_REQUIRE(out_, IoError, "{}: write failed{}", path_, disk_full_note(path_));
    pos_ += n;
    while (n > 0) {
      const size_t k = std::min(n, 8 - fill_);
      std::memcpy(word_ + fill_, p, k);
      fill_ += k;
      p += k;
      n -= k;
      if (fill_ == 8) {
        uint64_t w;
        std::memcpy(&w, word_, 8);
        h_ = (h_ ^ w) * 0x100000001b3ULL;
        fill_ = 0;
      }
    }
  }
  void pad() {
    static const char zeros[64] = {};
    if (pos_ % 64) write(zeros, 64 - pos_ % 64);
  }
  uint64_t pos() const { return pos_; }
  uint64_t checksum() const {  // all sections are padded, so no tail is pending at the end
    return h_;
  }
  void seek_body(uint64_t start) { pos_ = start; }

 private:
  std::ofstream& out_;
  const std::string& path_;
  uint64_t pos_ = 0;
  uint8_t word_[8] = {};
  size_t fill_ = 0;
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

LmCompileStats compile_arpa_lm(const std::string& arpa, const std::string& out,
                               const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& m) {
    if (progress) progress(m);
  };
  LmCompileStats st;
  Timer timer;
  std::ifstream in(arpa);
  DS2_REQUIRE(in, IoError, "{}: cannot open ARPA file", arpa);

  // ---- 1. read
  ArpaVocab vocab;
  std::vector<int64_t> counts;
  std::vector<float> uni_prob, uni_bow;
  std::vector<std::vector<Entry>> level;  // level[n-1]: order n >= 2
  int bits = 0;
  int64_t total = 0;
  Timer since_msg;
  ArpaHandler h;
  h.on_counts = [&](const std::vector<int64_t>& c) {
    counts = c;
    DS2_REQUIRE(c.size() <= static_cast<size_t>(kLmMaxOrder), FormatError,
                "{}: order {} (the compiled form holds at most {})", arpa, c.size(), kLmMaxOrder);
    for (int64_t x : c) total += x;
    level.resize(c.size());
    // The header's counts are claims: reserve at most 16 M entries up front.
    uni_prob.reserve(std::min<int64_t>(c[0], 1 << 24));
    uni_bow.reserve(std::min<int64_t>(c[0], 1 << 24));
    for (size_t n = 2; n <= c.size(); ++n)
      level[n - 1].reserve(std::min<int64_t>(c[n - 1], 1 << 24));
  };
  h.on_ngram = [&](int n, const int32_t* ids, float prob, float bow) {
    if (n == 1) {
      uni_prob.push_back(prob);
      uni_bow.push_back(bow);
      return true;
    }
    if (bits == 0) {  // the vocabulary is complete once the first 2-gram comes
      const uint64_t v = vocab.words.size();
      bits = 1;
      while ((uint64_t{1} << bits) < v) ++bits;
      DS2_REQUIRE(bits * static_cast<int>(counts.size()) <= 128, FormatError,
                  "{}: order {} over {} words needs {} key bits; the compiler packs at most 128",
                  arpa, counts.size(), v, bits * counts.size());
    }
    u128 key = 0;
    for (int i = n - 1; i >= 0; --i) key = (key << bits) | static_cast<uint32_t>(ids[i]);
    Entry e{};
    e.set(key);
    e.prob = prob;
    e.bow = bow;
    level[n - 1].push_back(e);
    return true;
  };
  h.on_progress = [&](int64_t done) {
    if (since_msg.seconds() < 5) return;
    since_msg.reset();
    say(fmt::format(
        "{}: read {} of {} n-grams ({:.0f}%), {:.0f} s", arpa, done, total,
        100.0 * static_cast<double>(done) / static_cast<double>(std::max<int64_t>(total, 1)),
        timer.seconds()));
  };
  read_arpa(in, arpa, &vocab, h);
  in.close();
  st.read_s = timer.seconds();
  const int order = static_cast<int>(counts.size());
  const int64_t v = static_cast<int64_t>(vocab.words.size());
  const u128 mask = (static_cast<u128>(1) << bits) - 1;
  auto words_of = [&](const Entry& e, int n) {  // for the duplicate error
    std::string s;
    u128 k = e.key();
    for (int i = 0; i < n; ++i, k >>= bits)
      s += (i ? " " : "") + vocab.words[static_cast<size_t>(k & mask)];
    return s;
  };

  // ---- 2. sort, blanks, children
  timer.reset();
  std::vector<bool> sorted(order + 1, false);
  auto sort_level = [&](int n) {
    std::vector<Entry>& l = level[n - 1];
    if (!sorted[n]) std::sort(l.begin(), l.end());
    sorted[n] = true;
    for (size_t i = 1; i < l.size(); ++i)
      if (l[i].same_key(l[i - 1]))
        DS2_THROW(FormatError, "{}: duplicate {}-gram '{}'", arpa, n, words_of(l[i], n));
  };
  for (int n = order; n >= 3; --n) {
    if (n == order) {
      say(fmt::format("sorting {} {}-grams", level[n - 1].size(), n));
      sort_level(n);
    }
    std::vector<Entry>& parents = level[n - 2];
    say(fmt::format("sorting {} {}-grams", parents.size(), n - 1));
    sort_level(n - 1);
    std::vector<Entry> blanks;
    size_t j = 0;
    bool have_prev = false;
    u128 prev = 0;
    for (const Entry& e : level[n - 1]) {
      const u128 p = e.key() >> bits;
      if (have_prev && p == prev) continue;
      have_prev = true;
      prev = p;
      while (j < parents.size() && parents[j].key() < p) ++j;
      if (j < parents.size() && parents[j].key() == p) continue;
      Entry b{};
      b.set(p);
      b.prob = kBlank;
      b.bow = 0;
      blanks.push_back(b);
    }
    if (!blanks.empty()) {
      const size_t old = parents.size();
      parents.insert(parents.end(), blanks.begin(), blanks.end());
      std::inplace_merge(parents.begin(), parents.begin() + static_cast<std::ptrdiff_t>(old),
                         parents.end());
    }
  }
  if (order == 2) sort_level(2);
  st.listed.assign(counts.begin(), counts.end());
  st.entries.assign(order, 0);
  st.entries[0] = v;
  for (int n = 2; n <= order; ++n) {
    st.entries[n - 1] = static_cast<int64_t>(level[n - 1].size());
    DS2_REQUIRE(level[n - 1].size() < (uint64_t{1} << 32), FormatError,
                "{}: {} nodes of order {}: the compiled form holds fewer than 2^32 per order", arpa,
                level[n - 1].size(), n);
  }
  st.build_s = timer.seconds();

  // ---- 3. write
  timer.reset();
  const std::string tmp = temp_path_for(out);
  try {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    DS2_REQUIRE(f, IoError, "{}: cannot create{}", tmp, disk_full_note(tmp));
    LmFileHeader hd{};
    std::memcpy(hd.magic, kLmMagic, 8);
    hd.version = kLmVersion;
    hd.header_bytes = sizeof(LmFileHeader);
    hd.order = static_cast<uint32_t>(order);
    hd.vocab_size = static_cast<uint32_t>(v);
    auto find = [&](const char* w) {
      auto it = vocab.ids.find(w);
      return it == vocab.ids.end() ? LanguageModel::kNoWord : it->second;
    };
    hd.bos = find("<s>");
    hd.eos = find("</s>");
    hd.unk = find("<unk>");
    for (int n = 1; n <= order; ++n) {
      hd.listed[n - 1] = static_cast<uint64_t>(counts[n - 1]);
      hd.entries[n - 1] = static_cast<uint64_t>(st.entries[n - 1]);
    }
    f.write(reinterpret_cast<const char*>(&hd), sizeof(hd));  // placeholder, rewritten below
    BodyWriter w(f, tmp);
    w.seek_body(sizeof(hd));
    w.pad();
    auto begin = [&](int s) { hd.sections[s].offset = w.pos(); };
    auto end = [&](int s) {
      hd.sections[s].bytes = w.pos() - hd.sections[s].offset;
      w.pad();
    };
    // Vocabulary.
    begin(kLmVocabOffsets);
    uint64_t off = 0;
    w.write(&off, 8);
    for (const std::string& s : vocab.words) {
      off += s.size();
      w.write(&off, 8);
    }
    end(kLmVocabOffsets);
    begin(kLmVocabBytes);
    for (const std::string& s : vocab.words) w.write(s.data(), s.size());
    end(kLmVocabBytes);
    uint64_t slots = 2;
    while (slots < 2 * static_cast<uint64_t>(v)) slots *= 2;
    std::vector<uint32_t> table(slots, 0);
    for (int64_t id = 0; id < v; ++id) {
      const std::string& s = vocab.words[id];
      uint64_t k = fnv1a64(s.data(), s.size()) & (slots - 1);
      while (table[k] != 0) k = (k + 1) & (slots - 1);
      table[k] = static_cast<uint32_t>(id + 1);
    }
    begin(kLmVocabHash);
    w.write(table.data(), table.size() * 4);
    end(kLmVocabHash);
    std::vector<uint32_t>().swap(table);
    // Levels, written in chunks.
    std::vector<uint32_t> buf32;
    std::vector<float> buff;
    constexpr size_t kChunk = 1 << 16;
    for (int n = 1; n <= order; ++n) {
      say(fmt::format("writing order {} ({} nodes)", n, st.entries[n - 1]));
      const std::vector<Entry>* l = n >= 2 ? &level[n - 1] : nullptr;
      const size_t e = static_cast<size_t>(st.entries[n - 1]);
      auto put_floats = [&](int s, auto get) {
        begin(s);
        for (size_t i = 0; i < e; i += kChunk) {
          buff.clear();
          for (size_t k = i; k < std::min(e, i + kChunk); ++k) buff.push_back(get(k));
          w.write(buff.data(), buff.size() * 4);
        }
        end(s);
      };
      if (n >= 2) {
        begin(lm_section(n, kLmWord));
        for (size_t i = 0; i < e; i += kChunk) {
          buf32.clear();
          for (size_t k = i; k < std::min(e, i + kChunk); ++k)
            buf32.push_back(static_cast<uint32_t>((*l)[k].key() & mask));
          w.write(buf32.data(), buf32.size() * 4);
        }
        end(lm_section(n, kLmWord));
      }
      put_floats(lm_section(n, kLmProb), [&](size_t k) { return l ? (*l)[k].prob : uni_prob[k]; });
      if (n == order) break;
      put_floats(lm_section(n, kLmBow), [&](size_t k) { return l ? (*l)[k].bow : uni_bow[k]; });
      // Children: level n+1 is sorted by key, its parent key is key >> bits.
      const std::vector<Entry>& next = level[n];
      begin(lm_section(n, kLmChild));
      size_t j = 0;
      buf32.clear();
      for (size_t i = 0; i < e; ++i) {
        const u128 self = l ? (*l)[i].key() : static_cast<u128>(i);
        while (j < next.size() && (next[j].key() >> bits) < self) ++j;
        buf32.push_back(static_cast<uint32_t>(j));
        if (buf32.size() == kChunk) {
          w.write(buf32.data(), buf32.size() * 4);
          buf32.clear();
        }
      }
      buf32.push_back(static_cast<uint32_t>(next.size()));
      w.write(buf32.data(), buf32.size() * 4);
      end(lm_section(n, kLmChild));
      // A level is written once its children are: free it.
      if (l) std::vector<Entry>().swap(level[n - 1]);
    }
    hd.file_bytes = w.pos();
    hd.body_checksum = w.checksum();
    hd.header_checksum = 0;
    hd.header_checksum = fnv1a64(&hd, sizeof(hd));
    f.seekp(0);
    f.write(reinterpret_cast<const char*>(&hd), sizeof(hd));
    f.close();
    DS2_REQUIRE(f, IoError, "{}: write failed{}", tmp, disk_full_note(tmp));
    commit_file(tmp, out);
    st.file_bytes = hd.file_bytes;
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  st.write_s = timer.seconds();
  return st;
}

}  // namespace ds2::decode
