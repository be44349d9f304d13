// `ds2 eval` (see evaluate.h for the outputs).
//
// Algorithm:
//   1. Every rank reads DATA/index.h5 and keeps the clean utterances: ids containing "~aug" are
//      augmented copies made by `ds2 prep --augment` and are skipped (they would count the same
//      speech twice).
//   2. The kept utterances are sorted by frames, longest first (ties: index order), and cut into
//      batches of --batch-size consecutive utterances (similar lengths, little padding). The
//      batches are fixed before any rank is involved, so an utterance is decoded in the SAME
//      batch whatever the number of ranks: its activations, hence its hypothesis, are bit-identical
//      for np=1 and np=N (given the same thread count).
//   3. Batches are balanced over ranks by cost = utterances x longest frames (the padded work):
//      largest first, each to the least-loaded rank (assign_balanced).
//   4. Each rank builds the network from the checkpoint (inference only: batch norm uses its
//      running statistics; a checkpoint that records its training data's feature settings must
//      match the dataset's), reads its utterances' features from the shards, normalizes them as
//      the model was trained (pipeline/normalize.h) -- global: (x - mean[b]) / std[b] with the
//      checkpoint's statistics; utterance: the utterance's own per-bin mean/std (std floored at
//      1e-5); none: raw --
//      (the mode is the `normalize` line of the training configuration stored in the
//      checkpoint; --normalize overrides it), runs the forward pass (on --device; activations
//      in device memory are downloaded first), takes the log-softmax of each utterance's
//      output (compute_log_probs: `ds2 sweep` caches these) and decodes it (greedy best path,
//      or prefix beam search with an optional word LM). It scores each
//      hypothesis against the shard's transcript (words and characters, decode/wer.h) and formats
//      its alignment.
//      Each batch is decoded as soon as its log-probabilities exist and then dropped, so a
//      rank holds one batch of them (all of them only with --save-logprobs, which writes them).
//      At most 64 shards are open per rank; ids and transcripts are read per row.
//   5. Error counts are summed over the ranks (every rank returns the totals). Each rank spills
//      its per-utterance records (index position, reference, hypothesis, alignment) to an
//      anonymous temporary file as it decodes (RecordSpill: 24 bytes of memory per utterance);
//      only rank 0 keeps the index's utterance ids (--logprobs: every rank, to check them). The
//      records go to rank 0
//      only, in rounds of --gather-round index positions (32,768; one Gatherv each), and rank 0
//      appends each round to ref.trn, hyp.trn and alignments.txt in index order: rank 0 holds one
//      round, no message nears MPI's 2 GiB limit, and the files are renamed into place when
//      complete.
#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/lru.h"
#include "core/progress.h"
#include "core/timer.h"
#include "core/wire.h"
#include "decode/arpa_lm.h"
#include "decode/load_lm.h"
#include "eval/logprobs_file.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "pipeline/shard.h"

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

namespace {

auto log() { return logger("eval"); }

constexpr size_t kMaxOpenShards = 64;  // per rank; ShardReader holds a few HDF5 handles each

std::string upper(std::string s) {
  for (char& ch : s)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  return s;
}

// Display width of a UTF-8 token (code points).
size_t width(const std::string& s) {
  size_t w = 0;
  for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
  return w;
}

}  // namespace

void EvalOptions::add_to(po::options_description& d) {
  d.add_options()("model", po::value(&model), "checkpoint to evaluate (ckpt-best.h5)")(
      "data", po::value(&data), "prepared dataset folder (index.h5 + shards)")(
      "batch-size", po::value(&batch_size)->default_value(batch_size),
      "utterances per forward pass")("device", po::value(&device)->default_value(device),
                                     "network backend: cpu | cuda")(
      "threads", po::value(&threads)->default_value(threads),
      "CPU threads of the network (0: OpenMP default)")(
      "normalize", po::value(&normalize),
      "feature normalization: global | utterance | none (default: as the model was trained)")(
      "save-logprobs", po::value(&save_logprobs),
      "also write every utterance's log-probabilities to this HDF5 file (ds2-logprobs)")(
      "logprobs", po::value(&logprobs),
      "instead of --model: decode the log-probabilities of this file (written by "
      "--save-logprobs over the same --data)");
  add_decode_to(d);
}

