// `ds2 score`: WER/CER of a hypothesis trn file against a reference trn file (decode/wer.h).
#pragma once

namespace ds2::eval {

// argv[0] is "score". Runs on one process (under mpirun every rank computes the same, rank 0
// prints). Exit code 0 on success; errors (missing/extra ids, bad files) throw.
int score_main(int argc, char** argv);

}  // namespace ds2::eval
