// A synthetic n-gram LM for the decoding benchmarks (bench_decode, bench_decode_chars): Zipf
// sentences over a vocabulary of tokens (words or characters) and a 3-gram ARPA with absolute
// discounting 0.5 written from their counts (back-off weights not normalized: the model is for
// timing the lookups only).
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ds2::bench {

// Zipf-distributed word index sampler.
struct Zipf {
  std::discrete_distribution<int> d;
  explicit Zipf(int n) {
    std::vector<double> w(n);
    for (int i = 0; i < n; ++i) w[i] = 1.0 / (i + 1);
    d = std::discrete_distribution<int>(w.begin(), w.end());
  }
};

// Writes a 3-gram ARPA from `sentences` sentences; see the file comment.
inline void write_lm(const std::string& path, const std::vector<std::string>& vocab, int sentences,
                     std::mt19937& rng) {
  Zipf z(static_cast<int>(vocab.size()));
  std::map<std::vector<int>, int64_t> c1, c2, c3;
  const int bos = -1, eos = -2;
  for (int s = 0; s < sentences; ++s) {
    std::vector<int> w = {bos};
    const int len = 3 + static_cast<int>(rng() % 12);
    for (int i = 0; i < len; ++i) w.push_back(z.d(rng));
    w.push_back(eos);
    for (size_t i = 0; i < w.size(); ++i) {
      c1[{w[i]}]++;
      if (i >= 1) c2[{w[i - 1], w[i]}]++;
      if (i >= 2) c3[{w[i - 2], w[i - 1], w[i]}]++;
    }
  }
  auto name = [&](int id) {
    return id == bos ? std::string("<s>") : id == eos ? "</s>" : vocab[id];
  };
  auto key = [&](const std::vector<int>& k) {
    std::string s;
    for (int id : k) s += (s.empty() ? "" : " ") + name(id);
    return s;
  };
  // Context totals and types for discounting.
  std::map<std::vector<int>, std::pair<int64_t, int64_t>> h2, h1;  // (count, types)
  for (auto& [k, n] : c2) h1[{k[0]}].first += n, h1[{k[0]}].second++;
  for (auto& [k, n] : c3) h2[{k[0], k[1]}].first += n, h2[{k[0], k[1]}].second++;
  int64_t total = 0;
  for (auto& [k, n] : c1) total += n;
  const double d = 0.5;
  std::ofstream out(path);
  out << "\\data\\\nngram 1=" << c1.size() + 1 << "\nngram 2=" << c2.size()
      << "\nngram 3=" << c3.size() << "\n\n\\1-grams:\n";
  out << "-5\t<unk>\t0\n";
  auto bow = [&](auto& hmap, const std::vector<int>& h) {
    auto it = hmap.find(h);
    if (it == hmap.end()) return 0.0;
    return std::log10(d * it->second.second / it->second.first);
  };
  for (auto& [k, n] : c1)
    out << std::log10(static_cast<double>(n) / total) << "\t" << key(k) << "\t" << bow(h1, k)
        << "\n";
  out << "\n\\2-grams:\n";
  for (auto& [k, n] : c2)
    out << std::log10((n - d) / h1[{k[0]}].first) << "\t" << key(k) << "\t" << bow(h2, k) << "\n";
  out << "\n\\3-grams:\n";
  for (auto& [k, n] : c3)
    out << std::log10((n - d) / h2[{k[0], k[1]}].first) << "\t" << key(k) << "\n";
  out << "\n\\end\\\n";
}

}  // namespace ds2::bench
