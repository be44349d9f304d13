// core/blas_kernels: the re-execution with OPENBLAS_CORETYPE, checked against what OpenBLAS
// itself reports in the re-executed process (openblas_get_corename(), through
// blas_kernels_probe). Where OpenBLAS picks native kernels by itself (or the CPU has none to
// offer), what is checked is that the process does not re-execute.
#include <gtest/gtest.h>
#include <stdio.h>
#include <strings.h>

#include <array>
#include <cstdlib>
#include <sstream>
#include <string>

namespace {

struct Probe {
  std::string first_core, final_core, fallback, note;
  int first_pid = -1, final_pid = -2;
};

Probe run_probe(const std::string& env) {
  const std::string cmd =
      "env -u OPENBLAS_CORETYPE -u DS2_BLAS_FALLBACK " + env + " " + DS2_BLAS_PROBE + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  EXPECT_NE(f, nullptr);
  Probe p;
  std::array<char, 512> buf{};
  int firsts = 0;
  while (f && fgets(buf.data(), buf.size(), f)) {
    std::istringstream in(buf.data());
    std::string tag, word;
    in >> tag;
    if (tag == "core" && firsts++ == 0) in >> p.first_core >> word >> p.first_pid;
    if (tag == "final") in >> p.final_core >> word >> p.final_pid >> word >> p.fallback;
    if (tag == "note") std::getline(in, p.note);
  }
  if (f) {
    EXPECT_EQ(pclose(f), 0);
  }
  return p;
}

bool is_generic(const std::string& core) {
  for (const char* g : {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                        "northwood", "banias", "generic"})
    if (strcasecmp(core.c_str(), g) == 0) return true;
  return false;
}

TEST(BlasKernels, ReexecutesWithTheNativeKernels) {
  const Probe p = run_probe("");
  ASSERT_FALSE(p.first_core.empty());
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!is_generic(p.first_core) || !(avx512 || avx2)) {
    EXPECT_EQ(p.final_core, p.first_core);
    EXPECT_EQ(p.fallback, "-");
    EXPECT_EQ(p.final_pid, p.first_pid);
    return;
  }
  // OpenBLAS, loaded again with OPENBLAS_CORETYPE, reports the native kernels; same process.
  EXPECT_EQ(p.final_core, avx512 ? "SkylakeX" : "Haswell");
  EXPECT_EQ(p.fallback, p.first_core);
  EXPECT_EQ(p.final_pid, p.first_pid);
  EXPECT_NE(p.note.find("OpenBLAS chose its generic " + p.first_core), std::string::npos) << p.note;
}

// A user's own OPENBLAS_CORETYPE wins: no re-execution, and OpenBLAS runs what was asked.
// (Prescott: the generic kernels that would otherwise be replaced on an AVX machine.)
TEST(BlasKernels, UsersCoreTypeWins) {
  const Probe p = run_probe("OPENBLAS_CORETYPE=Prescott");
  EXPECT_EQ(p.first_core, "Prescott");
  EXPECT_EQ(p.final_core, "Prescott");
  EXPECT_EQ(p.fallback, "-");
  EXPECT_EQ(p.final_pid, p.first_pid);
}

}  // namespace
