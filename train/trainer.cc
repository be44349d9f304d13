// The training job (see trainer.h): class Trainer holds its stages; the run state <-> checkpoint
// mapping is run_state.h, the run folder's files run_files.h.
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "train/bn_average.h"
#include "train/dev_eval.h"
#include "train/grad_sync.h"
#include "train/replica_check.h"
#include "train/resume_check.h"
#include "train/run_files.h"
#include "train/run_state.h"

namespace ds2::train {

namespace fs = std::filesystem;

void TrainOptions::add_to(po::options_description& d) {
  d.add_options()("data", po::value(&data)->required(), "prepared training set folder (index.h5)")(
      "out", po::value(&out)->required(), "run folder (checkpoints, metrics, train.ini)")(
      "dev", po::value(&dev), "prepared dev set folder: loss and greedy CER after each epoch")(
      "epochs", po::value(&epochs)->default_value(epochs), "total epochs")(
      "resume", po::bool_switch(&resume), "continue from RUN/ckpt-last.h5")(
      "checkpoint-every", po::value(&checkpoint_every)->default_value(checkpoint_every),
      "checkpoint every N steps (0: at epoch ends only)")(
      "keep", po::value(&keep)->default_value(keep), "ckpt-step files kept (newest)")(
      "metrics", po::value(&metrics), "metrics CSV (default RUN/metrics.csv)")(
      "log-every", po::value(&log_every)->default_value(log_every), "log every N steps")(
      "dev-batch-size", po::value(&dev_batch_size)->default_value(dev_batch_size),
      "utterances per dev batch (global)")("bucket-mib",
                                           po::value(&bucket_mib)->default_value(bucket_mib),
                                           "gradient all-reduce bucket size in MiB")(
      "stop-after-steps", po::value(&stop_after_steps)->default_value(stop_after_steps),
      "testing: behave as if SIGTERM arrived during step N")(
      "replica-check-every", po::value(&replica_check_every)->default_value(replica_check_every),
      "compare parameter/optimizer digests across ranks every N steps (0: at checkpoints only)")(
      "perturb-at-step", po::value(&perturb_at_step)->default_value(perturb_at_step),
      "testing: the last rank perturbs one parameter before step N (replica check test)")(
      "gpu", po::value(&gpu)->default_value(gpu),
      "model.device=cuda: the CUDA device of every rank (-1: DS2_GPU if set, else the "
      "node-local rank modulo the visible devices)");
}

namespace {

auto log() { return logger("train"); }

// MPI_Bcast of rank 0's parameters: in place on the CPU backend, staged through the host from a
// device (once, at start-up).
void bcast_params(const Comm& world, model::Backend& be, float* params, size_t n) {
  if (be.device() == model::Device::kCpu) {
    world.bcast(params, n);
    return;
  }
  std::vector<float> host(n);
  be.download(host.data(), params, n);
  world.bcast(host.data(), n);
  be.upload(params, host.data(), n);
}

// The training set's index, checked against the options and the model (before anything else).
pipeline::DatasetIndex read_training_index(const TrainOptions& topt,
                                           const model::ModelConfig& mcfg) {
  DS2_REQUIRE(topt.epochs >= 1, ConfigError, "--epochs must be >= 1, got {}", topt.epochs);
  DS2_REQUIRE(topt.checkpoint_every >= 0, ConfigError, "--checkpoint-every must be >= 0");
  // Without utterance ids: training never needs them in memory (index.h: 20 bytes per utterance).
  pipeline::DatasetIndex index = pipeline::DatasetIndex::read(topt.data + "/index.h5", false);
  DS2_REQUIRE(!index.utts.empty(), ConfigError, "{}/index.h5: no utterances", topt.data);
  const pipeline::Alphabet alphabet =
      pipeline::Alphabet::parse(index.meta.alphabet, topt.data + "/index.h5 alphabet");
  DS2_REQUIRE(mcfg.n_bins == index.meta.n_bins, ConfigError,
              "model.n_bins is {} but {} has {} bins per frame", mcfg.n_bins, topt.data,
              index.meta.n_bins);
  DS2_REQUIRE(mcfg.alphabet_size == alphabet.size(), ConfigError,
              "model.alphabet_size is {} but the alphabet of {} has {} symbols (blank included)",
              mcfg.alphabet_size, topt.data, alphabet.size());
  return index;
}

// The dev set's index (empty without --dev), normalized with the TRAINING statistics.
pipeline::DatasetIndex read_dev_index(const TrainOptions& topt,
                                      const pipeline::DatasetIndex& train) {
  pipeline::DatasetIndex dev;
  if (topt.dev.empty()) return dev;
  dev = pipeline::DatasetIndex::read(topt.dev + "/index.h5", false);
  train.meta.check_same(dev.meta, topt.dev + "/index.h5");
  dev.mean = train.mean;
  dev.std = train.std;
  return dev;
}

// The dev set's loader (null without --dev).
std::unique_ptr<BatchLoader> dev_loader(const TrainOptions& topt,
                                        const pipeline::DatasetIndex& dev_index,
                                        const LoaderOptions& lopt) {
  if (topt.dev.empty()) return nullptr;
  LoaderOptions dev_opt = lopt;
  dev_opt.transcripts = true;  // the greedy CER needs the references
  return std::make_unique<BatchLoader>(topt.dev, dev_index, dev_opt);
}

// One training job, cut along its stages: the constructor sets up data, model and communication;
// run() resumes (or starts), prepares the run folder and runs the epochs, each a loop of steps
// (step()) and an epoch end (end_epoch(): the dev evaluation and the best metric), with
// checkpoints between. Collective over world_ throughout.
class Trainer {
 public:
  Trainer(const Comm& world, const TrainOptions& topt, const ScheduleOptions& sopt,
          const LoaderOptions& lopt, const OptimizerOptions& oopt, const AllreduceOptions& aopt,
          const model::ModelConfig& mcfg, const std::string& resolved_ini,
          const std::atomic<int>& stop)
      : world_(world),
        topt_(topt),
        sopt_(sopt),
        oopt_(oopt),
        resolved_ini_(resolved_ini),
        stop_(stop),
        root_(world.root()),
        files_(topt.out, topt.metrics),
        index_(read_training_index(topt, mcfg)),
        alphabet_(
            pipeline::Alphabet::parse(index_.meta.alphabet, topt.data + "/index.h5 alphabet")),
        schedule_(utt_frames(index_), sopt),
        loader_(topt.data, index_, lopt),
        dev_index_(read_dev_index(topt, index_)),
        dev_loader_(dev_loader(topt, dev_index_, lopt)),
        net_(mcfg),
        be_(net_.backend()),
        np_(net_.num_params()),
        sgd_(be_, np_, oopt.momentum, oopt.weight_decay),
        ar_(world, aopt, &be_),
        buckets_(plan_buckets(net_.params_info(), np_,
                              static_cast<size_t>(topt.bucket_mib * (1 << 20)))) {}

