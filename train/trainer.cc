// The training loop, checkpoints and resume (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>

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

// Position and counters saved in checkpoints.
struct Position {
  int epoch = 0;      // epoch to run next
  int64_t batch = 0;  // batch of that epoch to run next
  int64_t step = 0;   // global steps done
  int64_t skipped = 0;
  int64_t impossible = 0;
  double elapsed_s = 0;   // training wall time before this invocation
  double epoch_loss = 0;  // finite costs summed so far in the current epoch (nats)
  int64_t epoch_finite = 0;
  double best = std::numeric_limits<double>::infinity();
};

std::string step_ckpt(const std::string& dir, int64_t step) {
  return fmt::format("{}/ckpt-step{}.h5", dir, step);
}

// dst becomes a hard link to src (atomically replaced); a copy where links are not supported.
void link_or_copy(const std::string& src, const std::string& dst) {
  const std::string tmp = temp_path_for(dst);
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(src, tmp, ec);
  if (ec) fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, dst);
}

void prune(const std::string& dir, int keep) {
  std::vector<std::pair<int64_t, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-step", 0) == 0 && name.size() > 12 &&
        name.compare(name.size() - 3, 3, ".h5") == 0) {
      try {
        found.emplace_back(std::stoll(name.substr(9, name.size() - 12)), e.path());
      } catch (const std::exception&) {
      }
    }
  }
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < found.size(); ++i)
    fs::remove(found[i].second);
}

// Keeps only the rows of a metrics CSV whose first field (step) is <= last_step: rows written
// after the checkpoint a resumed run starts from would otherwise appear twice.
void truncate_csv(const std::string& path, int64_t last_step, size_t step_column) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      kept += line + "\n";
      header = false;
      continue;
    }
    std::istringstream fields(line);
    std::string f;
    for (size_t c = 0; c <= step_column && std::getline(fields, f, ','); ++c) {
    }
    try {
      if (std::stoll(f) <= last_step) kept += line + "\n";
    } catch (const std::exception&) {
    }
  }
  write_file_atomic(path, kept);
}

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

class CsvLog {
 public:
  CsvLog(const std::string& path, const std::string& header) {
    const bool fresh = !fs::exists(path) || fs::file_size(path) == 0;
    out_.open(path, std::ios::app);
    DS2_REQUIRE(out_, IoError, "{}: cannot open for appending", path);
    if (fresh) out_ << header << "\n" << std::flush;
  }
  template <typename... A>
  void row(const A&... a) {
    std::string s;
    ((s += (s.empty() ? "" : ",") + fmt::format("{}", a)), ...);
    out_ << s << "\n" << std::flush;
  }

 private:
  std::ofstream out_;
};

}  // namespace

