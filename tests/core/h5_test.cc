// core/h5.h: datasets, attributes and strings read back as written (the values written by hand
// are the oracle for the reader; writer and reader are both this code), and errors that name
// the file and the object.
#include "core/h5.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/testutil.h"

namespace ds2 {
namespace {

TEST(H5, RoundTripDatasetsAttrsStrings) {
  test::TempDir dir;
  const std::string path = dir / "x.h5";
  {
    auto f = h5::File::create(path);
    f.write<float>("/m", {1, 2, 3, 4, 5, 6}, {2, 3}, 1);
    f.write<int64_t>("/off", {0, 5, 9});
    f.write_strings("/names", {"a", "ünïcode", ""});
    f.write_attr_str("format", "test");
    f.write_attr<int32_t>("n", 7);
    f.write_attr_vec<double>("v", {0.5, 1.5});
    h5::Appender<float> app(f, "/grow", 2, 4);
    std::vector<float> rows = {1, 2, 3, 4, 5, 6};
    app.append(rows.data(), 2);
    app.append(rows.data() + 4, 1);
    app.flush();
    EXPECT_EQ(app.rows(), 3u);
  }
  auto f = h5::File::open(path);
  std::vector<hsize_t> dims;
  auto m = f.read<float>("/m", &dims);
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(m, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.read_rows<float>("/m", 1, 1), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(f.read<int64_t>("/off"), (std::vector<int64_t>{0, 5, 9}));
  EXPECT_EQ(f.read_strings("/names"), (std::vector<std::string>{"a", "ünïcode", ""}));
  EXPECT_EQ(f.read_attr_str("format"), "test");
  EXPECT_EQ(f.read_attr<int32_t>("n"), 7);
  EXPECT_EQ(f.read_attr_vec<double>("v"), (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(f.read<float>("/grow"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(f.exists("/grow"));
  EXPECT_FALSE(f.exists("/nope/deeper"));
}

TEST(H5, ErrorsNameFileAndObject) {
  test::TempDir dir;
  const std::string path = dir / "y.h5";
  { auto f = h5::File::create(path); }
  auto f = h5::File::open(path);
  try {
    f.read<float>("/features");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("/features"), std::string::npos);
  }
  EXPECT_THROW(h5::File::open(dir / "missing.h5"), IoError);
  write_file_atomic(dir / "not.h5", "plain text");
  EXPECT_THROW(h5::File::open(dir / "not.h5"), IoError);
}

}  // namespace
}  // namespace ds2