void EvalOptions::add_decode_to(po::options_description& d) {
  d.add_options()("out", po::value(&out)->required(),
                  "output folder (ref.trn, hyp.trn, alignments.txt, results.json)")(
      "lm", po::value(&lm), "word LM: ARPA, or compiled by ds2 lm compile (beam decoder)")(
      "decoder", po::value(&decoder)->default_value(decoder), "greedy | beam")(
      "gather-round", po::value(&gather_round)->default_value(gather_round),
      "index positions whose results travel to rank 0 per round (rank 0 holds one round)");
  beam.add_to(d);
}

std::vector<int> assign_balanced(const std::vector<int64_t>& cost, int ranks) {
  std::vector<size_t> order(cost.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0);
  std::vector<int> owner(cost.size(), 0);
  for (size_t i : order) {
    const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = r;
    load[r] += cost[i];
  }
  return owner;
}

std::string format_alignment(const std::vector<std::string>& ref,
                             const std::vector<std::string>& hyp, ErrorCounts* counts) {
  struct Col {
    std::string r, h;
    char op;  // ' ' correct, S, D, I
  };
  std::vector<Col> cols;
  ErrorCounts e;
  e.ref = static_cast<int64_t>(ref.size());
  for (const AlignStep& st : align_path(ref, hyp)) {
    switch (st.op) {
      case AlignOp::kCorrect:
        cols.push_back({ref[st.ref_pos], hyp[st.hyp_pos], ' '});
        ++e.correct;
        break;
      case AlignOp::kSub:
        cols.push_back({upper(ref[st.ref_pos]), upper(hyp[st.hyp_pos]), 'S'});
        ++e.sub;
        break;
      case AlignOp::kDel:
        cols.push_back({upper(ref[st.ref_pos]), "***", 'D'});
        ++e.del;
        break;
      case AlignOp::kIns:
        cols.push_back({"***", upper(hyp[st.hyp_pos]), 'I'});
        ++e.ins;
        break;
    }
  }
  std::string lr = "REF: ", lh = "HYP: ", le = "EVAL:";
  for (const Col& c : cols) {
    const size_t w = std::max(width(c.r), width(c.h));
    lr += " " + c.r + std::string(w - width(c.r), ' ');
    lh += " " + c.h + std::string(w - width(c.h), ' ');
    le += " " + std::string(1, c.op) + std::string(w - 1, ' ');
  }
  auto rtrim = [](std::string s) {
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  if (counts) *counts = e;
  return rtrim(lr) + "\n" + rtrim(lh) + "\n" + rtrim(le) + "\n" +
         fmt::format("WER: C {} S {} D {} I {} N {}\n", e.correct, e.sub, e.del, e.ins, e.ref);
}

EvalPlan plan_eval(const std::string& data, int batch_size, int ranks, bool with_ids) {
  DS2_REQUIRE(batch_size >= 1, ConfigError, "option 'batch-size': {} (must be >= 1)", batch_size);
  EvalPlan p;
  p.data = data;
  p.index = pipeline::DatasetIndex::read(data + "/index.h5", with_ids);
  const auto& utts = p.index.utts;
  // Augmented copies ("~aug" in the id) are not evaluated.
  std::vector<char> clean(utts.size(), 1);
  if (with_ids) {
    for (size_t i = 0; i < utts.size(); ++i)
      clean[i] = p.index.utt_ids[i].find("~aug") == std::string::npos;
  } else {
    const h5::File f = h5::File::open(data + "/index.h5");
    const hsize_t chunk = 65536;
    for (hsize_t i0 = 0; i0 < utts.size(); i0 += chunk) {
      const auto ids = f.read_strings("/utt_id", i0, std::min<hsize_t>(chunk, utts.size() - i0));
      for (size_t k = 0; k < ids.size(); ++k)
        clean[i0 + k] = ids[k].find("~aug") == std::string::npos;
    }
  }
  std::vector<int64_t> keep;
  for (size_t i = 0; i < utts.size(); ++i)
    if (clean[i]) {
      keep.push_back(static_cast<int64_t>(i));
      p.audio_seconds += utts[i].duration;
    }
  DS2_REQUIRE(!keep.empty(), FormatError, "{}/index.h5: no utterances to evaluate", data);
  p.utterances = static_cast<int64_t>(keep.size());
  std::stable_sort(keep.begin(), keep.end(),
                   [&](int64_t a, int64_t b) { return utts[a].frames > utts[b].frames; });
  std::vector<int64_t> batch_cost;
  for (size_t b = 0; b < keep.size(); b += static_cast<size_t>(batch_size)) {
    const size_t e = std::min(keep.size(), b + static_cast<size_t>(batch_size));
    p.batches.emplace_back(keep.begin() + b, keep.begin() + e);
    batch_cost.push_back(static_cast<int64_t>(e - b) * utts[keep[b]].frames);
  }
  p.owner = assign_balanced(batch_cost, ranks);
  return p;
}

std::vector<UttLogProbs> compute_log_probs(const EvalPlan& plan, int rank, AcousticModel& am,
                                           Progress* progress) {
  std::vector<UttLogProbs> all;
  for_each_log_prob_batch(plan, rank, am, progress, [&](std::vector<UttLogProbs>& batch) {
    for (auto& u : batch) all.push_back(std::move(u));
  });
  return all;
}

void for_each_log_prob_batch(const EvalPlan& plan, int rank, AcousticModel& am, Progress* progress,
                             const std::function<void(std::vector<UttLogProbs>& batch)>& sink) {
  const pipeline::DatasetIndex& index = plan.index;
  const size_t f = static_cast<size_t>(index.meta.n_bins);
  const int c = am.classes();
  // Open shards, bounded (kMaxOpenShards, least recently used closed first): batches mix
  // utterances of every shard, and a dataset of thousands of shards must not exhaust ulimit -n.
  // Ids and transcripts are read per row, never as whole-shard tables.
  Lru<pipeline::ShardReader> shards(kMaxOpenShards);
  auto shard = [&](int32_t s) -> pipeline::ShardReader& {
    return shards.get(s, [&] {
      DS2_REQUIRE(s >= 0 && static_cast<size_t>(s) < index.shards.size(), FormatError,
                  "{}/index.h5: dataset '/utt_shard': shard {} of {}", plan.data, s,
                  index.shards.size());
      return std::make_unique<pipeline::ShardReader>(plan.data + "/" + index.shards[s]);
    });
  };
  std::vector<UttLogProbs> out;
  std::vector<float> host_act;  // the activations on the host (non-CPU backends)
  for (size_t bi = 0; bi < plan.batches.size(); ++bi) {
    if (plan.owner[bi] != rank) continue;
    const std::vector<int64_t>& batch = plan.batches[bi];
    const int n = static_cast<int>(batch.size());
    const int t = index.utts[batch[0]].frames;
    std::vector<float> x(static_cast<size_t>(n) * t * f, 0.0f);
    std::vector<int32_t> lengths;
    out.clear();
    for (int i = 0; i < n; ++i) {
      const pipeline::IndexUtt& iu = index.utts[batch[i]];
      pipeline::ShardReader* sh = &shard(iu.shard);
      // The row must be the utterance the index names: its frames always, its id where this
      // rank holds the index's ids (rank 0 of ds2 eval; every rank of ds2 sweep).
      const bool ids = !index.utt_ids.empty();
      const std::string id =
          ids ? index.utt_id(static_cast<size_t>(batch[i])) : "#" + std::to_string(batch[i]);
      DS2_REQUIRE(iu.row >= 0 && iu.row < sh->size() && sh->frames(iu.row) == iu.frames &&
                      (!ids || sh->utt_id(iu.row) == id),
                  FormatError, "{}: row {} is not utterance '{}' of {} frames the index names",
                  sh->path(), iu.row, id, iu.frames);
      const std::vector<float> feat = sh->features(iu.row);
      am.normalizer().apply(feat.data(), static_cast<size_t>(iu.frames), f,
                            x.data() + static_cast<size_t>(i) * t * f);
      lengths.push_back(iu.frames);
      UttLogProbs u;
      u.pos = batch[i];
      u.ref = sh->transcript(iu.row);
      out.push_back(std::move(u));
    }
    model::Network& net = am.net();
    // forward() returns (T', N, C) in the BACKEND's memory (model/backend.h): device memory on
    // cuda, which the host must not dereference.
    const float* dev_act = net.forward(x.data(), lengths.data(), n, t, model::Mode::kInfer);
    const float* act =
        net.backend().host_view(dev_act, static_cast<size_t>(net.out_time()) * n * c, &host_act);
    for (int i = 0; i < n; ++i) {
      UttLogProbs& u = out[static_cast<size_t>(i)];
      u.frames = net.out_lengths()[i];
      u.logp.resize(static_cast<size_t>(std::max(u.frames, 1)) * c);
      log_softmax_rows(act + static_cast<size_t>(i) * c, u.frames, c, n * c, u.logp.data());
    }
    if (progress) progress->add(n);
    sink(out);
  }
}

UttResult decode_utterance(const UttLogProbs& u, const pipeline::Alphabet& alphabet,
                           const DecodeSpec& spec, BeamWorkspace* ws, std::string* alignment) {
  const int c = alphabet.size();
  std::vector<int32_t> labels;
  Timer search_timer;
  if (spec.decoder == "greedy") {
    labels = greedy_decode(u.logp.data(), u.frames, c, c, alphabet.blank());
  } else {
    const auto beam =
        prefix_beam_search(u.logp.data(), u.frames, c, c, alphabet, spec.lm, spec.beam, ws);
    if (!beam.empty()) labels = beam.front().labels;
  }
  UttResult r;
  r.search_seconds = search_timer.seconds();
  // Words of the decoded text (spaces at the ends and repeated spaces removed).
  std::istringstream words(alphabet.decode(labels.data(), labels.size()));
  std::string w;
  while (words >> w) r.hyp += (r.hyp.empty() ? "" : " ") + w;
  const std::vector<std::string> ref_words = tokenize(u.ref, Unit::kWord);
  const std::vector<std::string> hyp_words = tokenize(r.hyp, Unit::kWord);
  if (alignment)
    *alignment = format_alignment(ref_words, hyp_words, &r.words);
  else
    r.words = align_counts(ref_words, hyp_words);
  r.chars = align_counts(tokenize(u.ref, Unit::kChar), tokenize(r.hyp, Unit::kChar));
  return r;
}

namespace {

// One decoded utterance as it travels to rank 0.
struct Record {
  int64_t pos = 0;
  std::string hyp, align, ref;
};

void pack_record(const Record& r, std::string* out) {
  wire::Writer w;
  w.pod<int64_t>(r.pos);
  w.str(r.hyp);
  w.str(r.align);
  w.str(r.ref);
  *out += w.take();
}

void unpack_records(const std::string& b, size_t rank, std::vector<Record>* out) {
  const std::string origin = fmt::format("eval: results from rank {}", rank);
  wire::Reader in(b, origin);
  while (!in.at_end()) {
    Record r;
    r.pos = in.pod<int64_t>();
    r.hyp = in.str();
    r.align = in.str();
    r.ref = in.str();
    out->push_back(std::move(r));
  }
}

// This rank's results on their way to rank 0, spilled to an anonymous temporary file
// (std::tmpfile: TMPDIR, removed on exit) as they are decoded, so memory is 24 bytes per
// utterance of this rank whatever the text; read back in index order for the gather rounds.
class RecordSpill {
 public:
  RecordSpill() : f_(std::tmpfile()) {
    DS2_REQUIRE(f_, IoError, "eval: cannot create a temporary file for the results (TMPDIR)");
  }
  ~RecordSpill() { std::fclose(f_); }
  RecordSpill(const RecordSpill&) = delete;
  RecordSpill& operator=(const RecordSpill&) = delete;

  void add(const Record& r) {
    std::string b;
    pack_record(r, &b);
    DS2_REQUIRE(std::fwrite(b.data(), 1, b.size(), f_) == b.size(), IoError,
                "eval: cannot write the results' temporary file (TMPDIR full?)");
    at_.push_back({r.pos, end_, static_cast<uint32_t>(b.size())});
    end_ += b.size();
  }
  size_t size() const { return at_.size(); }
  // Sorts by index position and makes the file readable; call once, after the last add().
  void finish() {
    std::sort(at_.begin(), at_.end(), [](const At& x, const At& y) { return x.pos < y.pos; });
    DS2_REQUIRE(std::fflush(f_) == 0, IoError, "eval: cannot write the results' temporary file");
  }
  int64_t pos(size_t k) const { return at_[k].pos; }
  void append_packed(size_t k, std::string* out) {
    const size_t n0 = out->size();
    out->resize(n0 + at_[k].len);
    DS2_REQUIRE(fseeko(f_, static_cast<off_t>(at_[k].offset), SEEK_SET) == 0 &&
                    std::fread(out->data() + n0, 1, at_[k].len, f_) == at_[k].len,
                IoError, "eval: cannot read back the results' temporary file");
  }

 private:
  struct At {
    int64_t pos;
    uint64_t offset;
    uint32_t len;
  };
  std::FILE* f_;
  std::vector<At> at_;
  uint64_t end_ = 0;
};

// Error counts and utterances summed over the ranks (every rank gets the sums).
void sum_over_ranks(const Comm& comm, EvalSummary* s) {
  int64_t v[11] = {s->words.sub,     s->words.del, s->words.ins, s->words.correct,
                   s->words.ref,     s->chars.sub, s->chars.del, s->chars.ins,
                   s->chars.correct, s->chars.ref, s->utterances};
  comm.allreduce(v, 11);
  s->words = {v[0], v[1], v[2], v[3], v[4]};
  s->chars = {v[5], v[6], v[7], v[8], v[9]};
  s->utterances = v[10];
}

// The utterances of `path` that this rank's batches hold (plan.owner == rank), checked against
// the plan: each stored position must name the same utterance in DATA/index.h5, and every
// utterance this rank decodes must be stored.
StoredLogProbs read_stored_slice(const std::string& path, const EvalPlan& plan, int rank) {
  std::vector<int> owner(plan.index.utts.size(), -1);
  size_t wanted = 0;
  for (size_t b = 0; b < plan.batches.size(); ++b)
    for (int64_t p : plan.batches[b]) {
      owner[static_cast<size_t>(p)] = plan.owner[b];
      wanted += plan.owner[b] == rank;
    }
  int64_t outside = -1;  // a stored position past the index, if any
  auto mine = [&](int64_t p) {
    if (p < 0 || static_cast<size_t>(p) >= owner.size()) {
      outside = p;
      return false;
    }
    return owner[static_cast<size_t>(p)] == rank;
  };
  StoredLogProbs s = read_logprobs(path, mine);
  DS2_REQUIRE(outside < 0, FormatError,
              "{}: position {} is past the {} utterances of {}/index.h5: the file was written over "
              "another dataset",
              path, outside, plan.index.utts.size(), plan.data);
  for (size_t i = 0; i < s.utts.size(); ++i)
    DS2_REQUIRE(s.utt_ids[i] == plan.index.utt_id(static_cast<size_t>(s.utts[i].pos)), FormatError,
                "{}: utterance '{}' is at position {}, where {}/index.h5 has '{}': "
                "the file was written over another dataset",
                path, s.utt_ids[i], s.utts[i].pos, plan.data,
                plan.index.utt_id(static_cast<size_t>(s.utts[i].pos)));
  DS2_REQUIRE(s.utts.size() == wanted, FormatError,
              "{}: holds {} of the {} utterances of {} that rank {} decodes: the file was written "
              "over another dataset (or a part of it)",
              path, s.utts.size(), wanted, plan.data, rank);
  return s;
}

}  // namespace

EvalSummary evaluate(const Comm& comm, const EvalOptions& o) {
  DS2_REQUIRE(!o.data.empty(), ConfigError,
              "the option '--data' (or '--manifest') is required but missing");
  DS2_REQUIRE(o.decoder == "greedy" || o.decoder == "beam", ConfigError,
              "option 'decoder': '{}' (expected greedy or beam)", o.decoder);
  DS2_REQUIRE(o.lm.empty() || o.decoder == "beam", ConfigError,
              "option 'lm': a language model needs --decoder beam");
  DS2_REQUIRE(o.model.empty() != o.logprobs.empty(), ConfigError,
              "give --model (run the network) or --logprobs (decode stored outputs), one of them");
  DS2_REQUIRE(o.gather_round >= 1, ConfigError, "option 'gather-round': {} (must be >= 1)",
              o.gather_round);
  DS2_REQUIRE(o.save_logprobs.empty() || o.logprobs.empty(), ConfigError,
              "--save-logprobs needs --model (with --logprobs the outputs are already stored)");
  Timer total_timer;
  // Only rank 0 writes ids; the others keep none (stored log-probabilities are checked
  // against the index's ids on every rank).
  const EvalPlan plan =
      plan_eval(o.data, o.batch_size, comm.size(), comm.root() || !o.logprobs.empty());
  const pipeline::DatasetIndex& index = plan.index;
  std::unique_ptr<AcousticModel> am;
  std::unique_ptr<StoredLogProbs> stored;
  if (o.logprobs.empty()) {
    const AcousticModel::Dataset fit{plan.data, &plan.index, comm.root()};
    am = std::make_unique<AcousticModel>(o.model, o.device, o.threads, o.normalize, &fit);
  } else {
    stored = std::make_unique<StoredLogProbs>(read_stored_slice(o.logprobs, plan, comm.rank()));
  }
  const pipeline::Alphabet& alphabet = am ? am->alphabet() : stored->alphabet;
  EvalSummary s;
  s.spaced = false;
  for (int k = 1; k < alphabet.size(); ++k) s.spaced = s.spaced || alphabet.symbol(k) == " ";
  std::unique_ptr<LanguageModel> lm;
  if (!o.lm.empty()) lm = load_decoder_lm(o.lm, o.beam.lexicon);
  const double load_seconds = total_timer.seconds();
  comm.barrier();
  Timer timer;

  // ---- forward (or the stored outputs) + decode, one batch at a time ----
  DecodeSpec spec{o.decoder, o.beam, lm.get()};
  BeamWorkspace ws;
  RecordSpill records;            // this rank's results (no log-probabilities)
  std::vector<UttLogProbs> kept;  // --save-logprobs only: the file is written from all of them
  auto decode_batch = [&](std::vector<UttLogProbs>& batch) {
    for (UttLogProbs& u : batch) {
      Record rec;
      const UttResult r = decode_utterance(u, alphabet, spec, &ws, &rec.align);
      s.words += r.words;
      s.chars += r.chars;
      s.search_seconds += r.search_seconds;
      ++s.utterances;
      rec.pos = u.pos;
      rec.hyp = r.hyp;
      rec.ref = u.ref;
      records.add(rec);
      if (!o.save_logprobs.empty()) kept.push_back(std::move(u));
    }
  };
  if (am) {
    Progress progress(comm, "eval", "decode", static_cast<double>(plan.utterances), "utt");
    for_each_log_prob_batch(plan, comm.rank(), *am, &progress, decode_batch);
    progress.finish();
  } else {
    decode_batch(stored->utts);
    stored->utts.clear();
  }
  log()->debug("decoded {} utterances", records.size());
  const std::string mode = am ? am->normalize_mode() : "stored";
  s.decode_seconds = timer.seconds();
  if (!o.save_logprobs.empty())
    write_logprobs(comm, o.save_logprobs, plan, kept, alphabet, o.model);
  kept.clear();
  comm.allreduce(&s.decode_seconds, 1, MPI_MAX);
  comm.allreduce(&s.search_seconds, 1, MPI_MAX);
  sum_over_ranks(comm, &s);
  s.audio_seconds = plan.audio_seconds;  // the same sum, in index order
  DS2_REQUIRE(s.utterances == plan.utterances, CommError, "eval: decoded {} of {} utterances",
              s.utterances, plan.utterances);

  // ---- gather to rank 0 in index order, in bounded rounds, written as they arrive ----
  records.finish();
  std::unique_ptr<AtomicFile> ref_trn, hyp_trn, align_file;
  if (comm.root()) {
    make_dirs(o.out);
    ref_trn = std::make_unique<AtomicFile>(o.out + "/ref.trn");
    hyp_trn = std::make_unique<AtomicFile>(o.out + "/hyp.trn");
    align_file = std::make_unique<AtomicFile>(o.out + "/alignments.txt");
  }
  size_t next = 0;
  const int64_t n_pos = static_cast<int64_t>(index.utts.size());
  for (int64_t lo = 0; lo < n_pos; lo += o.gather_round) {
    std::string mine;
    for (; next < records.size() && records.pos(next) < lo + o.gather_round; ++next)
      records.append_packed(next, &mine);
    const std::vector<std::string> parts = comm.gather_strings(mine);
    if (!comm.root()) continue;
    std::vector<Record> round;
    for (size_t r = 0; r < parts.size(); ++r) unpack_records(parts[r], r, &round);
    std::sort(round.begin(), round.end(),
              [](const Record& x, const Record& y) { return x.pos < y.pos; });
    std::string ref_text, hyp_text, align_text;
    for (const Record& r : round) {
      const std::string& id = index.utt_id(static_cast<size_t>(r.pos));
      ref_text += trn_line(o.out + "/ref.trn", {id, r.ref});
      hyp_text += trn_line(o.out + "/hyp.trn", {id, r.hyp});
      align_text += "id: " + id + "\n" + r.align + "\n";
    }
    ref_trn->append(ref_text);
    hyp_trn->append(hyp_text);
    align_file->append(align_text);
  }
  if (!comm.root()) return s;
  ref_trn->commit();
  hyp_trn->commit();
  align_file->commit();
  auto rate = [](const ErrorCounts& e) {
    return std::isfinite(e.rate()) ? nlohmann::json(e.rate()) : nlohmann::json(nullptr);
  };
  nlohmann::json j;
  j["headline"] = s.spaced ? "wer" : "cer";
  j["wer"] = rate(s.words);
  j["cer"] = rate(s.chars);
  j["sub"] = s.words.sub;
  j["del"] = s.words.del;
  j["ins"] = s.words.ins;
  j["correct"] = s.words.correct;
  j["words"] = s.words.ref;
  j["chars"] = s.chars.ref;
  j["cer_sub"] = s.chars.sub;
  j["cer_del"] = s.chars.del;
  j["cer_ins"] = s.chars.ins;
  j["utterances"] = s.utterances;
  j["decoder"] = o.decoder;
  j["beam"] = o.decoder == "beam" ? nlohmann::json(o.beam.beam) : nlohmann::json(nullptr);
  j["alpha"] = lm ? nlohmann::json(o.beam.alpha) : nlohmann::json(nullptr);
  j["beta"] = lm ? nlohmann::json(o.beam.beta) : nlohmann::json(nullptr);
  j["lm"] = o.lm.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.lm);
  j["lexicon"] =
      lm && !o.beam.lexicon.empty() ? nlohmann::json(o.beam.lexicon) : nlohmann::json(nullptr);
  j["normalize"] = mode;
  j["audio_seconds"] = s.audio_seconds;
  j["decode_seconds"] = s.decode_seconds;
  j["search_seconds"] = s.search_seconds;
  j["load_seconds"] = load_seconds;
  j["rtf"] = s.rtf();
  j["ranks"] = comm.size();
  j["model"] = am ? o.model : stored->model;
  if (!o.logprobs.empty()) j["logprobs"] = o.logprobs;
  j["data"] = o.data;
  write_file_atomic(o.out + "/results.json", j.dump(2) + "\n");
  return s;
}

}  // namespace ds2::eval
