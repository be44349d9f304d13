// Batch loader: a producer thread fills a bounded queue with assembled batches, in slice
// order.
//
// The thread loads slice k (reading each utterance's features and labels, in (shard, row)
// order, under h5::mutex()), verifies, normalizes and pads it without the lock, then waits until
// the queue holds fewer than `prefetch` batches and appends it. next() pops from the front. The
// first exception of the thread is stored and rethrown by next() once the batches before it are
// consumed. stop() sets a flag checked before each batch and while waiting for room, then joins.
#include "train/loader.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/h5.h"
#include "core/log.h"
#include "pipeline/normalize.h"
#include "pipeline/shard.h"

namespace ds2::train {

struct BatchLoader::OpenShard {
  std::unique_ptr<pipeline::ShardReader> reader;
  std::vector<std::string> transcripts;  // only with LoaderOptions::transcripts
};

struct BatchLoader::Queue {
  std::mutex m;
  std::condition_variable cv;  // signalled on push, pop, done and stop
  std::deque<Batch> q;
  bool done = false, stop = false;
  std::exception_ptr error;
};

void LoaderOptions::add_to(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("normalize", po::value<std::string>(&normalize)->default_value(normalize),
       "feature normalization: global (index mean/std per bin), utterance, none")
      ("prefetch", po::value<int>(&prefetch)->default_value(prefetch),
       "batches read ahead by the loader thread")
      ("max-open-shards", po::value<int>(&max_open_shards)->default_value(max_open_shards),
       "shard files kept open by the loader");
  // clang-format on
}

BatchLoader::BatchLoader(const std::string& data_dir, const pipeline::DatasetIndex& index,
                         const LoaderOptions& o)
    : dir_(data_dir), index_(index), opt_(o) {
  pipeline::require_normalize_mode(o.normalize);
  DS2_REQUIRE(o.prefetch >= 1, ConfigError, "option 'prefetch': {} (must be >= 1)", o.prefetch);
  DS2_REQUIRE(o.max_open_shards >= 1, ConfigError, "option 'max-open-shards': {} (must be >= 1)",
              o.max_open_shards);
  open_ = Lru<OpenShard>(static_cast<size_t>(o.max_open_shards));
  const size_t nb = static_cast<size_t>(index.meta.n_bins);
  if (o.normalize == "global") {
    DS2_REQUIRE(index.mean.size() == nb && index.std.size() == nb, FormatError,
                "{}/index.h5: datasets '/stats_mean', '/stats_std': {} and {} bins, expected {}",
                data_dir, index.mean.size(), index.std.size(), nb);
    for (size_t b = 0; b < nb; ++b) {
      DS2_REQUIRE(index.std[b] > 0, FormatError, "{}/index.h5: dataset '/stats_std': bin {} is {}",
                  data_dir, b, index.std[b]);
    }
  }
  norm_ = pipeline::FeatureNormalizer(o.normalize, index.mean, index.std);
  // Offsets within each shard from the index: its utterances are listed shard by shard, row by
  // row (index.h), so an utterance starts where the previous row of its shard ended.
  const size_t ns = index.shards.size();
  shard_utts_.assign(ns, 0);
  checked_.assign(ns, 0);
  shard_frames_.assign(ns, 0);
  shard_labels_.assign(ns, 0);
  frame0_.resize(index.utts.size());
  label0_.resize(index.utts.size());
  for (size_t u = 0; u < index.utts.size(); ++u) {
    const pipeline::IndexUtt& iu = index.utts[u];
    DS2_REQUIRE(iu.shard >= 0 && static_cast<size_t>(iu.shard) < ns, FormatError,
                "{}/index.h5: dataset '/utt_shard': utterance {} names shard {} of {}", data_dir, u,
                iu.shard, ns);
    DS2_REQUIRE(iu.row == shard_utts_[iu.shard], FormatError,
                "{}/index.h5: dataset '/utt_row': utterance {} is row {} of shard {}, expected "
                "row {} (rows must be listed in order)",
                data_dir, u, iu.row, iu.shard, shard_utts_[iu.shard]);
    DS2_REQUIRE(shard_frames_[iu.shard] <= UINT32_MAX && shard_labels_[iu.shard] <= UINT32_MAX,
                FormatError,
                "{}/index.h5: shard {} holds over 2^32 frames or labels (remake it "
                "with a smaller --shard-mb)",
                data_dir, iu.shard);
    frame0_[u] = static_cast<uint32_t>(shard_frames_[iu.shard]);
    label0_[u] = static_cast<uint32_t>(shard_labels_[iu.shard]);
    ++shard_utts_[iu.shard];
    shard_frames_[iu.shard] += iu.frames;
    shard_labels_[iu.shard] += iu.label_length;
  }
  hbool_t safe = 0;
  if (H5is_library_threadsafe(&safe) >= 0 && !safe) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      logger("loader")->warn(
          "HDF5 library is not thread-safe: other HDF5 use in this process must hold "
          "ds2::h5::mutex() while the batch loader runs");
    });
  }
}

