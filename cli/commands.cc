#include "cli/commands.h"

#include <mpi.h>

#include <cstring>

#include "pipeline/prep_main.h"

namespace ds2::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"prep", "corpus -> HDF5 spectrogram shards (+ augmentation), balanced over ranks",
       &ds2::pipeline::prep_main, MPI_THREAD_FUNNELED},
  };
  return table;
}

const Command* find(const char* name) {
  for (const auto& c : commands())
    if (!std::strcmp(c.name, name)) return &c;
  return nullptr;
}

}  // namespace ds2::cli
