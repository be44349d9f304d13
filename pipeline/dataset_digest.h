// The content digest of a prepared dataset (DATA/index.h5 + its shards), shared by
// `ds2 train --resume` (train/resume_check.h: is this the data the run was trained on?) and
// `ds2 sweep` (eval/sweep.h: has this dev set been scored before?).
//
// It covers what the batches and their transcripts depend on: per utterance (shard, row,
// frames, label length, duration), the shard file names and each shard's plan digest (its
// utterances, audio paths, transcripts and augmentation: the `plan_digest` attribute prep
// writes), the normalization statistics, the alphabet and the feature settings. So a dataset
// re-prepared identically has the same digest, one prepared differently (another manifest,
// other transcripts, other features) does not, and moving the folder changes nothing. It reads
// index.h5 (already in `index`) and one attribute per shard, never the features.
#pragma once

#include <string>

#include "pipeline/index.h"

namespace ds2::pipeline {

// 16 hex digits (FNV-1a 64, core/rng.h). `data_dir` is the folder of `index`. IoError /
// FormatError naming the shard that cannot be opened or has no plan_digest attribute.
std::string dataset_digest(const std::string& data_dir, const DatasetIndex& index);

}  // namespace ds2::pipeline
