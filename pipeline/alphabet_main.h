// `ds2 alphabet`: a training manifest -> an alphabet file (see pipeline/alphabet_main.cc).
#pragma once

namespace ds2::pipeline {

// argv[0] is "alphabet". One process (no collectives); under mpirun only rank 0 writes.
int alphabet_main(int argc, char** argv);

}  // namespace ds2::pipeline
