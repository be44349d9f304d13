// Checkpoints: bit-exact round trip of parameters, BN buffers, norm stats and trainer extras;
// a different architecture is a ConfigError naming the file and field; h5dump reads the file.
// Inference metadata: the feature settings round-trip through a file (non-default values), a
// checkpoint without them (an older one) reads as "none" with the settings untouched, a partial
// set is a FormatError, a differing setting is a ConfigError naming both files and the field,
// and the training `normalize` line is found only in the flat part of train_ini.
#include "model/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"
#include "tests/testutil.h"

namespace ds2::model {
namespace {

ModelConfig tiny() {
  ModelConfig c =
      ModelConfig::from_ini_file(std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-tiny.ini");
  c.num_threads = 1;
  return c;
}

TEST(Checkpoint, BitExactRoundTrip) {
  ds2::test::TempDir dir("ckpt");
  const std::string path = dir / "ckpt.h5";
  ModelConfig c = tiny();
  Network a(c);
  // Move the BN running stats away from their init so buffers are really checked.
  std::vector<int32_t> len = {12, 9};
  auto x = test::random_vector(2 * 12 * 161, 3);
  a.forward(x.data(), len.data(), 2, 12, Mode::kTrain);
  NormStats norm{{0.1, -2.5, 1e-300}, {1.0, 0.5, 3.25}};
  CheckpointExtras ex;
  ex.f32["optimizer.velocity"] = test::random_vector(a.num_params(), 9);
  ex.f64["lr"] = {3e-4};
  ex.set_int("step", 1234);
  ex.set_int("epoch", 3);
  ex.u64["rng.state"] = {0xffffffffffffffffull, 1, 42};
  ex.u8["sampler.bits"] = {0, 255, 7};
  ex.str["run.command"] = "ds2 train --config x.ini";
  save_checkpoint(path, a, norm, ex);
  EXPECT_FALSE(file_exists(temp_path_for(path)));

  c.seed = 99;
  Network b(c);
  ASSERT_NE(0, std::memcmp(a.params(), b.params(), a.num_params() * sizeof(float)));
  NormStats norm2;
  CheckpointExtras ex2;
  load_checkpoint(path, b, &norm2, &ex2);
  EXPECT_EQ(0, std::memcmp(a.params(), b.params(), a.num_params() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.buffers(), b.buffers(), a.num_buffer_floats() * sizeof(float)));
  EXPECT_EQ(norm2.mean, norm.mean);
  EXPECT_EQ(norm2.std, norm.std);
  EXPECT_TRUE(ex2 == ex);
  EXPECT_TRUE(read_checkpoint_extras(path) == ex);  // without a Network
  EXPECT_EQ(ex2.get_int("step"), 1234);
  EXPECT_THROW(ex2.get_int("missing"), FormatError);
  EXPECT_EQ(read_checkpoint_config(path).arch_fields(), c.arch_fields());

  // h5dump (the HDF5 reference reader) can read every object.
  const std::string cmd = "h5dump " + path + " > " + (dir / "dump.txt") + " 2>&1";
  if (std::system("command -v h5dump > /dev/null 2>&1") == 0) {
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const std::string dump = read_file(dir / "dump.txt");
    EXPECT_NE(dump.find("ds2-checkpoint"), std::string::npos);
    EXPECT_NE(dump.find("rnn0.fwd.U"), std::string::npos);
  }
}

TEST(Checkpoint, MismatchIsConfigErrorNamingFileAndField) {
  ds2::test::TempDir dir("ckpt");
  const std::string path = dir / "ckpt.h5";
  Network a(tiny());
  save_checkpoint(path, a);
  ModelConfig c = tiny();
  c.rnn_hidden = 16;
  Network b(c);
  try {
    load_checkpoint(path, b);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("model.rnn_hidden"), std::string::npos) << m;
  }
  // Run settings are not part of the architecture.
  ModelConfig d = tiny();
  d.seed = 5;
  d.num_threads = 2;
  Network e(d);
  EXPECT_NO_THROW(load_checkpoint(path, e));
  EXPECT_THROW(load_checkpoint(dir / "missing.h5", e), Error);
}

TEST(Checkpoint, FeatureSettingsRoundTripOldAndPartial) {
  ds2::test::TempDir dir("ckpt");
  Network net(tiny());
  pipeline::FeatureMeta m;
  m.sample_rate = 8000;
  m.window_ms = 25.5;
  m.hop_ms = 12.5;
  m.n_bins = 161;
  m.feature = "log1p";
  m.alphabet = "not stored here";
  CheckpointExtras ex;
  ex.set_int("step", 7);
  set_feature_meta(&ex, m);
  save_checkpoint(dir / "new.h5", net, {}, ex);
  save_checkpoint(dir / "old.h5", net, {}, CheckpointExtras{});  // as written before the settings

  CheckpointExtras back;
  load_checkpoint(dir / "new.h5", net, nullptr, &back);
  pipeline::FeatureMeta got;
  ASSERT_TRUE(get_feature_meta(back, dir / "new.h5", &got));
  EXPECT_EQ(got.sample_rate, 8000);
  EXPECT_EQ(got.window_ms, 25.5);
  EXPECT_EQ(got.hop_ms, 12.5);
  EXPECT_EQ(got.n_bins, 161);
  EXPECT_EQ(got.feature, "log1p");
  EXPECT_EQ(got.alphabet, "");  // untouched
  EXPECT_EQ(feature_fields(got), feature_fields(m));
  EXPECT_EQ(back.get_int("step"), 7);

  load_checkpoint(dir / "old.h5", net, nullptr, &back);
  pipeline::FeatureMeta defaults;
  EXPECT_FALSE(get_feature_meta(back, dir / "old.h5", &defaults));
  EXPECT_EQ(feature_fields(defaults), feature_fields(pipeline::FeatureMeta{}));

  CheckpointExtras partial;
  set_feature_meta(&partial, m);
  partial.f64.erase("feature.hop_ms");
  try {
    get_feature_meta(partial, "p.h5", &got);
    ADD_FAILURE() << "partial settings accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("p.h5: extra 'feature.hop_ms'"), std::string::npos)
        << e.what();
  }
  set_feature_meta(&partial, m);
  partial.f64.erase("feature.window_ms");
  partial.i64["feature.window_ms"] = {25};  // wrong type
  EXPECT_THROW(get_feature_meta(partial, "p.h5", &got), FormatError);
}

TEST(Checkpoint, FeatureMismatchNamesBothFilesAndTheField) {
  pipeline::FeatureMeta trained, data;
  EXPECT_NO_THROW(require_same_features("ckpt.h5", trained, "DATA/index.h5", data));
  data.alphabet = "other";  // not a feature setting
  data.created_by = "ds2 other";
  EXPECT_NO_THROW(require_same_features("ckpt.h5", trained, "DATA/index.h5", data));
  const std::vector<std::pair<std::string, pipeline::FeatureMeta>> cases = [] {
    std::vector<std::pair<std::string, pipeline::FeatureMeta>> v(5);
    v[0].first = "'sample_rate' is 16000 in the checkpoint but 8000";
    v[0].second.sample_rate = 8000;
    v[1].first = "'window_ms' is 20 in the checkpoint but 25";
    v[1].second.window_ms = 25;
    v[2].first = "'hop_ms' is 10 in the checkpoint but 10.000000000000002";
    v[2].second.hop_ms = std::nextafter(10.0, 11.0);  // differs in the last bit only
    v[3].first = "'n_bins' is 161 in the checkpoint but 201";
    v[3].second.n_bins = 201;
    v[4].first = "'feature' is log in the checkpoint but log1p";
    v[4].second.feature = "log1p";
    return v;
  }();
  for (const auto& [want, d] : cases) {
    try {
      require_same_features("RUN/ckpt.h5", trained, "DATA/index.h5", d);
      ADD_FAILURE() << "no error for " << want;
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("RUN/ckpt.h5: feature setting " + want + " in DATA/index.h5"),
                std::string::npos)
          << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

TEST(Checkpoint, TrainedNormalizeReadsTheFlatPartOfTrainIni) {
  CheckpointExtras ex;
  EXPECT_EQ(trained_normalize(ex), "");
  ex.str["train_ini"] = "batch-size = 4\n  normalize\t=  utterance \r\n[model]\nnormalize = x\n";
  EXPECT_EQ(trained_normalize(ex), "utterance");
  ex.str["train_ini"] = "batch-size = 4\n[model]\nnormalize = none\n";  // only in a section
  EXPECT_EQ(trained_normalize(ex), "");
}

}  // namespace
}  // namespace ds2::model
