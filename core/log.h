// Rank-aware logging on spdlog. Every line carries time, rank/size, level and component:
//   [2026-11-24 20:31:07.123] [r0/4] [info] [prep] shard 3 done: 412 utterances
// Call init_logging() once per process after MPI is up; before that, rank shows as r0/1.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace ds2 {

// verbosity: 0 = warnings only, 1 = info (default), 2 = debug, 3 = trace.
void init_logging(int rank, int size, int verbosity = 1);
// The same level scale, keeping the rank and size given to init_logging (a subcommand's
// --verbose, after ds2's main set up logging for its rank).
void set_log_verbosity(int verbosity);

// The logger for a component ("prep", "train", ...); created on first use with the shared sink.
std::shared_ptr<spdlog::logger> logger(const std::string& component);

// This process's rank as given to init_logging (0 before it was called).
int log_rank();

}  // namespace ds2

// Once-per-job messages: only rank 0 logs them.
#define DS2_LOG_ROOT(component, level, ...)                                   \
  do {                                                                        \
    if (::ds2::log_rank() == 0) ::ds2::logger(component)->level(__VA_ARGS__); \
  } while (0)