  TrainSummary run() {
    // From here on an exception on one rank may leave gradient buckets in flight on the
    // Allreducer's thread, whose destructor would then wait for peers that never come: abort the
    // job here, with the reason, while the Allreducer is still alive (the others are taken down by
    // MPI_Abort instead of hanging in a collective).
    try {
      start();
      while (pos_.epoch < topt_.epochs && !sum_.stopped) {
        const bool epoch_done = run_epoch();
        const bool best = epoch_done && end_epoch();
        if (epoch_done || sum_.stopped) checkpoint(best);
      }
      if (root_ && sum_.stopped)
        log()->info("stopped after step {} on request; resume with --resume", pos_.step);
      sum_.steps = pos_.step;
      sum_.skipped = pos_.skipped;
      return sum_;
    } catch (const std::exception& e) {
      abort_all(fmt::format("ds2 train (rank {}): {}", world_.rank(), e.what()), 1);
    }
  }

 private:
  // ---- start: dataset digest, resume or fresh start, rank 0's parameters, the run folder ----
  void start() {
    // What checkpoints record of the dataset and --resume compares (rank 0 opens every shard).
    if (root_) {
      std::lock_guard<std::mutex> lock(h5::mutex());
      digest_ = dataset_digest(topt_.data, index_);
    }
    if (!topt_.resume && root_)
      DS2_REQUIRE(!fs::exists(files_.last_path()), ConfigError,
                  "{} already holds a run ({}): pass --resume to continue it or choose a new --out",
                  topt_.out, files_.last_path());
    if (topt_.resume) resume();
    bcast_params(world_, be_, net_.params(), np_);  // rank 0's parameters everywhere (trainer.h)
    if (root_) {
      files_.prepare(resolved_ini_, topt_.resume ? pos_.step : -1);
      metrics_ = std::make_unique<CsvLog>(
          files_.metrics_path(),
          std::vector<std::string>{"step", "epoch", "loss", "lr", "grad_norm", "utts_per_s",
                                   "skipped", "time"});
      if (dev_loader_)
        dev_csv_ = std::make_unique<CsvLog>(
            files_.dev_path(), std::vector<std::string>{"epoch", "step", "dev_loss", "dev_cer"});
    }
    t0_ = std::chrono::steady_clock::now();
    first_step_ = pos_.step;
  }

