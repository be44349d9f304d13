// Checkpoints: bit-exact round trip of parameters, BN buffers, norm stats and trainer extras;
// a different architecture is a ConfigError naming the file and field; h5dump reads the file.
#include "model/checkpoint.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ds2::model
