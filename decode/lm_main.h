// `ds2 lm`: language model tools (compile an ARPA file to the binary form, describe or verify a
// compiled file, score sentences). No MPI: one process.
#pragma once

namespace ds2::decode {

// argv[0] is "lm", argv[1] the action: compile, info, query. Exit code 0 on success, 2 on a
// usage error; errors throw (one line naming the file and the field or line).
int lm_main(int argc, char** argv);

}  // namespace ds2::decode
