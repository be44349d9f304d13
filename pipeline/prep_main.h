// `ds2 prep`: corpus manifest -> HDF5 spectrogram shards + index.h5 (see pipeline/prep_main.cc).
#pragma once

namespace ds2::pipeline {

// argv[0] is "prep". Collective over MPI_COMM_WORLD.
int prep_main(int argc, char** argv);

}  // namespace ds2::pipeline