TrainSummary run_training(const Comm& world, const TrainOptions& topt, const ScheduleOptions& sopt,
                          const LoaderOptions& lopt, const OptimizerOptions& oopt,
                          const AllreduceOptions& aopt, const model::ModelConfig& mcfg,
                          const std::string& resolved_ini, const std::atomic<int>& stop) {
  DS2_REQUIRE(topt.epochs >= 1, ConfigError, "--epochs must be >= 1, got {}", topt.epochs);
  DS2_REQUIRE(topt.checkpoint_every >= 0, ConfigError, "--checkpoint-every must be >= 0");
  const bool root = world.root();
  const std::string metrics_path = topt.metrics.empty() ? topt.out + "/metrics.csv" : topt.metrics;
  const std::string last_path = topt.out + "/ckpt-last.h5";

  // ---- data ----
  // Without utterance ids: training never needs them in memory (index.h: 20 bytes per utterance).
  const pipeline::DatasetIndex index = pipeline::DatasetIndex::read(topt.data + "/index.h5", false);
  DS2_REQUIRE(!index.utts.empty(), ConfigError, "{}/index.h5: no utterances", topt.data);
  const pipeline::Alphabet alphabet =
      pipeline::Alphabet::parse(index.meta.alphabet, topt.data + "/index.h5 alphabet");
  DS2_REQUIRE(mcfg.n_bins == index.meta.n_bins, ConfigError,
              "model.n_bins is {} but {} has {} bins per frame", mcfg.n_bins, topt.data,
              index.meta.n_bins);
  DS2_REQUIRE(mcfg.alphabet_size == alphabet.size(), ConfigError,
              "model.alphabet_size is {} but the alphabet of {} has {} symbols (blank included)",
              mcfg.alphabet_size, topt.data, alphabet.size());
  const Schedule schedule(utt_frames(index), sopt);
  BatchLoader loader(topt.data, index, lopt);
  pipeline::DatasetIndex dev_index;
  std::unique_ptr<BatchLoader> dev_loader;
  if (!topt.dev.empty()) {
    dev_index = pipeline::DatasetIndex::read(topt.dev + "/index.h5", false);
    index.meta.check_same(dev_index.meta, topt.dev + "/index.h5");
    dev_index.mean = index.mean;  // normalize the dev set with the TRAINING statistics
    dev_index.std = index.std;
    LoaderOptions dev_opt = lopt;
    dev_opt.transcripts = true;  // the greedy CER needs the references
    dev_loader = std::make_unique<BatchLoader>(topt.dev, dev_index, dev_opt);
  }

  // ---- model, optimizer, communication ----
  model::Network net(mcfg);
  model::Backend& be = net.backend();  // parameters, gradients, velocity, BN stats live in it
  const size_t np = net.num_params();
  SgdNesterov sgd(be, np, oopt.momentum, oopt.weight_decay);
  Allreducer ar(world, aopt, &be);
  const auto buckets =
      plan_buckets(net.params_info(), np, static_cast<size_t>(topt.bucket_mib * (1 << 20)));
  // From here on an exception on one rank may leave gradient buckets in flight on the
  // Allreducer's thread, whose destructor would then wait for peers that never come: abort the
  // job here, with the reason, while the Allreducer is still alive (the others are taken down by
  // MPI_Abort instead of hanging in a collective).
  try {
    // What checkpoints record of the dataset and --resume compares (rank 0 opens every shard).
    std::string digest;
    if (root) {
      std::lock_guard<std::mutex> lock(h5::mutex());
      digest = dataset_digest(topt.data, index);
    }
    Position pos;
    if (!topt.resume && root)
      DS2_REQUIRE(!fs::exists(last_path), ConfigError,
                  "{} already holds a run ({}): pass --resume to continue it or choose a new --out",
                  topt.out, last_path);
    if (topt.resume) {
      DS2_REQUIRE(fs::exists(last_path), ConfigError, "--resume: {} does not exist", last_path);
      model::CheckpointExtras ex;
      {
        std::lock_guard<std::mutex> lock(h5::mutex());
        model::load_checkpoint(last_path, net, nullptr, &ex);
      }
      pipeline::FeatureMeta trained;
      if (model::get_feature_meta(ex, last_path, &trained))
        model::require_same_features(last_path, trained, topt.data + "/index.h5", index.meta);
      if (root) {
        // Only rank 0 reads every shard's plan digest; a refusal aborts the job (catch below).
        if (!require_same_dataset(last_path, ex, topt.data + "/index.h5", digest))
          log()->warn(
              "{}: saved without a dataset digest (an older checkpoint): the dataset "
              "cannot be checked against the run's",
              last_path);
        const auto ini = ex.str.find("train_ini");
        if (ini != ex.str.end())
          require_same_options(last_path, ini->second, resolved_ini);
        else
          log()->warn(
              "{}: saved without its training options (train_ini): the options cannot be "
              "checked against the run's",
              last_path);
      }
      pos.epoch = static_cast<int>(ex.get_int("epoch"));
      pos.batch = ex.get_int("batch");
      pos.step = ex.get_int("step");
      pos.skipped = ex.get_int("skipped");
      pos.impossible = ex.get_int("impossible");
      pos.elapsed_s = ex.f64.at("elapsed_s").at(0);
      pos.epoch_loss = ex.f64.at("epoch_loss").at(0);
      pos.epoch_finite = ex.get_int("epoch_finite");
      pos.best = ex.f64.at("best").at(0);
      sgd.set_velocity(ex.f32.at("velocity"));
      const auto& bn = ex.f32.at("bn_per_rank");
      const size_t nb = net.num_buffer_floats();
      if (ex.get_int("world_size") == world.size() && bn.size() == nb * world.size()) {
        be.upload(net.buffers(), bn.data() + world.rank() * nb, nb);
      } else if (root) {
        log()->warn(
            "{}: saved by {} ranks, running on {}: every rank starts from the averaged "
            "batch-norm statistics (results will not be bit-identical)",
            last_path, ex.get_int("world_size"), world.size());
      }
      if (root)
        log()->info("resuming {} at epoch {} batch {} (after step {})", last_path, pos.epoch + 1,
                    pos.batch + 1, pos.step);
    }
    bcast_params(world, be, net.params(), np);  // rank 0's parameters everywhere (trainer.h)

    if (root) {
      make_dirs(topt.out);
      write_file_atomic(topt.out + "/train.ini", resolved_ini);
      if (topt.resume) {
        truncate_csv(metrics_path, pos.step, 0);
        truncate_csv(topt.out + "/dev.csv", pos.step, 1);
      } else {
        std::error_code ec;
        fs::remove(metrics_path, ec);
        fs::remove(topt.out + "/dev.csv", ec);
      }
    }
    std::unique_ptr<CsvLog> metrics, dev_csv;
    if (root) {
      metrics = std::make_unique<CsvLog>(metrics_path,
                                         "step,epoch,loss,lr,grad_norm,utts_per_s,skipped,time");
      if (dev_loader)
        dev_csv = std::make_unique<CsvLog>(topt.out + "/dev.csv", "epoch,step,dev_loss,dev_cer");
    }

    // ---- replica check (collective): parameters and optimizer velocity, per tensor; host
    // views (the arenas themselves on the CPU, one download each from a device) ----
    std::vector<float> host_params, host_velocity;
    auto check = [&](int64_t step) {
      const float* p = be.host_view(net.params(), np, &host_params);
      const float* v = be.host_view(sgd.velocity_data(), np, &host_velocity);
      std::vector<ReplicaTensor> replica;
      for (const auto& t : net.params_info()) {
        replica.push_back({t.name, p + t.offset, t.size});
        replica.push_back({"velocity/" + t.name, v + t.offset, t.size});
      }
      check_replicas(world, replica, fmt::format("step {}", step));
    };

    // ---- checkpoints (collective: replicas checked, BN statistics gathered) ----
    const model::NormStats norm{index.mean, index.std};
    auto checkpoint = [&](const Position& p, bool best) {
      check(p.step);
      const BnState bn = gather_bn(world, net);
      if (!root) return;
      AveragedBn avg(net, bn);
      model::CheckpointExtras ex;
      ex.set_int("epoch", p.epoch);
      ex.set_int("batch", p.batch);
      ex.set_int("step", p.step);
      ex.set_int("skipped", p.skipped);
      ex.set_int("impossible", p.impossible);
      ex.set_int("world_size", world.size());
      ex.set_int("batch_size", sopt.batch_size);
      ex.set_int("shuffle_seed", static_cast<int64_t>(sopt.seed));
      ex.set_int("max_batch_frames", sopt.max_batch_frames);
      ex.str["dataset_digest"] = digest;
      ex.f64["elapsed_s"] = {p.elapsed_s};
      ex.f64["epoch_loss"] = {p.epoch_loss};
      ex.set_int("epoch_finite", p.epoch_finite);
      ex.f64["best"] = {p.best};
      ex.f64["lr"] = {oopt.lr_for_epoch(p.epoch)};
      ex.f32["velocity"] = sgd.velocity();
      ex.f32["bn_per_rank"] = bn.per_rank;
      ex.str["alphabet"] = index.meta.alphabet;
      ex.str["train_ini"] = resolved_ini;
      model::set_feature_meta(&ex, index.meta);  // what transcribe featurizes with, eval checks
      const std::string path = step_ckpt(topt.out, p.step);
      {
        std::lock_guard<std::mutex> lock(h5::mutex());
        model::save_checkpoint(path, net, norm, ex);
      }
      link_or_copy(path, last_path);
      if (best) link_or_copy(path, topt.out + "/ckpt-best.h5");
      prune(topt.out, topt.keep);
      log()->info("checkpoint {} (step {}; next: epoch {} batch {}{})", path, p.step, p.epoch + 1,
                  p.batch + 1, best ? "; best so far" : "");
    };

    // ---- the loop ----
    TrainSummary sum;
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return pos.elapsed_s +
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const int64_t steps_total = static_cast<int64_t>(schedule.batches_per_epoch()) * topt.epochs;
    const int64_t first_step = pos.step;
    int64_t utts_done = 0;
    bool first = true;
    Batch batch;
    while (pos.epoch < topt.epochs && !sum.stopped) {
      // This rank's slices of the epoch's batches; the global batches are not kept (memory that
      // grows with the corpus: 8 bytes per utterance).
      std::vector<std::vector<int64_t>> slices = schedule.epoch(pos.epoch);
      const size_t n_batches = slices.size();
      if (world.size() > 1)
        for (auto& b : slices) b = Schedule::slice(b, world.rank(), world.size());
      loader.start(std::move(slices), static_cast<size_t>(pos.batch), pos.step);
      const double lr = oopt.lr_for_epoch(pos.epoch);
      if (pos.batch == 0) pos.epoch_loss = 0, pos.epoch_finite = 0;
      while (pos.batch < static_cast<int64_t>(n_batches)) {
        DS2_REQUIRE(loader.next(&batch), Error, "loader ended early at epoch {} batch {}",
                    pos.epoch, pos.batch);
        const bool vote = stop.load() != 0 ||
                          (topt.stop_after_steps > 0 && pos.step + 1 == topt.stop_after_steps);
        if (topt.perturb_at_step == pos.step + 1 && world.rank() == world.size() - 1) {
          float p0 = 0;
          be.download(&p0, net.params(), 1);
          p0 += 1e-3f;
          be.upload(net.params(), &p0, 1);
        }
        const StepResult r = global_gradient_step(net, ar, buckets, batch, vote);
        if (r.skip()) {
          ++pos.skipped;
          if (root)
            log()->warn("step {} skipped: {} non-finite costs, {} finite, gradient norm {}",
                        pos.step + 1, r.nonfinite, r.finite, r.grad_norm);
        } else {
          // On the backend: the norm is the step's (same arena, same arithmetic), no 2nd pass.
          clip_to_norm(be, net.grads(), np, r.grad_norm, oopt.clip_norm);
          sgd.step(net.params(), net.grads(), np, lr);
          pos.epoch_loss += r.loss_sum;
          pos.epoch_finite += r.finite;
        }
        pos.impossible += r.impossible;
        ++pos.step;
        ++pos.batch;
        utts_done += r.utts;
        if (first) sum.first_loss = r.mean_loss(), first = false;
        if (root) {
          const double t = elapsed();
          const double run_s = t - pos.elapsed_s;
          const double ups = run_s > 0 ? utts_done / run_s : 0;
          const double s_per_step = run_s / std::max<int64_t>(1, pos.step - first_step);
          metrics->row(pos.step, pos.epoch + 1, r.mean_loss(), lr, r.grad_norm, ups, pos.skipped,
                       t);
          if (pos.step % std::max(1, topt.log_every) == 0 ||
              pos.batch == static_cast<int64_t>(n_batches))
            log()->info(
                "epoch {} step {}/{} loss {:.3f} lr {:.3g} |g| {:.3g} {:.1f} utt/s "
                "skipped {} ETA {}",
                pos.epoch + 1, pos.step, steps_total, r.mean_loss(), lr, r.grad_norm, ups,
                pos.skipped, Progress::format_duration(s_per_step * (steps_total - pos.step)));
        }
        if (topt.replica_check_every > 0 && pos.step % topt.replica_check_every == 0)
          check(pos.step);
        if (r.stop) {
          sum.stopped = true;
          break;
        }
        if (topt.checkpoint_every > 0 && pos.step % topt.checkpoint_every == 0 &&
            pos.batch < static_cast<int64_t>(n_batches)) {
          Position p = pos;
          p.elapsed_s = elapsed();
          checkpoint(p, false);
        }
      }
      const bool epoch_done = pos.batch == static_cast<int64_t>(n_batches);
      bool best = false;
      if (epoch_done) {
        sum.last_epoch_loss = pos.epoch_finite > 0 ? pos.epoch_loss / pos.epoch_finite : 0;
        double metric = sum.last_epoch_loss;
        if (root)
          log()->info(
              "epoch {} done: mean training loss {:.3f}; so far {} steps skipped, {} "
              "impossible utterances excluded",
              pos.epoch + 1, metric, pos.skipped, pos.impossible);
        if (dev_loader) {
          const BnState bn = gather_bn(world, net);
          AveragedBn avg(net, bn);
          const DevResult d =
              evaluate_dev(world, net, *dev_loader, dev_index, alphabet, topt.dev_batch_size);
          metric = d.cer();
          if (root) {
            log()->info("epoch {} dev: {} utterances, loss {:.3f}, greedy CER {:.2f}%",
                        pos.epoch + 1, d.utts, d.loss(), 100 * d.cer());
            dev_csv->row(pos.epoch + 1, pos.step, d.loss(), d.cer());
          }
        }
        best = metric < pos.best;
        if (best) pos.best = metric;
        ++pos.epoch;
        pos.batch = 0;
        sum.epochs_done = pos.epoch;
      }
      if (epoch_done || sum.stopped) {
        Position p = pos;
        p.elapsed_s = elapsed();
        checkpoint(p, best);
      }
    }
    if (root && sum.stopped)
      log()->info("stopped after step {} on request; resume with --resume", pos.step);
    sum.steps = pos.step;
    sum.skipped = pos.skipped;
    return sum;
  } catch (const std::exception& e) {
    abort_all(fmt::format("ds2 train (rank {}): {}", world.rank(), e.what()), 1);
  }
}

}  // namespace ds2::train