  // RUN/ckpt-last.h5 into the network, the optimizer and pos_, after checking that its features,
  // dataset and options are this run's (resume_check.h).
  void resume() {
    const std::string last = files_.last_path();
    DS2_REQUIRE(fs::exists(last), ConfigError, "--resume: {} does not exist", last);
    model::CheckpointExtras ex;
    {
      std::lock_guard<std::mutex> lock(h5::mutex());
      model::load_checkpoint(last, net_, nullptr, &ex);
    }
    pipeline::FeatureMeta trained;
    if (model::get_feature_meta(ex, last, &trained))
      model::require_same_features(last, trained, topt_.data + "/index.h5", index_.meta);
    if (root_) {
      // Only rank 0 reads every shard's plan digest; a refusal aborts the job (run()).
      if (!require_same_dataset(last, ex, topt_.data + "/index.h5", digest_))
        log()->warn(
            "{}: saved without a dataset digest (an older checkpoint): the dataset "
            "cannot be checked against the run's",
            last);
      const auto ini = ex.str.find("train_ini");
      if (ini != ex.str.end())
        require_same_options(last, ini->second, resolved_ini_);
      else
        log()->warn(
            "{}: saved without its training options (train_ini): the options cannot be "
            "checked against the run's",
            last);
    }
    pos_ = load_run_state(ex, last);
    sgd_.set_velocity(ex.f32.at("velocity"));
    const auto& bn = ex.f32.at("bn_per_rank");
    const size_t nb = net_.num_buffer_floats();
    if (ex.get_int("world_size") == world_.size() && bn.size() == nb * world_.size()) {
      be_.upload(net_.buffers(), bn.data() + world_.rank() * nb, nb);
    } else if (root_) {
      log()->warn(
          "{}: saved by {} ranks, running on {}: every rank starts from the averaged "
          "batch-norm statistics (results will not be bit-identical)",
          last, ex.get_int("world_size"), world_.size());
    }
    if (root_)
      log()->info("resuming {} at epoch {} batch {} (after step {})", last, pos_.epoch + 1,
                  pos_.batch + 1, pos_.step);
  }

  // ---- one epoch's steps from pos_.batch; true when the epoch ran to its end ----
  bool run_epoch() {
    // This rank's slices of the epoch's batches; the global batches are not kept (memory that
    // grows with the corpus: 8 bytes per utterance).
    std::vector<std::vector<int64_t>> slices = schedule_.epoch(pos_.epoch);
    const int64_t n_batches = static_cast<int64_t>(slices.size());
    if (world_.size() > 1)
      for (auto& b : slices) b = Schedule::slice(b, world_.rank(), world_.size());
    loader_.start(std::move(slices), static_cast<size_t>(pos_.batch), pos_.step);
    if (pos_.batch == 0) pos_.epoch_loss = 0, pos_.epoch_finite = 0;
    while (pos_.batch < n_batches) {
      DS2_REQUIRE(loader_.next(&batch_), Error, "loader ended early at epoch {} batch {}",
                  pos_.epoch, pos_.batch);
      if (!step(n_batches)) {
        sum_.stopped = true;
        break;
      }
      if (topt_.checkpoint_every > 0 && pos_.step % topt_.checkpoint_every == 0 &&
          pos_.batch < n_batches)
        checkpoint(false);
    }
    return pos_.batch == n_batches;
  }

