// What `ds2 train --resume` must find unchanged before it continues a run.
//
// A resumed run restarts at (epoch, batch k) of the saved schedule. That position only means the
// same thing if the schedule, the data and the model are the ones the run was trained with: a
// changed --sortagrad or --drop-last, a re-prepared dataset or another model setting would
// silently continue at batch k of a different run. So a checkpoint stores the resolved training
// options (extra "train_ini") and a digest of the dataset (extra "dataset_digest"), and a resume
// compares both, refusing the first difference in one line that names the field.
//
// Options: every option of the resolved train.ini must have the same value, except the run
// settings listed in resume_may_change() (where output goes, how long to run, how often to log or
// checkpoint, threads, devices, all-reduce algorithm and buffering): those change neither the
// batches nor the arithmetic of an update beyond floating-point summation order. An option new
// since the checkpoint was written (absent from its train_ini) is not compared.
//
// Dataset: dataset_digest() covers what the schedule and the loaded batches depend on -- per
// utterance (shard, row, frames, label length, duration), the shard file names and each shard's
// plan digest (its utterances, paths, transcripts and augmentation, prep_plan.h), the
// normalization statistics and the feature settings -- so a dataset re-prepared identically
// resumes and one prepared differently does not. Moving the dataset folder is allowed.
#pragma once

#include <set>
#include <string>

#include "model/checkpoint.h"
#include "pipeline/index.h"

namespace ds2::train {

// Hex FNV-1a 64 digest of a prepared dataset (see above): pipeline::dataset_digest
// (pipeline/dataset_digest.h), which `ds2 sweep` keys its history on too. Opens every shard once
// for its plan digest attribute (no dataset reads). IoError/FormatError naming the shard.
std::string dataset_digest(const std::string& data_dir, const pipeline::DatasetIndex& index);

// Option keys (as in train.ini; model fields as "model.<key>") that may differ on --resume.
const std::set<std::string>& resume_may_change();

// ConfigError naming `checkpoint` and the first option whose value in `saved_ini` (the
// checkpoint's train_ini) differs from `current_ini` (this invocation's resolved options), or
// that is missing from the current options:
//   "RUN/ckpt-last.h5: option 'sortagrad' is true in the run being resumed but false now
//    (--resume refuses options that change the batch schedule, the data or the model)".
void require_same_options(const std::string& checkpoint, const std::string& saved_ini,
                          const std::string& current_ini);

// ConfigError when `digest` of `data_file` differs from the checkpoint's saved dataset digest.
// Returns false without checking when the checkpoint has none (written before digests were
// saved); the caller warns.
bool require_same_dataset(const std::string& checkpoint, const model::CheckpointExtras& saved,
                          const std::string& data_file, const std::string& digest);

}  // namespace ds2::train