BatchLoader::~BatchLoader() {
  stop();
  std::lock_guard<std::mutex> lock(h5::mutex());  // ShardReaders close HDF5 handles
  open_.clear();
}

const BatchLoader::OpenShard& BatchLoader::shard(int32_t s) const {
  return open_.get(s, [&] { return open_shard(s); });
}

std::unique_ptr<BatchLoader::OpenShard> BatchLoader::open_shard(int32_t s) const {
  DS2_REQUIRE(s >= 0 && static_cast<size_t>(s) < index_.shards.size(), FormatError,
              "{}/index.h5: dataset '/utt_shard': shard {} of {}", dir_, s, index_.shards.size());
  auto sh = std::make_unique<OpenShard>();
  // The format attribute is checked at the first open only; later re-opens read less.
  const std::string path = dir_ + "/" + index_.shards[s];
  sh->reader = std::make_unique<pipeline::ShardReader>(path, false, !checked_[s]);
  // Version 1 has no per-utterance checksums: its offsets are read (once per open, legacy) so
  // that every row can be checked against the index (load()).
  if (!sh->reader->has_checksums()) sh->reader = std::make_unique<pipeline::ShardReader>(path);
  checked_[s] = 1;
  const pipeline::ShardReader& r = *sh->reader;
  DS2_REQUIRE(r.meta().n_bins == index_.meta.n_bins, FormatError,
              "{}: attribute 'n_bins': {} but the index has {}", r.path(), r.meta().n_bins,
              index_.meta.n_bins);
  DS2_REQUIRE(r.size() == shard_utts_[s] && r.total_frames() == shard_frames_[s] &&
                  r.total_labels() == shard_labels_[s],
              FormatError,
              "{}: holds {} utterances of {} frames and {} labels, but {}/index.h5 lists {} of {} "
              "frames and {} labels in it (the shard was replaced after the index was written?)",
              r.path(), r.size(), r.total_frames(), r.total_labels(), dir_, shard_utts_[s],
              shard_frames_[s], shard_labels_[s]);
  if (opt_.transcripts) sh->transcripts = r.transcripts();
  return sh;
}

// The id of utterance u for a message: from the index when it was read with ids, else from its
// shard (one string read; only on an error path).
static std::string id_of(const pipeline::DatasetIndex& index, int64_t u,
                         const pipeline::ShardReader& r) {
  const size_t i = static_cast<size_t>(u);
  return i < index.utt_ids.size() ? index.utt_ids[i] : r.utt_id(index.utts[i].row);
}

