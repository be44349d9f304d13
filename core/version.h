// The source version a binary was built from, for --version and the metadata of every file ds2
// writes (checkpoints, shards, the index, log-probability files, the sweep history and report).
// The project version is DS2_VERSION in ds2/config.h.
#pragma once

namespace ds2 {

// `git describe --always --dirty --tags` of the source tree at the last build ("unknown"
// outside git). Defined in the generated build/generated/git_describe.cc
// (cmake/git_describe.cmake), the one file a commit changes, so a commit relinks rather than
// recompiling the files that print the version.
const char* git_describe();

}  // namespace ds2
