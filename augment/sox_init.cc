// The one libsox initialization and the effect-handler cache (sox_init.h): init_sox() runs
// sox_init() once per process (std::call_once), libsox's messages are routed to the "sox"
// logger and kept per thread for error texts, and sox_find_effect() runs under one mutex.
#include "augment/sox_init.h"

#include <cstdarg>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/log.h"

namespace ds2::augment {
namespace {

thread_local std::string t_last_message;  // the last failure/warning
thread_local std::string t_all_messages;  // all since clear_sox_message(), "; "-joined

// libsox message levels: 1 fail, 2 warn, 3 report, 4+ debug.
// libsox calls the handler for every level; report and debug messages are dropped here.
void route_message(unsigned level, const char* filename, const char* fmt, va_list ap) {
  if (level > 2) return;
  char buf[1024];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  t_last_message = buf;
  if (t_all_messages.size() < 2000) {
    if (!t_all_messages.empty()) t_all_messages += "; ";
    t_all_messages += buf;
  }
  ds2::logger("sox")->debug("{}: {}", filename ? filename : "", buf);
}

struct SoxState {
  std::once_flag once;
  std::mutex mutex;  // guards `effects` and every sox_find_effect() call
  std::map<std::string, sox_effect_handler_t> effects;
};

SoxState& state() {
  static SoxState s;  // function-local: created on first use, never mutated outside its mutex
  return s;
}

}  // namespace

void init_sox() {
  std::call_once(state().once, [] {
    sox_globals_t* g = sox_get_globals();
    g->output_message_handler = route_message;
    DS2_REQUIRE(sox_init() == SOX_SUCCESS, Error, "libsox: sox_init failed");
    DS2_REQUIRE(sox_format_init() == SOX_SUCCESS, Error, "libsox: sox_format_init failed");
  });
}

const sox_effect_handler_t* find_sox_effect(const std::string& name) {
  init_sox();
  SoxState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.effects.find(name);
  if (it == s.effects.end()) {
    const sox_effect_handler_t* h = sox_find_effect(name.c_str());
    DS2_REQUIRE(h, Error, "libsox: no effect named '{}'", name);
    it = s.effects.emplace(name, *h).first;  // std::map: the address stays valid
  }
  return &it->second;
}

std::string sox_last_message() { return t_last_message; }

std::string sox_messages() { return t_all_messages; }

void clear_sox_message() {
  t_last_message.clear();
  t_all_messages.clear();
}

}  // namespace ds2::augment
