// Model checkpoints in HDF5 (format "ds2-checkpoint", version 1), written to a temporary name
// and renamed when complete, so a killed job never leaves a half checkpoint that looks whole.
//
//   /                 attrs: format, version, created_by, model_config (INI text of the
//                            ModelConfig, see config.h), num_params
//   /config           attrs: every architecture field, typed (int64, float64 or string)
//   /params/<name>    float32, the tensor's shape (one dataset per parameter, e.g. "rnn0.fwd.U")
//   /buffers/<name>   float32, batch-norm running statistics ("conv0.bn.running_mean", ...)
//   /norm/mean, /norm/std   float64 [n_bins] feature normalization (when given)
//   /extra/<name>     the trainer's named arrays: float32, float64, int64, uint64, uint8 or a
//                     string; /extra/index lists "<type>:<name>" for each (types f32 f64 i64
//                     u64 u8 str). Scalars (step, epoch, ...) are 1-element arrays.
//                     What inference reads from them (written by ds2 train, see below):
//                     alphabet (str), train_ini (str: the resolved training options),
//                     feature.sample_rate (i64, Hz), feature.window_ms, feature.hop_ms (f64,
//                     ms), feature.n_bins (i64), feature.kind (str: log | log1p).
// Floats are stored as written, so save + load is bit-exact. h5dump and h5py read the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "pipeline/shard.h"

namespace ds2::model {

class Network;

// Per-bin feature normalization: x' = (x - mean) / std.
struct NormStats {
  std::vector<double> mean, std;
};

// An extensible set of named arrays for the trainer (optimizer state, step, epoch, sampler
// position, RNG state, strings). Names must be non-empty and contain no '/'.
struct CheckpointExtras {
  std::map<std::string, std::vector<float>> f32;
  std::map<std::string, std::vector<double>> f64;
  std::map<std::string, std::vector<int64_t>> i64;
  std::map<std::string, std::vector<uint64_t>> u64;
  std::map<std::string, std::vector<uint8_t>> u8;
  std::map<std::string, std::string> str;

  void set_int(const std::string& name, int64_t v) { i64[name] = {v}; }
  // The scalar `name`; FormatError when missing or not a 1-element int64 array.
  int64_t get_int(const std::string& name) const;
  bool operator==(const CheckpointExtras& o) const {
    return f32 == o.f32 && f64 == o.f64 && i64 == o.i64 && u64 == o.u64 && u8 == o.u8 &&
           str == o.str;
  }
};

// Writes net's parameters, buffers and config, `norm` (skipped when empty) and `extras` to
// `path` atomically (temp name + rename). Throws IoError naming the file on failure.
void save_checkpoint(const std::string& path, Network& net, const NormStats& norm = {},
                     const CheckpointExtras& extras = {});

// The ModelConfig stored in a checkpoint (to build the Network for it). The run settings
// (device, num_threads) are the stored ones; override them before constructing.
ModelConfig read_checkpoint_config(const std::string& path);

// Loads parameters and buffers into net, and norm/extras when non-null. A checkpoint made for
// a different architecture is a ConfigError naming the checkpoint and the first mismatching
// field (e.g. "ckpt.h5: model.rnn_hidden is 256 in the checkpoint but 128 in this model").
// A file that is not a ds2 checkpoint, or lacks a tensor, is a FormatError.
void load_checkpoint(const std::string& path, Network& net, NormStats* norm = nullptr,
                     CheckpointExtras* extras = nullptr);

// Only the extras of a checkpoint (no Network needed), as load_checkpoint reads them.
CheckpointExtras read_checkpoint_extras(const std::string& path);

// ---- inference metadata in the trainer's extras ----
// The feature settings of the training data: the index's FeatureMeta fields sample_rate,
// window_ms, hop_ms, n_bins, feature (not its alphabet, stored as "alphabet", nor created_by).
// Checkpoints written before these were stored have none; readers then assume the defaults
// (FeatureMeta{}), which is what every such checkpoint was trained on unless prep was given
// --sample-rate/--window-ms/--hop-ms/--feature.

// Stores m's feature fields in ex (the feature.* extras above), replacing any.
void set_feature_meta(CheckpointExtras* ex, const pipeline::FeatureMeta& m);
// Reads them into *m (its other fields untouched) and returns true; returns false with *m
// untouched when ex has none. FormatError (naming `path`, the checkpoint, and the extra) when
// only some are there or one has the wrong type or size.
bool get_feature_meta(const CheckpointExtras& ex, const std::string& path,
                      pipeline::FeatureMeta* m);
// The feature fields of m as (name, value text) pairs in the order above; two settings agree
// iff their lists are equal (numbers are printed exactly).
std::vector<std::pair<std::string, std::string>> feature_fields(const pipeline::FeatureMeta& m);
// ConfigError on the first field where `data` (the settings of `data_file`, e.g.
// DATA/index.h5) differs from `trained` (the checkpoint's): "CKPT: feature setting 'hop_ms' is
// 10 in the checkpoint but 20 in DATA/index.h5".
void require_same_features(const std::string& checkpoint, const pipeline::FeatureMeta& trained,
                           const std::string& data_file, const pipeline::FeatureMeta& data);

// The `normalize = MODE` line of the training options stored as extra "train_ini" (the flat
// part before the first [section]); "" when there is none.
std::string trained_normalize(const CheckpointExtras& ex);

}  // namespace ds2::model
