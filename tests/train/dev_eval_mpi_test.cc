// evaluate_dev (train/dev_eval.h) as training calls it, at np 1, 2, 3, with 11 utterances in 3
// shards and global batches of 4 (slices of uneven size, some empty at np 3), under AveragedBn
// (train/bn_average.h) with batch-norm statistics that differ on every rank.
// Oracle, computed on each rank alone without communication: a second network with the same
// parameters and the rank-average statistics computed here in double, every utterance run ALONE
// (batch of one), greedy decoding by a plain argmax loop and the character error rate by a plain
// Levenshtein distance over code points with spaces dropped (what sclite -c counts).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "tests/testutil.h"
#include "tests/train/dataset_fixture.h"
#include "train/bn_average.h"
#include "train/dev_eval.h"
#include "train/loader.h"

namespace ds2::train {
namespace {

const std::string kAlphabet = "<blank>\n<space>\na\nb\nc\n";

model::ModelConfig dev_config() {
  model::ModelConfig c;
  c.n_bins = fixture::kFixtureBins;
  c.alphabet_size = 5;
  c.conv_filters = "2";
  c.conv_kernel = "3x3";
  c.conv_stride = "1x1";
  c.rnn_type = "gru";
  c.rnn_layers = 1;
  c.rnn_hidden = 6;
  c.bidirectional = true;
  c.rnn_batch_norm = true;
  c.num_threads = 1;
  c.seed = 3;
  c.validate();
  return c;
}

// The value rank r gives buffer i: means shifted per rank, variances scaled per rank.
float rank_buffer(const model::ParamInfo& info, size_t j, int r) {
  const bool var = info.name.find("var") != std::string::npos;
  return var ? 0.5f + 0.3f * r + 0.01f * (j % 5) : 0.2f * r - 0.03f * (j % 7);
}

void set_rank_buffers(model::Network& net, int r) {
  for (const auto& info : net.buffers_info())
    for (size_t j = 0; j < info.size; ++j) net.buffers()[info.offset + j] = rank_buffer(info, j, r);
}

size_t levenshtein(const std::u32string& a, const std::u32string& b) {
  std::vector<size_t> d(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = d[0];
    d[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return d[b.size()];
}

std::u32string chars_without_spaces(const std::string& s) {  // ASCII test alphabet
  std::u32string out;
  for (char c : s)
    if (c != ' ') out.push_back(static_cast<char32_t>(c));
  return out;
}

TEST(DevEval, SlicedOverRanksWithAveragedBatchNormEqualsOneUtteranceAtATime) {
  Comm world;
  // Rank 0 writes the dataset; everyone reads it.
  std::unique_ptr<ds2::test::TempDir> tmp;
  std::string dir;
  if (world.root()) {
    tmp = std::make_unique<ds2::test::TempDir>("ds2-dev-eval");
    dir = tmp->path();
  }
  world.bcast_string(dir);
  const pipeline::Alphabet alphabet = pipeline::Alphabet::parse(kAlphabet, "test alphabet");
  std::vector<fixture::Utt> utts(11);
  std::mt19937 g(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (size_t i = 0; i < utts.size(); ++i) {
    auto& u = utts[i];
    u.id = "u" + std::to_string(i);
    const int frames = 4 + static_cast<int>(g() % 20);
    for (int k = 0; k < frames * fixture::kFixtureBins; ++k) u.x.push_back(nd(g));
    const int nl = 1 + static_cast<int>(g() % 4);
    for (int k = 0; k < nl; ++k) u.labels.push_back(1 + static_cast<int32_t>(g() % 4));
    u.text = alphabet.decode(u.labels.data(), u.labels.size());
  }
  if (world.root())
    fixture::write_dataset(dir, utts, {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2},
                           std::vector<double>(fixture::kFixtureBins, 0.0),
                           std::vector<double>(fixture::kFixtureBins, 1.0), kAlphabet);
  world.barrier();
  const pipeline::DatasetIndex index = pipeline::DatasetIndex::read(dir + "/index.h5");
  LoaderOptions lo;
  lo.transcripts = true;
  const BatchLoader loader(dir, index, lo);
  const model::ModelConfig cfg = dev_config();

  // ---- what training does ----
  model::Network net(cfg, false);
  set_rank_buffers(net, world.rank());
  DevResult got;
  {
    const BnState bn = gather_bn(world, net);
    AveragedBn avg(net, bn);
    got = evaluate_dev(world, net, loader, index, alphabet, 4);
  }
  for (const auto& info : net.buffers_info())  // the rank's own statistics are back
    for (size_t j = 0; j < info.size; ++j)
      ASSERT_EQ(net.buffers()[info.offset + j], rank_buffer(info, j, world.rank())) << info.name;

  // ---- the oracle ----
  model::Network ref(cfg, false);
  for (const auto& info : ref.buffers_info())
    for (size_t j = 0; j < info.size; ++j) {
      double sum = 0;
      for (int r = 0; r < world.size(); ++r) sum += rank_buffer(info, j, r);
      ref.buffers()[info.offset + j] = static_cast<float>(sum / world.size());
    }
  double loss = 0, edits = 0, chars = 0;
  int64_t finite = 0;
  const int c = cfg.alphabet_size;
  for (size_t i = 0; i < utts.size(); ++i) {
    const Batch b = loader.load({static_cast<int64_t>(i)});
    const model::LossResult r =
        ref.loss(b.features.data(), b.lengths.data(), 1, b.t, b.labels.data(),
                 b.label_lengths.data(), model::Mode::kInfer);
    if (std::isfinite(r.costs[0])) loss += r.costs[0], ++finite;
    const float* p = ref.probabilities();
    std::vector<int32_t> labels;
    int prev = -1;
    for (int t = 0; t < ref.out_lengths()[0]; ++t) {
      const int k = static_cast<int>(std::max_element(p + t * c, p + (t + 1) * c) - (p + t * c));
      if (k != prev && k != 0) labels.push_back(k);
      prev = k;
    }
    const std::string hyp = alphabet.decode(labels.data(), labels.size());
    edits += static_cast<double>(
        levenshtein(chars_without_spaces(utts[i].text), chars_without_spaces(hyp)));
    chars += static_cast<double>(chars_without_spaces(utts[i].text).size());
  }
  EXPECT_EQ(got.utts, static_cast<int64_t>(utts.size()));
  EXPECT_EQ(got.finite, finite);
  EXPECT_NEAR(got.loss_sum, loss, 1e-5 * std::abs(loss));
  EXPECT_EQ(got.edits, edits);
  EXPECT_EQ(got.ref_chars, chars);
  EXPECT_GT(edits, 0);  // a random network: the CER is not trivially 0
  world.barrier();      // rank 0 removes the folder only after everyone is done
}

}  // namespace
}  // namespace ds2::train
