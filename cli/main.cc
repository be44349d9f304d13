// ds2: one binary, subcommands dispatched here and implemented in their folders.
// Every subcommand runs the same under mpirun, under sbatch/srun, and as a single process.
#include <cblas.h>

#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "core/blas_kernels.h"
#include "core/error.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/version.h"
#include "ds2/config.h"

namespace {

void usage() {
  std::cout << "ds2 " << DS2_VERSION << " (" << ds2::git_describe() << ")"
            << " -- Deep Speech 2 training on MPI clusters\n\n"
            << "usage: [mpirun -np N] ds2 <command> [options]   (ds2 <command> --help)\n\n"
            << "commands:\n";
  for (const auto& c : ds2::cli::commands())
    std::cout << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // First, before MPI and threads: OpenBLAS's own kernels for this CPU (core/blas_kernels.h).
  ds2::use_native_blas_kernels(openblas_get_corename(), argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "ds2 " << DS2_VERSION << " (" << ds2::git_describe() << ")\n";
    return 0;
  }
  const ds2::cli::Command* cmd = ds2::cli::find(argv[1]);
  if (!cmd) {
    std::cerr << "ds2: error: unknown command '" << argv[1] << "' (see ds2 --help)\n";
    return 2;
  }
  ds2::h5::disable_atexit_cleanup();  // a failed write must end in its error line, not a crash
  int rc = 1;
  try {
    ds2::MpiEnv env(&argc, &argv, cmd->mpi_thread_level);
    ds2::Comm world;
    ds2::init_logging(world.rank(), world.size());
    const std::string blas = ds2::blas_kernels_note(openblas_get_corename());
    // At debug level: an error must stay one line on stderr. The network's log line names the
    // kernels at info level; bench_model prints them in its header.
    if (world.root() && !blas.empty()) ds2::logger("ds2")->debug("{}", blas);
    try {
      rc = cmd->run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      // One line, then every rank goes down: a failing rank never leaves the others hung.
      ds2::abort_all(fmt::format("ds2 {}: {}", argv[1], e.what()), 1);
    }
  } catch (const std::exception& e) {
    std::cerr << "ds2: error: " << e.what() << "\n";
    return 1;
  }
  return rc;
}
