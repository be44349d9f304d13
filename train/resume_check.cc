// Options and dataset digests compared on --resume (see resume_check.h).
#include "train/resume_check.h"

#include <map>
#include <sstream>

#include "core/error.h"
#include "pipeline/dataset_digest.h"

namespace ds2::train {

namespace {

// "key = value" lines of a resolved train.ini; keys under "[model]" become "model.<key>".
std::map<std::string, std::string> parse_resolved_ini(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      const size_t close = line.find(']');
      section = line.substr(1, close == std::string::npos ? std::string::npos : close - 1);
      continue;
    }
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    out[section.empty() ? key : section + "." + key] = line.substr(eq + 3);
  }
  return out;
}

}  // namespace

const std::set<std::string>& resume_may_change() {
  static const std::set<std::string> keys = {
      // where things go and how long the run is
      "data", "out", "dev", "dev-batch-size", "epochs", "metrics",
      // how often it reports, checks and checkpoints
      "checkpoint-every", "keep", "log-every", "verbose", "replica-check-every", "perturb-at-step",
      // buffering and communication (the same sums, up to floating-point order)
      "prefetch", "max-open-shards", "bucket-mib", "allreduce", "allreduce-chunk-kib",
      "allreduce-depth", "allreduce-threshold-kib", "check-collectives",
      // where it runs; the initialization seed is moot once parameters come from a checkpoint
      "model.device", "model.num_threads", "model.seed", "gpu"};
  return keys;
}

void require_same_options(const std::string& checkpoint, const std::string& saved_ini,
                          const std::string& current_ini) {
  const auto saved = parse_resolved_ini(saved_ini);
  const auto now = parse_resolved_ini(current_ini);
  const auto& free = resume_may_change();
  for (const auto& [key, value] : saved) {
    if (free.count(key)) continue;
    const auto it = now.find(key);
    const std::string current = it == now.end() ? "(not set)" : it->second;
    DS2_REQUIRE(current == value, ConfigError,
                "{}: option '{}' is {} in the run being resumed but {} now (--resume refuses "
                "options that change the batch schedule, the data or the model; start a new --out "
                "instead)",
                checkpoint, key, value.empty() ? "(empty)" : value,
                current.empty() ? "(empty)" : current);
  }
}

std::string dataset_digest(const std::string& data_dir, const pipeline::DatasetIndex& index) {
  return pipeline::dataset_digest(data_dir, index);  // shared with `ds2 sweep`
}

bool require_same_dataset(const std::string& checkpoint, const model::CheckpointExtras& saved,
                          const std::string& data_file, const std::string& digest) {
  const auto it = saved.str.find("dataset_digest");
  if (it == saved.str.end()) return false;
  DS2_REQUIRE(it->second == digest, ConfigError,
              "{}: the dataset {} is not the one the run was trained on (dataset digest {} in the "
              "checkpoint, {} now: re-prepared with other inputs or settings); --resume refuses "
              "it, start a new --out instead",
              checkpoint, data_file, it->second, digest);
  return true;
}

}  // namespace ds2::train
