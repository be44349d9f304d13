// `ds2 train`: options, signal handling, then run_training() (train/trainer.cc).
//
// Model options come from the [model] section of the --config INI (ModelConfig::from_ini_file)
// and are registered with those values as defaults, so model.<key> on the command line wins;
// the other options may sit in the INI's [train] section or at its top.
#include "train/train_main.h"

#include <atomic>
#include <csignal>
#include <cstring>
#include <sstream>
#include <string>

#include "core/log.h"
#include "core/node.h"
#include "core/options.h"
#include "model/device.h"
#include "train/trainer.h"

namespace ds2::train {
namespace {

// The one piece of process state a signal handler can reach: set by SIGTERM/SIGUSR1 (lock-free,
// async-signal-safe), read by the training loop once per step.
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "signal flag must be lock-free");

extern "C" void on_stop_signal(int sig) { g_stop.store(sig); }

// The --config value from argv (before the full parse, to seed the model defaults).
std::string config_arg(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc) return argv[i + 1];
    if (!std::strncmp(argv[i], "--config=", 9)) return argv[i] + 9;
  }
  return "";
}

// resolved_config() without the model.* lines, then the model as a [model] section, so the file
// is a valid --config for `ds2 train` again.
std::string resolved_ini(const po::variables_map& vm, const model::ModelConfig& cfg,
                         const std::string& command) {
  std::string flat, line;
  std::istringstream in(resolved_config(vm));
  while (std::getline(in, line))
    // model.* go to the [model] section; one-shot switches are not part of the run's config.
    if (line.rfind("model.", 0) != 0 && line.rfind("resume ", 0) != 0 &&
        line.rfind("stop-after-steps ", 0) != 0 && line.rfind("perturb-at-step ", 0) != 0)
      flat += line + "\n";
  return "# " + command + "\n" + flat + "\n" + cfg.to_ini();
}

}  // namespace

int train_main(int argc, char** argv) {
  const std::string config = config_arg(argc, argv);
  model::ModelConfig mcfg =
      config.empty() ? model::ModelConfig() : model::ModelConfig::from_ini_file(config);
  TrainOptions topt;
  ScheduleOptions sopt;
  LoaderOptions lopt;
  OptimizerOptions oopt;
  AllreduceOptions aopt;
  po::options_description desc("ds2 train options");
  po::options_description d_train("Training"), d_sched("Batches"), d_load("Loader"),
      d_opt("Optimizer"), d_ar("All-reduce"), d_model("Model ([model] section of --config)");
  topt.add_to(d_train);
  sopt.add_to(d_sched);
  lopt.add_to(d_load);
  oopt.add_to(d_opt);
  aopt.add_to(d_ar);
  mcfg.add_to(d_model);
  desc.add(d_train).add(d_sched).add(d_load).add(d_opt).add(d_ar).add(d_model);
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 train --data DIR --config share/configs/ds2-small.ini --out RUN "
                     "[--dev DIR] [--epochs N] [--resume] [options]",
                     desc, &args))
    return 0;
  mcfg.validate();
  Comm world;
  // Requests this build or machine cannot serve are refused here, in one line, before any work.
  model::select_gpu(mcfg.device, node_place(world), topt.gpu);  // one GPU per rank (device.h)
  require_nccl_possible(aopt, model::parse_device(mcfg.device));
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
  const TrainSummary s =
      run_training(world, topt, sopt, lopt, oopt, aopt, mcfg,
                   resolved_ini(args.vm, mcfg, "ds2 " + command_line(argc, argv)), g_stop);
  if (world.root())
    logger("train")->info("done: {} steps, {} epochs complete, {} skipped{}", s.steps,
                          s.epochs_done, s.skipped, s.stopped ? " (stopped on request)" : "");
  return 0;
}

}  // namespace ds2::train
