// ds2 error types. Library code throws; `main` catches, prints one line and exits non-zero.
//
// Every message names where it came from (file:line of the throw) and, where there is one, the
// input file and field that caused it, e.g.
//   "corpus/train.tsv:17: field 'duration': not a number: 'abc' [pipeline/manifest.cc:88]".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ds2 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};
// A file could not be opened, read, written or renamed.
class IoError : public Error {
  using Error::Error;
};
// A file was read but its contents are not what the format says (manifest row, HDF5 layout).
class FormatError : public Error {
  using Error::Error;
};
// An option or config value is invalid, or options contradict each other.
class ConfigError : public Error {
  using Error::Error;
};
// An MPI (or NCCL) call failed, or ranks disagree on a collective's contract.
class CommError : public Error {
  using Error::Error;
};
// A CUDA, cuBLAS or NCCL call failed.
class CudaError : public Error {
  using Error::Error;
};

namespace detail {
// Strips the source directory prefix so messages show "pipeline/shard.cc:42".
const char* short_path(const char* file);
}  // namespace detail

}  // namespace ds2

// DS2_THROW(IoError, "cannot open {}", path) -- message formatted with fmt, location appended.
#define DS2_THROW(Type, ...)                                            \
  throw ::ds2::Type(fmt::format("{} [{}:{}]", fmt::format(__VA_ARGS__), \
                                ::ds2::detail::short_path(__FILE__), __LINE__))

// DS2_REQUIRE(cond, Type, fmt, ...) -- throws Type when cond is false.
#define DS2_REQUIRE(cond, Type, ...)           \
  do {                                         \
    if (!(cond)) DS2_THROW(Type, __VA_ARGS__); \
  } while (0)
