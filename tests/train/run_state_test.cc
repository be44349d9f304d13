// RunState <-> checkpoint extras (train/run_state.h). Oracle: the extra names and types written
// out by hand below, as the checkpoint format (and ds2 sweep's reading of "step"/"epoch") fixes
// them -- not the schema's own list; a field missing from the schema or stored under another name
// or type fails here.
#include "train/run_state.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace ds2::train {
namespace {

RunState distinct() {
  RunState s;
  s.epoch = 3;
  s.batch = 17;
  s.step = 1234;
  s.skipped = 5;
  s.impossible = 7;
  s.elapsed_s = 12.5;
  s.epoch_loss = 99.25;
  s.epoch_finite = 321;
  s.best = 0.125;
  return s;
}

TEST(RunState, SavesEveryFieldUnderItsNameAndType) {
  model::CheckpointExtras ex;
  save_run_state(distinct(), &ex);
  model::CheckpointExtras want;
  want.i64 = {{"epoch", {3}},   {"batch", {17}},     {"step", {1234}},
              {"skipped", {5}}, {"impossible", {7}}, {"epoch_finite", {321}}};
  want.f64 = {{"elapsed_s", {12.5}}, {"epoch_loss", {99.25}}, {"best", {0.125}}};
  EXPECT_EQ(ex.i64, want.i64);
  EXPECT_EQ(ex.f64, want.f64);
  EXPECT_TRUE(ex.f32.empty() && ex.str.empty() && ex.u64.empty() && ex.u8.empty());
}

TEST(RunState, LoadsHandWrittenExtras) {
  model::CheckpointExtras ex;
  ex.i64 = {{"epoch", {3}},      {"batch", {17}},         {"step", {1234}},   {"skipped", {5}},
            {"impossible", {7}}, {"epoch_finite", {321}}, {"world_size", {2}}};
  ex.f64 = {{"elapsed_s", {12.5}}, {"epoch_loss", {99.25}}, {"best", {0.125}}, {"lr", {1e-3}}};
  const RunState s = load_run_state(ex, "RUN/ckpt-last.h5");
  const RunState w = distinct();
  EXPECT_EQ(s.epoch, w.epoch);
  EXPECT_EQ(s.batch, w.batch);
  EXPECT_EQ(s.step, w.step);
  EXPECT_EQ(s.skipped, w.skipped);
  EXPECT_EQ(s.impossible, w.impossible);
  EXPECT_EQ(s.elapsed_s, w.elapsed_s);
  EXPECT_EQ(s.epoch_loss, w.epoch_loss);
  EXPECT_EQ(s.epoch_finite, w.epoch_finite);
  EXPECT_EQ(s.best, w.best);
}

std::string load_error(const model::CheckpointExtras& ex) {
  try {
    load_run_state(ex, "RUN/ckpt-last.h5");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(RunState, MissingOrMistypedFieldIsNamed) {
  model::CheckpointExtras full;
  save_run_state(distinct(), &full);
  model::CheckpointExtras ex = full;
  ex.i64.erase("impossible");
  EXPECT_NE(load_error(ex).find("RUN/ckpt-last.h5: checkpoint extra 'impossible' missing"),
            std::string::npos)
      << load_error(ex);
  ex = full;
  ex.f64.erase("best");
  ex.i64["best"] = {1};  // wrong type
  EXPECT_NE(load_error(ex).find("extra 'best' missing or not one float64"), std::string::npos)
      << load_error(ex);
  ex = full;
  ex.i64["step"] = {1, 2};  // not a scalar
  EXPECT_NE(load_error(ex).find("extra 'step'"), std::string::npos) << load_error(ex);
}

}  // namespace
}  // namespace ds2::train
