// The rank-aware spdlog setup (log.h): one pattern "[time] [r<rank>/<size>] [level] [component]"
// and one level for every component's logger, all on stderr (stdout is for results).
#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace ds2 {
namespace {
std::mutex g_mu;
int g_rank = 0;
int g_size = 1;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::level::level_enum level_for(int verbosity) {
  if (verbosity <= 0) return spdlog::level::warn;
  if (verbosity == 1) return spdlog::level::info;
  if (verbosity == 2) return spdlog::level::debug;
  return spdlog::level::trace;
}

std::string pattern() {
  return fmt::format("[%Y-%m-%d %H:%M:%S.%e] [r{}/{}] [%l] [%n] %v", g_rank, g_size);
}
}  // namespace

void init_logging(int rank, int size, int verbosity) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_rank = rank;
  g_size = size;
  g_level = level_for(verbosity);
  spdlog::set_pattern(pattern());
  spdlog::set_level(g_level);
}

void set_log_verbosity(int verbosity) {
  int rank, size;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    rank = g_rank;
    size = g_size;
  }
  init_logging(rank, size, verbosity);
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto l = spdlog::get(component);
  if (l) return l;
  // stderr: stdout stays free for results (transcripts, scores).
  l = spdlog::stderr_logger_mt(component);
  l->set_pattern(pattern());
  l->set_level(g_level);
  return l;
}

int log_rank() { return g_rank; }

}  // namespace ds2
