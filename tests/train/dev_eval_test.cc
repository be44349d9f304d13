// Dev-evaluation helpers: edit distance against an exhaustive recursive definition on all short
// strings over a 3-letter alphabet, code points of multi-byte UTF-8, and greedy CTC decoding on a
// hand-made (T, N, C) probability table.
#include "train/dev_eval.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace ds2::train {
namespace {

size_t brute_distance(const std::u32string& a, const std::u32string& b) {
  if (a.empty()) return b.size();
  if (b.empty()) return a.size();
  const std::u32string ra = a.substr(1), rb = b.substr(1);
  return std::min({brute_distance(ra, b) + 1, brute_distance(a, rb) + 1,
                   brute_distance(ra, rb) + (a[0] == b[0] ? 0 : 1)});
}

std::vector<std::u32string> all_strings(int max_len) {
  std::vector<std::u32string> out = {U""};
  for (size_t i = 0; i < out.size(); ++i)
    if (static_cast<int>(out[i].size()) < max_len)
      for (char32_t c : {U'a', U'b', U'c'}) out.push_back(out[i] + c);
  return out;
}

TEST(DevEval, EditDistanceMatchesBruteForce) {
  const auto s = all_strings(4);  // 121 strings
  for (size_t i = 0; i < s.size(); i += 3)
    for (size_t j = 0; j < s.size(); j += 2)
      ASSERT_EQ(edit_distance(s[i], s[j]), brute_distance(s[i], s[j]));
  EXPECT_EQ(edit_distance(U"kitten", U"sitting"), 3u);
}

TEST(DevEval, CodePoints) {
  EXPECT_EQ(code_points("a\xc3\xa9z"), std::u32string(U"a\u00e9z"));  // é is 2 bytes
  EXPECT_EQ(code_points("x\xffy").size(), 3u);                        // invalid byte -> U+FFFD
}

TEST(DevEval, GreedyCollapsesRepeatsAndDropsBlanks) {
  // T = 6, N = 2, C = 3; utterance 1 argmax path: 1 1 0 1 2 2 -> "1 1 2"; utterance 0: 2 0 0 ...
  const int t = 6, n = 2, c = 3;
  const int path1[t] = {1, 1, 0, 1, 2, 2};
  const int path0[t] = {2, 0, 0, 2, 2, 1};
  std::vector<float> p(t * n * c, 0.1f);
  for (int f = 0; f < t; ++f) {
    p[(f * n + 0) * c + path0[f]] = 0.8f;
    p[(f * n + 1) * c + path1[f]] = 0.8f;
  }
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 1, t), (std::vector<int32_t>{1, 1, 2}));
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 0, t), (std::vector<int32_t>{2, 2, 1}));
  EXPECT_EQ(greedy_decode(p.data(), t, n, c, 0, 3), (std::vector<int32_t>{2}));  // length cut
}

}  // namespace
}  // namespace ds2::train
