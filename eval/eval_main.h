// `ds2 eval`: WER/CER of a checkpoint on a prepared dataset, distributed over ranks
// (eval/evaluate.h describes the algorithm and the output files).
#pragma once

namespace ds2::eval {

// argv[0] is "eval". Collective under mpirun; rank 0 writes EVALDIR and prints one summary line
//   WER 12.50% (3/1/0) CER 4.10% on 40 utterances, RTF 0.012
// (sub/del/ins of the word alignment). Exit code 0 on success; errors throw.
int eval_main(int argc, char** argv);

}  // namespace ds2::eval
