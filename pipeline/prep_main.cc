// `ds2 prep`: parse options, run the job (pipeline/prep.cc), report. Kaldi tool shape: bad
// inputs are counted into rejects.tsv; the exit code is non-zero only when nothing was accepted.
#include "pipeline/prep_main.h"

#include "core/fs.h"
#include "core/log.h"
#include "core/malloc_policy.h"
#include "core/options.h"
#include "pipeline/prep.h"

namespace ds2::pipeline {

int prep_main(int argc, char** argv) {
  PrepOptions o;
  po::options_description desc("ds2 prep options", 100, 50);
  o.add_to(desc);
  CommandArgs args;
  if (!start_command(argc, argv, "ds2 prep --manifest FILE --out DIR [--shards N] [options]", desc,
                     &args))
    return 0;
  retain_freed_memory();  // per-utterance buffers reused, not faulted in again
                          // (core/malloc_policy.h)
  Comm world;
  const std::string command = command_line(argc, argv);
  if (world.root()) {
    make_dirs(o.out);
    write_file_atomic(o.out + "/prep.ini", "# " + command + "\n" + resolved_config(args.vm));
  }
  PrepResult r = run_prep(world, o, "ds2 " + command);
  if (world.root() && r.accepted == 0) {
    logger("prep")->error("no utterance was accepted out of {} rows", r.rows);
    return 1;
  }
  return 0;
}

}  // namespace ds2::pipeline
