// The synchronous data-parallel training loop behind `ds2 train`.
//
// Start-up: every rank builds the same Network from the same seed, then rank 0's parameters are
// broadcast anyway (a guard against any rank-dependent initialization, and what makes a resumed
// or externally loaded model consistent). Each step: the loader hands this rank its slice of the
// global batch; global_gradient_step() (grad_sync.h) runs forward/backward with the gradient
// buckets all-reduced during the backward pass and averages over the global count of utterances
// with a finite cost; a step with a non-finite cost of a possible utterance, no finite cost at all
// or a non-finite gradient norm is SKIPPED and counted (parameters, optimizer state and
// batch-norm running statistics untouched; the step still advances); otherwise the gradient is
// clipped and SgdNesterov updates the parameters. Every rank applies the same update to the same
// parameters, so replicas stay bit-identical -- which is checked, not assumed: every
// --replica-check-every steps and at each checkpoint a digest per tensor of the parameters and
// the optimizer velocity is compared across ranks (replica_check.h), and a mismatch aborts the
// job naming the ranks and the first differing tensor.
//
// Device: parameters, gradients, the optimizer velocity and the batch-norm statistics stay in the
// network backend's memory (GPU memory with model.device=cuda); averaging, norm, clipping and the
// update are backend ops, and only the replica check, checkpoints (one download per arena), the
// start-up broadcast and dev evaluation copy them to the host.
//
// Batch-norm running statistics are computed by each rank on its own slice and are kept per rank
// during training (they never influence a training step). Whenever they are used or saved --
// dev evaluation, checkpoints -- the average over ranks is swapped in temporarily; checkpoints
// store that average in /buffers (what eval uses) and every rank's own statistics in the extras
// ("bn_per_rank"), which --resume restores when the rank count is unchanged, so a resumed run is
// bit-identical to an uninterrupted one.
//
// Stopping: the caller's stop flag (set by SIGTERM/SIGUSR1) and --stop-after-steps are this
// rank's vote, OR-ed over ranks inside each step's counter reduction, so all ranks finish the same
// step, write a checkpoint and return. --resume reads RUN/ckpt-last.h5 and restarts at the saved
// (epoch, batch in epoch): the schedule is a pure function of (index, options, epoch) and there
// is no other random state in training. It first checks that the options, the dataset and the
// model are the run's own (resume_check.h) and refuses any difference naming the field.
//
// Outputs in RUN/ (rank 0): train.ini (resolved options), metrics.csv (one row per step, epochs
// counted from 1:
// step,epoch,loss,lr,grad_norm,utts_per_s,skipped,time), dev.csv (epoch,step,dev_loss,dev_cer
// with --dev), ckpt-step<N>.h5 (every --checkpoint-every steps and at each epoch end; the
// newest --keep are kept), ckpt-last.h5 and ckpt-best.h5 (lowest dev CER with --dev, else lowest
// epoch-mean training loss), hard links to a ckpt-step file.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/mpi.h"
#include "core/options.h"
#include "model/config.h"
#include "train/allreduce.h"
#include "train/loader.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace ds2::train {

struct TrainOptions {
  std::string data;              // prepared training set (index.h5 + shards)
  std::string out;               // run folder
  std::string dev;               // optional prepared dev set
  int epochs = 10;               // total epochs (a resumed run continues up to this)
  bool resume = false;           // continue from RUN/ckpt-last.h5
  int64_t checkpoint_every = 0;  // steps between checkpoints (0: epoch ends only)
  int keep = 3;                  // newest ckpt-step files kept
  std::string metrics;           // default RUN/metrics.csv
  int log_every = 10;            // rank 0 logs every this many steps (and at epoch end)
  int dev_batch_size = 32;
  double bucket_mib = 8;              // gradient all-reduce bucket size
  int64_t stop_after_steps = 0;       // testing: act as if SIGTERM arrived during step N (0: off)
  int64_t replica_check_every = 100;  // steps between replica checks (0: at checkpoints only)
  // testing: before this step (1-based), rank (world size - 1) adds 1e-3 to its first parameter,
  // the divergence the replica check must catch (0: off)
  int64_t perturb_at_step = 0;
  int gpu = -1;  // model.device=cuda: CUDA device index (-1: DS2_GPU, else the node-local rank)
  void add_to(po::options_description& d);
};

struct TrainSummary {
  int64_t steps = 0;           // global steps done (whole run, across resumes)
  int epochs_done = 0;         // completed epochs
  int64_t skipped = 0;         // skipped steps (whole run)
  bool stopped = false;        // stopped by a signal / --stop-after-steps before the end
  double first_loss = 0;       // mean per-utterance loss of the first step of this invocation
  double last_epoch_loss = 0;  // mean per-utterance loss over the last completed epoch
};

// Collective over `world`. Runs the whole training job; rank 0 writes the outputs. `stop` may be
// set asynchronously (from a signal handler). `resolved_ini` is written to RUN/train.ini.
// Throws on any error (ConfigError for options, IoError/FormatError for data naming the file).
TrainSummary run_training(const Comm& world, const TrainOptions& topt, const ScheduleOptions& sopt,
                          const LoaderOptions& lopt, const OptimizerOptions& oopt,
                          const AllreduceOptions& aopt, const model::ModelConfig& mcfg,
                          const std::string& resolved_ini, const std::atomic<int>& stop);

}  // namespace ds2::train
