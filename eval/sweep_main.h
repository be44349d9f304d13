// `ds2 sweep`: checkpoints x alpha x beta x beam on one dataset, appended to an SQLite history,
// with an HTML report (eval/sweep.h, eval/history.h, eval/report.h).
#pragma once

namespace ds2::eval {

// argv[0] is "sweep". Collective under mpirun; rank 0 writes the history and the report and
// prints one line per result (decoder: greedy, beam W, or beam W alpha A beta B):
//   WER 12.50% CER 4.10% RUN/ckpt-best.h5 step 120 beam 16 alpha 0.5 beta 1
// Without --models it only rewrites --report from --db (rank 0). Exit code 0; errors throw.
int sweep_main(int argc, char** argv);

}  // namespace ds2::eval
