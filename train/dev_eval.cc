// Dev-set loss and greedy CER, distributed over ranks (see dev_eval.h).
#include "train/dev_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "decode/ctc_decode.h"
#include "decode/wer.h"
#include "train/schedule.h"

namespace ds2::train {

namespace {
constexpr decode::Unit kChar = decode::Unit::kChar;
}  // namespace

DevResult evaluate_dev(const Comm& comm, model::Network& net, const BatchLoader& loader,
                       const pipeline::DatasetIndex& index, const pipeline::Alphabet& alphabet,
                       int batch_size) {
  std::vector<int64_t> order(index.utts.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return index.utts[a].frames < index.utts[b].frames;
  });
  double acc[5] = {0, 0, 0, 0, 0};  // utts, finite, loss_sum, edits, ref_chars
  std::vector<float> host_probs;    // the softmax downloaded from a device backend
  for (size_t begin = 0; begin < order.size(); begin += batch_size) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    std::vector<int64_t> global(order.begin() + begin, order.begin() + end);
    const Batch b = loader.load(Schedule::slice(global, comm.rank(), comm.size()));
    if (b.n == 0) continue;
    DS2_REQUIRE(b.transcripts.size() == static_cast<size_t>(b.n), ConfigError,
                "evaluate_dev: the dev loader must be made with LoaderOptions::transcripts");
    model::LossResult r = net.loss(b.features.data(), b.lengths.data(), b.n, b.t, b.labels.data(),
                                   b.label_lengths.data(), model::Mode::kInfer);
    // probabilities() is in the backend's memory (model/backend.h).
    const int c = net.config().alphabet_size;
    const float* probs = net.backend().host_view(
        net.probabilities(), static_cast<size_t>(net.out_time()) * b.n * c, &host_probs);
    for (int n = 0; n < b.n; ++n) {
      // Utterance n of (T, N, C): rows c * N apart, its first out_lengths()[n] frames.
      const auto path = decode::greedy_decode(probs + static_cast<size_t>(n) * c,
                                              std::min(net.out_time(), net.out_lengths()[n]), c,
                                              b.n * c, alphabet.blank());
      const std::string hyp = alphabet.decode(path.data(), path.size());
      const decode::ErrorCounts e = decode::align_counts(decode::tokenize(b.transcripts[n], kChar),
                                                         decode::tokenize(hyp, kChar));
      acc[3] += static_cast<double>(e.errors());
      acc[4] += static_cast<double>(e.ref);
    }
    acc[0] += b.n;
    acc[1] += b.n - r.num_nonfinite;
    acc[2] += r.total;
  }
  comm.allreduce(acc, 5);
  DevResult d;
  d.utts = static_cast<int64_t>(acc[0]);
  d.finite = static_cast<int64_t>(acc[1]);
  d.loss_sum = acc[2];
  d.edits = acc[3];
  d.ref_chars = acc[4];
  return d;
}

}  // namespace ds2::train
