// A small open-addressing hash map uint64 -> int32 for the decoder's hot loops: linear probing,
// power-of-two capacity (load <= 1/2), and O(1) clear() through a generation stamp per slot, so
// a per-frame table is reset without touching its memory. Not a general container: no erase.
#pragma once

#include <cstdint>
#include <vector>

namespace ds2::decode {

class FlatMap {
 public:
  // Value of `key`, or -1 when absent.
  int32_t find(uint64_t key) const {
    if (slots_.empty()) return -1;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.gen != gen_) return -1;
      if (s.key == key) return s.value;
    }
  }
  // Pointer to the value of `key`, inserting `value` first when absent (*inserted says which).
  // The pointer is valid until the next insertion.
  int32_t* find_or_insert(uint64_t key, int32_t value, bool* inserted) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.gen != gen_) {
        s = {key, value, gen_};
        ++size_;
        *inserted = true;
        return &s.value;
      }
      if (s.key == key) {
        *inserted = false;
        return &s.value;
      }
    }
  }
  void clear() {
    size_ = 0;
    if (++gen_ == 0) {  // wrapped: really clear once every 2^32 calls
      for (Slot& s : slots_) s.gen = 0;
      gen_ = 1;
    }
  }
  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key;
    int32_t value;
    uint32_t gen;  // the slot is live when gen == gen_
  };
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const uint32_t old_gen = gen_;
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{0, 0, 0});
    mask_ = slots_.size() - 1;
    gen_ = 1;
    size_ = 0;
    bool inserted = false;
    for (const Slot& s : old)
      if (s.gen == old_gen) find_or_insert(s.key, s.value, &inserted);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  uint32_t gen_ = 1;
};

}  // namespace ds2::decode
