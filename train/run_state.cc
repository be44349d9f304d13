// RunState <-> checkpoint extras through one schema (see run_state.h).
#include "train/run_state.h"

#include <variant>

#include "core/error.h"

namespace ds2::train {
namespace {

// One row per checkpointed field: its extra name and the member it maps to.
struct Field {
  const char* name;
  std::variant<int RunState::*, int64_t RunState::*, double RunState::*> member;
};

const Field kSchema[] = {
    {"epoch", &RunState::epoch},
    {"batch", &RunState::batch},
    {"step", &RunState::step},
    {"skipped", &RunState::skipped},
    {"impossible", &RunState::impossible},
    {"elapsed_s", &RunState::elapsed_s},
    {"epoch_loss", &RunState::epoch_loss},
    {"epoch_finite", &RunState::epoch_finite},
    {"best", &RunState::best},
};

template <typename T>
const T& scalar(const std::map<std::string, std::vector<T>>& m, const char* name, const char* type,
                const std::string& path) {
  const auto it = m.find(name);
  DS2_REQUIRE(it != m.end() && it->second.size() == 1, FormatError,
              "{}: checkpoint extra '{}' missing or not one {}", path, name, type);
  return it->second[0];
}

}  // namespace

void save_run_state(const RunState& s, model::CheckpointExtras* ex) {
  for (const Field& f : kSchema) {
    if (auto m = std::get_if<double RunState::*>(&f.member))
      ex->f64[f.name] = {s.*(*m)};
    else if (auto m = std::get_if<int64_t RunState::*>(&f.member))
      ex->set_int(f.name, s.*(*m));
    else
      ex->set_int(f.name, s.*std::get<int RunState::*>(f.member));
  }
}

RunState load_run_state(const model::CheckpointExtras& ex, const std::string& path) {
  RunState s;
  for (const Field& f : kSchema) {
    if (auto m = std::get_if<double RunState::*>(&f.member))
      s.*(*m) = scalar(ex.f64, f.name, "float64", path);
    else if (auto m = std::get_if<int64_t RunState::*>(&f.member))
      s.*(*m) = scalar(ex.i64, f.name, "int64", path);
    else
      s.*std::get<int RunState::*>(f.member) =
          static_cast<int>(scalar(ex.i64, f.name, "int64", path));
  }
  return s;
}

}  // namespace ds2::train
