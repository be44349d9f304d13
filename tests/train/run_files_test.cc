// The run folder's files (train/run_files.h). Oracles: hand-written folder contents and CSV texts
// (which ckpt-step files survive, numerically newest first; which rows a resume keeps).
#include "train/run_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "core/fs.h"
#include "tests/testutil.h"

namespace ds2::train {
namespace {

std::set<std::string> names(const std::string& dir) {
  std::set<std::string> s;
  for (const auto& e : std::filesystem::directory_iterator(dir)) s.insert(e.path().filename());
  return s;
}

TEST(RunFiles, PruneKeepsTheNumericallyNewest) {
  test::TempDir d("ds2-runfiles");
  for (const char* n : {"ckpt-step9.h5", "ckpt-step10.h5", "ckpt-step100.h5", "ckpt-step2.h5",
                        "ckpt-stepx.h5", "ckpt-last.h5", "other.h5"})
    write_file_atomic(d / n, "x");
  prune_step_checkpoints(d.path(), 2);
  EXPECT_EQ(names(d.path()), (std::set<std::string>{"ckpt-step10.h5", "ckpt-step100.h5",
                                                    "ckpt-stepx.h5", "ckpt-last.h5", "other.h5"}));
  prune_step_checkpoints(d.path(), 0);  // at least one is kept
  EXPECT_EQ(names(d.path()).count("ckpt-step100.h5"), 1u);
  EXPECT_EQ(names(d.path()).count("ckpt-step10.h5"), 0u);
}

TEST(RunFiles, TruncateKeepsHeaderAndRowsUpToTheStep) {
  test::TempDir d("ds2-runfiles");
  write_file_atomic(d / "m.csv", "step,epoch\n1,1\n2,1\n3,2\n10,2\n");
  truncate_csv(d / "m.csv", 2, 0);
  EXPECT_EQ(read_file(d / "m.csv"), "step,epoch\n1,1\n2,1\n");
  write_file_atomic(d / "dev.csv", "epoch,step,dev_loss\n1,4,0.5\n2,8,0.25\n");
  truncate_csv(d / "dev.csv", 4, 1);
  EXPECT_EQ(read_file(d / "dev.csv"), "epoch,step,dev_loss\n1,4,0.5\n");
  truncate_csv(d / "absent.csv", 4, 1);  // nothing to do
  EXPECT_FALSE(file_exists(d / "absent.csv"));
}

TEST(RunFiles, CommitLinksLastAndBestToTheStepFile) {
  test::TempDir d("ds2-runfiles");
  const RunFiles f(d.path(), "");
  EXPECT_EQ(f.metrics_path(), d / "metrics.csv");
  write_file_atomic(f.step_path(4), "four");
  f.commit_checkpoint(4, true, 3);
  write_file_atomic(f.step_path(8), "eight");
  f.commit_checkpoint(8, false, 3);
  EXPECT_EQ(read_file(f.last_path()), "eight");
  EXPECT_EQ(read_file(f.best_path()), "four");
}

}  // namespace
}  // namespace ds2::train
