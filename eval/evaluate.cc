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
//   5. The per-utterance records (index position, reference, hypothesis, counts, alignment) are
//      gathered to every rank with one allgather (JSON text; MPI limits the total to 2 GiB, about
//      a few million utterances); rank 0 writes the files in index order.
#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
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

nlohmann::json counts_json(const ErrorCounts& e) {
  return nlohmann::json::array({e.correct, e.sub, e.del, e.ins, e.ref});
}

ErrorCounts counts_from(const nlohmann::json& j) {
  ErrorCounts e;
  e.correct = j.at(0);
  e.sub = j.at(1);
  e.del = j.at(2);
  e.ins = j.at(3);
  e.ref = j.at(4);
  return e;
}

}  // namespace

void EvalOptions::add_to(po::options_description& d) {
  d.add_options()("model", po::value(&model), "checkpoint to evaluate (ckpt-best.h5)")(
      "data", po::value(&data), "prepared dataset folder (index.h5 + shards)")(
      "out", po::value(&out)->required(), "output folder (ref.trn, hyp.trn, alignments.txt, "
      "results.json)")(
      "lm", po::value(&lm), "word LM: ARPA, or compiled by ds2 lm compile (beam decoder)")(
      "decoder", po::value(&decoder)->default_value(decoder), "greedy | beam")(
      "batch-size", po::value(&batch_size)->default_value(batch_size),
      "utterances per forward pass")("device", po::value(&device)->default_value(device),
                                     "network backend: cpu | cuda")("threads", po::value(&threads)->default_value(threads),
                                     "CPU threads of the network (0: OpenMP default)")(
      "normalize", po::value(&normalize),
      "feature normalization: global | utterance | none (default: as the model was trained)")(
      "save-logprobs", po::value(&save_logprobs),
      "also write every utterance's log-probabilities to this HDF5 file (ds2-logprobs)")(
      "logprobs", po::value(&logprobs),
      "instead of --model: decode the log-probabilities of this file (written by "
      "--save-logprobs over the same --data)");
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

EvalPlan plan_eval(const std::string& data, int batch_size, int ranks) {
  DS2_REQUIRE(batch_size >= 1, ConfigError, "option 'batch-size': {} (must be >= 1)",
              batch_size);
  EvalPlan p;
  p.data = data;
  p.index = pipeline::DatasetIndex::read(data + "/index.h5");
  const auto& utts = p.index.utts;
  std::vector<int64_t> keep;
  for (size_t i = 0; i < utts.size(); ++i)
    if (p.index.utt_ids[i].find("~aug") == std::string::npos) {
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

AcousticModel::AcousticModel(const std::string& checkpoint, const EvalPlan& plan,
                             const std::string& device, int threads,
                             const std::string& normalize, bool warn)
    : path_(checkpoint) {
  const pipeline::DatasetIndex& index = plan.index;
  model::ModelConfig cfg = model::read_checkpoint_config(checkpoint);
  cfg.device = device;
  cfg.num_threads = threads;
  net_ = std::make_unique<model::Network>(cfg, /*with_grads=*/false);
  model::load_checkpoint(checkpoint, *net_, &norm_, &extras_);
  const size_t f = static_cast<size_t>(index.meta.n_bins);
  DS2_REQUIRE(cfg.n_bins == index.meta.n_bins, ConfigError,
              "{}: the model takes {} bins but {}/index.h5 has {}", checkpoint, cfg.n_bins,
              plan.data, index.meta.n_bins);
  pipeline::FeatureMeta trained;
  if (model::get_feature_meta(extras_, checkpoint, &trained))
    model::require_same_features(checkpoint, trained, plan.data + "/index.h5", index.meta);
  else
    log()->debug(
        "{}: no feature settings (written before they were stored): not checked "
        "against {}/index.h5 beyond the bins",
        checkpoint, plan.data);
  std::string mode = normalize.empty() ? model::trained_normalize(extras_) : normalize;
  if (mode.empty()) mode = "global";
  DS2_REQUIRE(pipeline::is_normalize_mode(mode), ConfigError,
              "option 'normalize': '{}' (expected global, utterance or none)", mode);
  if (mode == "global" && (norm_.mean.size() != f || norm_.std.size() != f)) {
    DS2_REQUIRE(index.mean.size() == f && index.std.size() == f, FormatError,
                "{}: no normalization statistics, nor in {}/index.h5", checkpoint, plan.data);
    if (warn)
      log()->warn("{} holds no normalization statistics: using {}/index.h5's", checkpoint,
                  plan.data);
    norm_ = {index.mean, index.std};
  }
  for (size_t b = 0; mode == "global" && b < f; ++b)
    DS2_REQUIRE(norm_.std[b] > 0, FormatError, "{}: /norm/std: bin {} is {}", checkpoint, b,
                norm_.std[b]);
  normalizer_ = pipeline::FeatureNormalizer(mode, norm_.mean, norm_.std);
  auto ait = extras_.str.find("alphabet");
  const bool own = ait != extras_.str.end();
  alphabet_ = pipeline::Alphabet::parse(
      own ? ait->second : index.meta.alphabet,
      own ? checkpoint + ":/extra/alphabet" : plan.data + "/index.h5:alphabet");
  DS2_REQUIRE(alphabet_.size() == cfg.alphabet_size, ConfigError,
              "{}: the model has {} outputs but its alphabet {} symbols", checkpoint,
              cfg.alphabet_size, alphabet_.size());
}

AcousticModel::~AcousticModel() = default;

std::vector<UttLogProbs> compute_log_probs(const EvalPlan& plan, int rank, AcousticModel& am,
                                           Progress* progress) {
  std::vector<UttLogProbs> all;
  for_each_log_prob_batch(plan, rank, am, progress, [&](std::vector<UttLogProbs>& batch) {
    for (auto& u : batch) all.push_back(std::move(u));
  });
  return all;
}

void for_each_log_prob_batch(const EvalPlan& plan, int rank, AcousticModel& am,
                             Progress* progress,
                             const std::function<void(std::vector<UttLogProbs>& batch)>& sink) {
  const pipeline::DatasetIndex& index = plan.index;
  const size_t f = static_cast<size_t>(index.meta.n_bins);
  const int c = am.classes();
  std::map<int32_t, std::unique_ptr<pipeline::ShardReader>> shards;
  std::map<int32_t, std::pair<std::vector<std::string>, std::vector<std::string>>> shard_text;
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
    const size_t first = 0;
    for (int i = 0; i < n; ++i) {
      const pipeline::IndexUtt& iu = index.utts[batch[i]];
      auto& sh = shards[iu.shard];
      if (!sh) {
        DS2_REQUIRE(iu.shard >= 0 && static_cast<size_t>(iu.shard) < index.shards.size(),
                    FormatError, "{}/index.h5: dataset '/utt_shard': shard {} of {}", plan.data,
                    iu.shard, index.shards.size());
        sh = std::make_unique<pipeline::ShardReader>(plan.data + "/" + index.shards[iu.shard]);
        shard_text[iu.shard] = {sh->utt_ids(), sh->transcripts()};
      }
      const auto& ids = shard_text[iu.shard].first;
      const std::string& id = index.utt_id(static_cast<size_t>(batch[i]));
      DS2_REQUIRE(iu.row >= 0 && iu.row < sh->size() && ids[iu.row] == id &&
                      sh->frames(iu.row) == iu.frames,
                  FormatError, "{}: row {} is not utterance '{}' of {} frames the index names",
                  sh->path(), iu.row, id, iu.frames);
      const std::vector<float> feat = sh->features(iu.row);
      am.normalizer().apply(feat.data(), static_cast<size_t>(iu.frames), f,
                            x.data() + static_cast<size_t>(i) * t * f);
      lengths.push_back(iu.frames);
      UttLogProbs u;
      u.pos = batch[i];
      u.ref = shard_text[iu.shard].second[iu.row];
      out.push_back(std::move(u));
    }
    model::Network& net = am.net();
    // forward() returns (T', N, C) in the BACKEND's memory (model/backend.h): device memory on
    // cuda, which the host must not dereference.
    const float* dev_act = net.forward(x.data(), lengths.data(), n, t, model::Mode::kInfer);
    const float* act = net.backend().host_view(
        dev_act, static_cast<size_t>(net.out_time()) * n * c, &host_act);
    for (int i = 0; i < n; ++i) {
      UttLogProbs& u = out[first + static_cast<size_t>(i)];
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
  if (spec.decoder == "greedy") {
    labels = greedy_decode(u.logp.data(), u.frames, c, c, alphabet.blank());
  } else {
    const auto beam =
        prefix_beam_search(u.logp.data(), u.frames, c, c, alphabet, spec.lm, spec.beam, ws);
    if (!beam.empty()) labels = beam.front().labels;
  }
  UttResult r;
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
              "another dataset", path, outside, plan.index.utts.size(), plan.data);
  for (size_t i = 0; i < s.utts.size(); ++i)
    DS2_REQUIRE(s.utt_ids[i] == plan.index.utt_id(static_cast<size_t>(s.utts[i].pos)),
                FormatError, "{}: utterance '{}' is at position {}, where {}/index.h5 has '{}': "
                "the file was written over another dataset", path, s.utt_ids[i], s.utts[i].pos,
                plan.data, plan.index.utt_id(static_cast<size_t>(s.utts[i].pos)));
  DS2_REQUIRE(s.utts.size() == wanted, FormatError,
              "{}: holds {} of the {} utterances of {} that rank {} decodes: the file was written "
              "over another dataset (or a part of it)", path, s.utts.size(), wanted, plan.data,
              rank);
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
  DS2_REQUIRE(o.save_logprobs.empty() || o.logprobs.empty(), ConfigError,
              "--save-logprobs needs --model (with --logprobs the outputs are already stored)");
  Timer total_timer;
  const EvalPlan plan = plan_eval(o.data, o.batch_size, comm.size());
  const pipeline::DatasetIndex& index = plan.index;
  std::unique_ptr<AcousticModel> am;
  std::unique_ptr<StoredLogProbs> stored;
  if (o.logprobs.empty()) {
    am = std::make_unique<AcousticModel>(o.model, plan, o.device, o.threads, o.normalize,
                                         comm.root());
  } else {
    stored = std::make_unique<StoredLogProbs>(read_stored_slice(o.logprobs, plan, comm.rank()));
  }
  const pipeline::Alphabet& alphabet = am ? am->alphabet() : stored->alphabet;
  std::unique_ptr<LanguageModel> lm;
  if (!o.lm.empty()) lm = load_decoder_lm(o.lm, o.beam.lexicon);
  const double load_seconds = total_timer.seconds();
  comm.barrier();
  Timer timer;

  // ---- forward (or the stored outputs) + decode this rank's batches ----
  std::vector<UttLogProbs> mine;
  if (am) {
    Progress progress(comm, "eval", "decode", static_cast<double>(plan.utterances), "utt");
    mine = compute_log_probs(plan, comm.rank(), *am, &progress);
    progress.finish();
  } else {
    mine = std::move(stored->utts);
  }
  DecodeSpec spec{o.decoder, o.beam, lm.get()};
  BeamWorkspace ws;
  nlohmann::json records = nlohmann::json::array();
  for (const UttLogProbs& u : mine) {
    std::string align;
    const UttResult r = decode_utterance(u, alphabet, spec, &ws, &align);
    records.push_back({u.pos, r.hyp, align, counts_json(r.words), counts_json(r.chars), u.ref});
  }
  log()->debug("decoded {} utterances", mine.size());
  const std::string mode = am ? am->normalize_mode() : "stored";
  const double decode_only = timer.seconds();
  if (!o.save_logprobs.empty()) write_logprobs(comm, o.save_logprobs, plan, mine, alphabet, o.model);

  // ---- gather in index order ----
  const std::vector<std::string> parts = comm.allgather_strings(records.dump());
  EvalSummary s;
  s.decode_seconds = o.save_logprobs.empty() ? timer.seconds() : decode_only;
  comm.allreduce(&s.decode_seconds, 1, MPI_MAX);
  std::vector<const nlohmann::json*> by_pos(index.utts.size(), nullptr);
  std::vector<nlohmann::json> all;
  all.reserve(parts.size());
  for (const std::string& p : parts) all.push_back(nlohmann::json::parse(p));
  for (const auto& recs : all)
    for (const auto& r : recs) by_pos.at(r.at(0).get<int64_t>()) = &r;
  std::vector<TrnEntry> ref_trn, hyp_trn;
  std::string align_text;
  for (size_t i = 0; i < index.utts.size(); ++i) {
    if (!by_pos[i]) continue;
    const nlohmann::json& r = *by_pos[i];
    const pipeline::IndexUtt& iu = index.utts[i];
    s.words += counts_from(r.at(3));
    s.chars += counts_from(r.at(4));
    ++s.utterances;
    s.audio_seconds += iu.duration;
    if (!comm.root()) continue;
    const std::string& id = index.utt_id(i);
    ref_trn.push_back({id, r.at(5).get<std::string>()});
    hyp_trn.push_back({id, r.at(1).get<std::string>()});
    align_text += "id: " + id + "\n" + r.at(2).get<std::string>() + "\n";
  }
  DS2_REQUIRE(s.utterances == plan.utterances, CommError, "eval: gathered {} of {} utterances",
              s.utterances, plan.utterances);
  if (!comm.root()) return s;

  make_dirs(o.out);
  write_trn(o.out + "/ref.trn", ref_trn);
  write_trn(o.out + "/hyp.trn", hyp_trn);
  write_file_atomic(o.out + "/alignments.txt", align_text);
  auto rate = [](const ErrorCounts& e) {
    return std::isfinite(e.rate()) ? nlohmann::json(e.rate()) : nlohmann::json(nullptr);
  };
  nlohmann::json j;
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
  j["lexicon"] = lm && !o.beam.lexicon.empty() ? nlohmann::json(o.beam.lexicon)
                                               : nlohmann::json(nullptr);
  j["normalize"] = mode;
  j["audio_seconds"] = s.audio_seconds;
  j["decode_seconds"] = s.decode_seconds;
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