  // One global step on batch_ (collective); false when the ranks voted to stop.
  bool step(int64_t n_batches) {
    const double lr = oopt_.lr_for_epoch(pos_.epoch);
    const bool vote = stop_.load() != 0 ||
                      (topt_.stop_after_steps > 0 && pos_.step + 1 == topt_.stop_after_steps);
    if (topt_.perturb_at_step == pos_.step + 1 && world_.rank() == world_.size() - 1) {
      float p0 = 0;
      be_.download(&p0, net_.params(), 1);
      p0 += 1e-3f;
      be_.upload(net_.params(), &p0, 1);
    }
    const StepResult r = global_gradient_step(net_, ar_, buckets_, batch_, vote);
    if (r.skip()) {
      ++pos_.skipped;
      if (root_)
        log()->warn("step {} skipped: {} non-finite costs, {} finite, gradient norm {}",
                    pos_.step + 1, r.nonfinite, r.finite, r.grad_norm);
    } else {
      // On the backend: the norm is the step's (same arena, same arithmetic), no 2nd pass.
      clip_to_norm(be_, net_.grads(), np_, r.grad_norm, oopt_.clip_norm);
      sgd_.step(net_.params(), net_.grads(), np_, lr);
      pos_.epoch_loss += r.loss_sum;
      pos_.epoch_finite += r.finite;
    }
    pos_.impossible += r.impossible;
    ++pos_.step;
    ++pos_.batch;
    utts_done_ += r.utts;
    if (first_) sum_.first_loss = r.mean_loss(), first_ = false;
    if (root_) log_step(r, lr, n_batches);
    if (topt_.replica_check_every > 0 && pos_.step % topt_.replica_check_every == 0)
      replica_check(pos_.step);
    return !r.stop;
  }

  // Rank 0: the step's metrics row, and a log line every --log-every steps and at the epoch end.
  void log_step(const StepResult& r, double lr, int64_t n_batches) {
    const int64_t steps_total = static_cast<int64_t>(schedule_.batches_per_epoch()) * topt_.epochs;
    const double t = elapsed();
    const double run_s = t - pos_.elapsed_s;
    const double ups = run_s > 0 ? utts_done_ / run_s : 0;
    const double s_per_step = run_s / std::max<int64_t>(1, pos_.step - first_step_);
    metrics_->row(pos_.step, pos_.epoch + 1, r.mean_loss(), lr, r.grad_norm, ups, pos_.skipped, t);
    if (pos_.step % std::max(1, topt_.log_every) == 0 || pos_.batch == n_batches)
      log()->info(
          "epoch {} step {}/{} loss {:.3f} lr {:.3g} |g| {:.3g} {:.1f} utt/s "
          "skipped {} ETA {}",
          pos_.epoch + 1, pos_.step, steps_total, r.mean_loss(), lr, r.grad_norm, ups, pos_.skipped,
          Progress::format_duration(s_per_step * (steps_total - pos_.step)));
  }

  // ---- epoch end (collective): mean loss, dev evaluation, the best metric; advances pos_ to
  // the next epoch and returns whether this one is the best so far ----
  bool end_epoch() {
    sum_.last_epoch_loss = pos_.epoch_finite > 0 ? pos_.epoch_loss / pos_.epoch_finite : 0;
    double metric = sum_.last_epoch_loss;
    if (root_)
      log()->info(
          "epoch {} done: mean training loss {:.3f}; so far {} steps skipped, {} "
          "impossible utterances excluded",
          pos_.epoch + 1, metric, pos_.skipped, pos_.impossible);
    if (dev_loader_) {
      const BnState bn = gather_bn(world_, net_);
      AveragedBn avg(net_, bn);
      const DevResult d =
          evaluate_dev(world_, net_, *dev_loader_, dev_index_, alphabet_, topt_.dev_batch_size);
      metric = d.cer();
      if (root_) {
        log()->info("epoch {} dev: {} utterances, loss {:.3f}, greedy CER {:.2f}%", pos_.epoch + 1,
                    d.utts, d.loss(), 100 * d.cer());
        dev_csv_->row(pos_.epoch + 1, pos_.step, d.loss(), d.cer());
      }
    }
    const bool best = metric < pos_.best;
    if (best) pos_.best = metric;
    ++pos_.epoch;
    pos_.batch = 0;
    sum_.epochs_done = pos_.epoch;
    return best;
  }

