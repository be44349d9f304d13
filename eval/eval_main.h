// `ds2 eval`: WER/CER of a checkpoint on a prepared dataset, distributed over ranks
// (eval/evaluate.h describes the algorithm and the output files), and `ds2 decode`: the same
// decoding and scoring of log-probabilities stored by `ds2 eval --save-logprobs`, without the
// network.
#pragma once

#include "core/mpi.h"
#include "eval/evaluate.h"

namespace ds2::eval {

// argv[0] is "eval". Collective under mpirun; rank 0 writes EVALDIR and prints one summary line
//   WER 12.50% (3/1/0) CER 4.10% on 40 utterances, RTF 0.012
// (sub/del/ins of the word alignment). Exit code 0 on success; errors throw.
int eval_main(int argc, char** argv);

// argv[0] is "decode": `ds2 decode --logprobs F [--data DIR] --out DIR` + the decoder options of
// ds2 eval. DIR defaults to the dataset folder F was written over. Writes what ds2 eval writes
// (byte for byte the same files for the same decoder settings) and prints the same line.
int decode_main(int argc, char** argv);

// Rank 0 prints `s` as the one summary line above; the other ranks print nothing.
void print_summary(const Comm& world, const EvalSummary& s);

}  // namespace ds2::eval
