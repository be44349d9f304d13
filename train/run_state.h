// Where a training run stands: the loop's position and counters, as a checkpoint stores them and
// --resume restores them.
//
// The mapping RunState <-> checkpoint extras is written once, as one schema (run_state.cc: a
// name and a member per field); save_run_state and load_run_state both walk it, so a field added
// to RunState and to the schema is saved and restored alike. Integer fields are stored as 1-element
// int64 extras, real ones as 1-element float64 extras (checkpoint.h), under these names:
//   epoch, batch, step, skipped, impossible, epoch_finite (i64); elapsed_s, epoch_loss, best (f64).
// Other programs read some of them too (ds2 sweep records "step" and "epoch" in its history).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "model/checkpoint.h"

namespace ds2::train {

struct RunState {
  int epoch = 0;             // epoch to run next (0-based)
  int64_t batch = 0;         // batch of that epoch to run next (0-based)
  int64_t step = 0;          // global steps done
  int64_t skipped = 0;       // skipped steps (trainer.h)
  int64_t impossible = 0;    // utterances whose CTC cost was impossible, summed over steps
  double elapsed_s = 0;      // training wall time before this invocation, in seconds
  double epoch_loss = 0;     // finite costs summed so far in the current epoch, in nats
  int64_t epoch_finite = 0;  // utterances with a finite cost so far in the current epoch
  double best = std::numeric_limits<double>::infinity();  // lowest epoch metric so far
};

// Stores every schema field of s in *ex (replacing any of the same name).
void save_run_state(const RunState& s, model::CheckpointExtras* ex);

// The schema fields from ex. FormatError naming `path` (the checkpoint) and the first field that is
// missing or not a 1-element array of its type.
RunState load_run_state(const model::CheckpointExtras& ex, const std::string& path);

}  // namespace ds2::train