  // ---- replica check (collective): parameters and optimizer velocity, per tensor; host views
  // (the arenas themselves on the CPU, one download each from a device) ----
  void replica_check(int64_t step) {
    const float* p = be_.host_view(net_.params(), np_, &host_params_);
    const float* v = be_.host_view(sgd_.velocity_data(), np_, &host_velocity_);
    std::vector<ReplicaTensor> replica;
    for (const auto& t : net_.params_info()) {
      replica.push_back({t.name, p + t.offset, t.size});
      replica.push_back({"velocity/" + t.name, v + t.offset, t.size});
    }
    check_replicas(world_, replica, fmt::format("step {}", step));
  }

  // ---- checkpoint of pos_ (collective: replicas checked, BN statistics gathered; rank 0
  // writes RUN/ckpt-step<N>.h5 and updates the links) ----
  void checkpoint(bool best) {
    RunState p = pos_;
    p.elapsed_s = elapsed();
    replica_check(p.step);
    const BnState bn = gather_bn(world_, net_);
    if (!root_) return;
    AveragedBn avg(net_, bn);
    model::CheckpointExtras ex;
    save_run_state(p, &ex);
    ex.set_int("world_size", world_.size());
    ex.set_int("batch_size", sopt_.batch_size);
    ex.set_int("shuffle_seed", static_cast<int64_t>(sopt_.seed));
    ex.set_int("max_batch_frames", sopt_.max_batch_frames);
    ex.str["dataset_digest"] = digest_;
    ex.f64["lr"] = {oopt_.lr_for_epoch(p.epoch)};
    ex.f32["velocity"] = sgd_.velocity();
    ex.f32["bn_per_rank"] = bn.per_rank;
    ex.str["alphabet"] = index_.meta.alphabet;
    ex.str["train_ini"] = resolved_ini_;
    model::set_feature_meta(&ex, index_.meta);  // what transcribe featurizes with, eval checks
    const std::string path = files_.step_path(p.step);
    {
      std::lock_guard<std::mutex> lock(h5::mutex());
      model::save_checkpoint(path, net_, model::NormStats{index_.mean, index_.std}, ex);
    }
    files_.commit_checkpoint(p.step, best, topt_.keep);
    log()->info("checkpoint {} (step {}; next: epoch {} batch {}{})", path, p.step, p.epoch + 1,
                p.batch + 1, best ? "; best so far" : "");
  }

  // Training wall time of the whole run so far, in seconds.
  double elapsed() const {
    return pos_.elapsed_s +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

  const Comm& world_;
  const TrainOptions& topt_;
  const ScheduleOptions& sopt_;
  const OptimizerOptions& oopt_;
  const std::string& resolved_ini_;
  const std::atomic<int>& stop_;
  const bool root_;
  const RunFiles files_;
  // Data.
  const pipeline::DatasetIndex index_;
  const pipeline::Alphabet alphabet_;
  const Schedule schedule_;
  BatchLoader loader_;
  pipeline::DatasetIndex dev_index_;
  std::unique_ptr<BatchLoader> dev_loader_;
  // Model, optimizer, communication: parameters, gradients, velocity, BN stats live in be_.
  model::Network net_;
  model::Backend& be_;
  const size_t np_;
  SgdNesterov sgd_;
  Allreducer ar_;
  const std::vector<GradBucket> buckets_;
  // Run state.
  std::string digest_;
  RunState pos_;
  TrainSummary sum_;
  std::unique_ptr<CsvLog> metrics_, dev_csv_;  // rank 0
  std::vector<float> host_params_, host_velocity_;
  Batch batch_;
  std::chrono::steady_clock::time_point t0_;
  int64_t first_step_ = 0;
  int64_t utts_done_ = 0;
  bool first_ = true;
};

}  // namespace

TrainSummary run_training(const Comm& world, const TrainOptions& topt, const ScheduleOptions& sopt,
                          const LoaderOptions& lopt, const OptimizerOptions& oopt,
                          const AllreduceOptions& aopt, const model::ModelConfig& mcfg,
                          const std::string& resolved_ini, const std::atomic<int>& stop) {
  return Trainer(world, topt, sopt, lopt, oopt, aopt, mcfg, resolved_ini, stop).run();
}

}  // namespace ds2::train
