// See blas_kernels.h.
#include "core/blas_kernels.h"

#include <strings.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>

namespace ds2 {
namespace {

// OpenBLAS's x86 cores older than AVX: what its DYNAMIC_ARCH falls back to for an unknown model.
bool is_generic_core(const char* core) {
  static constexpr std::array<const char*, 10> kGeneric = {
      "prescott", "core2",  "penryn",    "dunnington", "nehalem",
      "atom",     "katmai", "northwood", "banias",     "generic"};
  if (!core) return false;
  for (const char* g : kGeneric)
    if (strcasecmp(core, g) == 0) return true;
  return false;
}

// The best OpenBLAS core type this CPU runs, or null.
const char* native_core_type() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

}  // namespace

void use_native_blas_kernels(const char* core, char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("DS2_BLAS_FALLBACK")) return;
  if (!is_generic_core(core)) return;
  const char* native = native_core_type();
  if (!native) return;
  if (setenv("OPENBLAS_CORETYPE", native, 1) != 0 || setenv("DS2_BLAS_FALLBACK", core, 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // The exec failed (no /proc?): go on with the generic kernels; the note says so.
  unsetenv("OPENBLAS_CORETYPE");
}

std::string blas_kernels_note(const char* core) {
  const std::string now = core ? core : "?";
  if (const char* was = std::getenv("DS2_BLAS_FALLBACK"))
    return "OpenBLAS chose its generic " + std::string(was) +
           " kernels on this CPU; ds2 runs with "
           "OPENBLAS_CORETYPE=" +
           now + " instead (set OPENBLAS_CORETYPE to choose yourself)";
  if (is_generic_core(core) && native_core_type() && !std::getenv("OPENBLAS_CORETYPE"))
    return "OpenBLAS runs its generic " + now + " kernels although this CPU has " +
           native_core_type() +
           "'s instructions: GEMMs are several times slower (set "
           "OPENBLAS_CORETYPE=" +
           native_core_type() + ")";
  return "";
}

}  // namespace ds2