Batch BatchLoader::load(const std::vector<int64_t>& utts) const {
  Batch b;
  b.n = static_cast<int>(utts.size());
  b.f = index_.meta.n_bins;
  b.utts = utts;
  const size_t f = static_cast<size_t>(b.f);
  for (int64_t u : utts)
    DS2_REQUIRE(u >= 0 && static_cast<size_t>(u) < index_.utts.size(), ConfigError,
                "batch loader: utterance {} is outside the index ({} utterances)", u,
                index_.utts.size());
  // Read in (shard, row) order: each shard is visited once per slice, front to back.
  std::vector<size_t> order(utts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t c) {
    const auto& x = index_.utts[utts[a]];
    const auto& y = index_.utts[utts[c]];
    return x.shard != y.shard ? x.shard < y.shard : x.row < y.row;
  });
  std::vector<std::vector<float>> feats(utts.size());
  std::vector<std::vector<int32_t>> labels(utts.size());
  if (opt_.transcripts) b.transcripts.resize(utts.size());
  std::vector<uint64_t> stored(2 * utts.size(), 0);  // feature, label checksum (versions 2, 3)
  std::vector<uint8_t> verify(utts.size(), 0);  // the shard version whose checksum applies; 0: none
  for (size_t i : order) {
    const int64_t u = utts[i];
    const pipeline::IndexUtt& iu = index_.utts[u];
    std::lock_guard<std::mutex> lock(h5::mutex());
    const OpenShard& sh = shard(iu.shard);
    const pipeline::ShardReader& r = *sh.reader;
    if (!r.has_checksums())  // version 1: the row must be the one the index names
      DS2_REQUIRE(r.frames(iu.row) == iu.frames && r.label_length(iu.row) == iu.label_length,
                  FormatError, "{}: row {} is not utterance '{}' of {} frames the index names",
                  r.path(), iu.row, id_of(index_, u, r), iu.frames);
    feats[i].resize(static_cast<size_t>(iu.frames) * f);
    try {
      r.features_at(frame0_[u], iu.frames, feats[i].data());
      labels[i] = r.labels_at(label0_[u], iu.label_length);
      if (r.has_checksums()) {
        stored[2 * i] = r.feature_checksum(iu.row);
        stored[2 * i + 1] = r.label_checksum(iu.row);
        verify[i] = static_cast<uint8_t>(r.version());
      }
    } catch (const FormatError& e) {
      DS2_THROW(FormatError, "{}: utterance '{}' (row {}): unreadable: {}", r.path(),
                id_of(index_, u, r), iu.row, e.what());
    }
    if (opt_.transcripts) b.transcripts[i] = sh.transcripts[static_cast<size_t>(iu.row)];
  }
  // The checksums are computed outside h5::mutex() (~memory bandwidth per utterance).
  auto shard_path = [&](const pipeline::IndexUtt& iu) {
    return dir_ + "/" + index_.shards[iu.shard];
  };
  auto id_for_error = [&](size_t i) {
    std::lock_guard<std::mutex> lock(h5::mutex());
    return id_of(index_, utts[i], *shard(index_.utts[utts[i]].shard).reader);
  };
  for (size_t i = 0; i < utts.size(); ++i) {
    if (!verify[i]) continue;
    const pipeline::IndexUtt& iu = index_.utts[utts[i]];
    DS2_REQUIRE(pipeline::ShardReader::checksum_of(verify[i], feats[i].data(), feats[i].size()) ==
                    stored[2 * i],
                FormatError,
                "{}: utterance '{}' (row {}): features fail their checksum (corrupt shard)",
                shard_path(iu), id_for_error(i), iu.row);
    DS2_REQUIRE(pipeline::ShardReader::checksum_of(verify[i], labels[i].data(), labels[i].size()) ==
                    stored[2 * i + 1],
                FormatError,
                "{}: utterance '{}' (row {}): labels fail their checksum (corrupt shard)",
                shard_path(iu), id_for_error(i), iu.row);
  }
  for (size_t i = 0; i < utts.size(); ++i) {
    const pipeline::IndexUtt& iu = index_.utts[utts[i]];
    if (!index_.utt_ids.empty()) b.utt_ids.push_back(index_.utt_ids[utts[i]]);
    b.lengths.push_back(iu.frames);
    b.label_lengths.push_back(static_cast<int32_t>(labels[i].size()));
    b.labels.insert(b.labels.end(), labels[i].begin(), labels[i].end());
    b.t = std::max(b.t, iu.frames);
  }
  // Normalize into the padded (n, t, f) tensor; padding stays zero.
  const size_t t = static_cast<size_t>(b.t);
  b.features.assign(utts.size() * t * f, 0.0f);
  for (size_t i = 0; i < utts.size(); ++i)
    norm_.apply(feats[i].data(), static_cast<size_t>(b.lengths[i]), f,
                b.features.data() + i * t * f);
  return b;
}

void BatchLoader::run(Queue* q, std::vector<std::vector<int64_t>> slices, size_t from,
                      int64_t first_step) {
  {
    // HDF5's automatic error printing is a per-thread setting in a thread-safe build, and
    // h5::quiet_errors() only switches it off for the first thread that calls it.
    std::lock_guard<std::mutex> lock(h5::mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  try {
    for (size_t k = from; k < slices.size(); ++k) {
      {
        std::lock_guard<std::mutex> lock(q->m);
        if (q->stop) break;
      }
      Batch b = load(slices[k]);
      b.step = first_step + static_cast<int64_t>(k - from);
      std::unique_lock<std::mutex> lock(q->m);
      q->cv.wait(lock, [&] { return q->stop || q->q.size() < static_cast<size_t>(opt_.prefetch); });
      if (q->stop) break;
      q->q.push_back(std::move(b));
      q->cv.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(q->m);
    q->error = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(q->m);
  q->done = true;
  q->cv.notify_all();
}

void BatchLoader::start(std::vector<std::vector<int64_t>> slices, size_t from, int64_t first_step) {
  stop();
  queue_ = std::make_unique<Queue>();
  thread_ = std::thread(&BatchLoader::run, this, queue_.get(), std::move(slices), from, first_step);
}

bool BatchLoader::next(Batch* out) {
  if (!queue_) return false;
  Queue* q = queue_.get();
  std::unique_lock<std::mutex> lock(q->m);
  q->cv.wait(lock, [&] { return !q->q.empty() || q->done; });
  if (!q->q.empty()) {
    *out = std::move(q->q.front());
    q->q.pop_front();
    q->cv.notify_all();
    return true;
  }
  if (q->error) std::rethrow_exception(q->error);
  return false;
}

void BatchLoader::stop() {
  if (queue_) {
    {
      std::lock_guard<std::mutex> lock(queue_->m);
      queue_->stop = true;
      queue_->cv.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    queue_.reset();
  }
}

}  // namespace ds2::train
