// The one process-wide libsox initialization for all of ds2, and thread-safe effect lookup.
//
// libsox 14.4.2 must be initialized exactly once: a second sox_init() aborts the process
// (assert `fft_len == -1' in init_fft_cache, effects_i_dsp.c; checked on this machine), and in
// an NDEBUG build it would re-initialize the FFT cache lock under a running effect. So every ds2
// library (augment, pipeline audio decode) must call init_sox() below and never sox_init() or
// sox_format_init() itself.
//
// Thread safety of libsox (14.4.2, built with OpenMP as on Debian/Ubuntu), as used by ds2:
// - one effects chain per call, never shared between threads: safe; the shared FFT cache used by
//   `rate` is guarded by libsox's own lock.
// - sox_find_effect() is NOT safe to call concurrently: it calls every effect's handler function,
//   and some (pitch, and others built on tempo/rate) rebuild a static handler struct in place on
//   every call, so another thread copying that struct can see a torn mix of two handlers. Use
//   find_sox_effect() below instead: it returns an immutable copy made once under the init lock.
// - libsox's message functions write the global `subsystem` pointer (a benign race on a pointer
//   to a static string); messages are routed to ds2::logger("sox") at debug level, and the last
//   failure/warning text on the calling thread is kept for error messages (sox_last_message()).
#pragma once

#include <sox.h>

#include <string>

namespace ds2::augment {

// Initializes libsox once (sox_init + sox_format_init + message routing); idempotent and
// thread-safe (std::call_once). Throws ds2::Error when libsox fails to initialize.
void init_sox();

// The handler of the named libsox effect ("rate", "tempo", "speed", "pitch", ...), as an
// immutable copy taken once; safe from any thread. Calls init_sox(). Throws ds2::Error naming the
// effect when libsox has no such effect.
const sox_effect_handler_t* find_sox_effect(const std::string& name);

// The last libsox failure or warning raised on the calling thread since the last
// clear_sox_message() (empty when none). For building error messages after a failed sox call.
std::string sox_last_message();
// All of them since the last clear_sox_message(), joined with "; " (libsox often fails with a
// specific message followed by a generic usage line).
std::string sox_messages();
void clear_sox_message();

}  // namespace ds2::augment
