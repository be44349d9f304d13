// `ds2 train`: synchronous data-parallel training (see train/trainer.h).
#pragma once

namespace ds2::train {

// argv[0] is "train". Collective over MPI_COMM_WORLD; needs MPI_THREAD_MULTIPLE for overlapped
// gradient all-reduce (works, without overlap, with less). Returns 0 also when stopped by
// SIGTERM/SIGUSR1 (after a checkpoint).
int train_main(int argc, char** argv);

}  // namespace ds2::train
