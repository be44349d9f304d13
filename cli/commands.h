// The table of ds2 subcommands. Each entry points at a `*_main(argc, argv)` in its folder,
// with argv[0] being the subcommand name.
#pragma once

#include <vector>

namespace ds2::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
  int mpi_thread_level;  // MPI_THREAD_* the command needs
};

const std::vector<Command>& commands();
const Command* find(const char* name);

}  // namespace ds2::cli
