// --resume's option comparison (train/resume_check.h) on resolved train.ini texts written the way
// `ds2 train` writes them: every option that shapes the schedule, the data or the model refuses a
// change with its name in the message; the run settings listed as free may change.
#include "train/resume_check.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace ds2::train {
namespace {

const std::vector<std::pair<std::string, std::string>> kFlat = {
    {"allreduce", "auto"},   {"anneal", "1.1"},    {"batch-size", "16"},      {"bucket-mib", "8"},
    {"clip-norm", "400"},    {"data", "/d/train"}, {"drop-last", "false"},    {"epochs", "8"},
    {"log-every", "10"},     {"lr", "0.003"},      {"max-batch-frames", "0"}, {"momentum", "0.9"},
    {"normalize", "global"}, {"out", "runs/a"},    {"shuffle-seed", "1"},     {"sortagrad", "true"},
    {"weight-decay", "0"}};
const std::vector<std::pair<std::string, std::string>> kModel = {
    {"device", "cpu"},      {"num_threads", "0"},  {"seed", "1"},
    {"bn_momentum", "0.1"}, {"rnn_hidden", "256"}, {"conv_stride", "2x2 2x1"}};

// A resolved train.ini with `key` (flat or "model.<key>") set to `value`.
std::string ini(const std::string& key = "", const std::string& value = "") {
  std::string s = "# ds2 train --data /d/train\n";
  for (const auto& [k, v] : kFlat) s += k + " = " + (k == key ? value : v) + "\n";
  s += "\n[model]\n";
  for (const auto& [k, v] : kModel) s += k + " = " + ("model." + k == key ? value : v) + "\n";
  return s;
}

std::string refusal(const std::string& saved, const std::string& now) {
  try {
    require_same_options("RUN/ckpt-last.h5", saved, now);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ResumeCheck, SameOptionsResume) { EXPECT_EQ(refusal(ini(), ini()), ""); }

TEST(ResumeCheck, EveryScheduleDataAndModelOptionIsCompared) {
  const std::vector<std::pair<std::string, std::string>> changed = {
      {"sortagrad", "false"},
      {"drop-last", "true"},
      {"batch-size", "32"},
      {"shuffle-seed", "2"},
      {"max-batch-frames", "4000"},
      {"normalize", "utterance"},
      {"lr", "0.001"},
      {"anneal", "1.2"},
      {"momentum", "0.95"},
      {"clip-norm", "100"},
      {"weight-decay", "1e-05"},
      {"model.bn_momentum", "0.2"},
      {"model.rnn_hidden", "128"},
      {"model.conv_stride", "2x2 2x2"}};
  for (const auto& [key, value] : changed) {
    const std::string msg = refusal(ini(), ini(key, value));
    EXPECT_NE(msg.find("RUN/ckpt-last.h5: option '" + key + "'"), std::string::npos)
        << key << ": " << msg;
    EXPECT_NE(msg.find("but " + value + " now"), std::string::npos) << msg;
  }
}

TEST(ResumeCheck, RunSettingsMayChange) {
  for (const std::string key : {"data", "out", "epochs", "log-every", "allreduce", "bucket-mib",
                                "model.device", "model.num_threads", "model.seed"}) {
    ASSERT_TRUE(resume_may_change().count(key)) << key;
    EXPECT_EQ(refusal(ini(), ini(key, "7")), "") << key;
  }
}

TEST(ResumeCheck, AnOptionMissingNowIsRefusedAndANewOneIsNot) {
  std::string now = ini();
  now.erase(now.find("sortagrad = true\n"), 17);
  EXPECT_NE(refusal(ini(), now).find("'sortagrad' is true in the run being resumed but (not set)"),
            std::string::npos);
  // An option this version has and the checkpoint's writer did not: nothing to compare with.
  EXPECT_EQ(refusal(ini(), ini() + "new-option = 3\n"), "");
}

}  // namespace
}  // namespace ds2::train
