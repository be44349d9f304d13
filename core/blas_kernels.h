// OpenBLAS's kernel choice, checked once at process start.
//
// Debian 12's OpenBLAS (0.3.21, built DYNAMIC_ARCH) picks its kernels from the CPU's
// family/model number. A model it does not know (Sapphire Rapids, and Intel CPUs as virtual
// machines report them) gets the generic "Prescott" (SSE3) kernels: on the 2-core development
// machine sgemm 1536^3 ran at 25-32 GFLOP/s per core with them against 144-146 with the SkylakeX
// kernels the CPU supports (AVX-512), and the ds2-small training step took 6.8-8.1 s instead of
// 2.4-2.5 (bench/README.md, "Model step"). OpenBLAS reads OPENBLAS_CORETYPE only when it is
// loaded, before main(), so the fix is to run the program again with it set.
//
// use_native_blas_kernels(core, argv): `core` is what openblas_get_corename() reports. When it is
// one of OpenBLAS's pre-AVX fallbacks while this CPU has AVX-512 (F, BW, DQ, VL: SkylakeX
// kernels) or AVX2 + FMA (Haswell kernels), and OPENBLAS_CORETYPE is not set, the process
// re-executes itself (/proc/self/exe, the same argv) with OPENBLAS_CORETYPE set and
// DS2_BLAS_FALLBACK=<core> as the note that it did; otherwise, or if the exec fails, it returns.
// Call it first thing in main(), before MPI_Init and before any thread exists: the exec keeps the
// pid, so mpirun and srun see the same process. A user's own OPENBLAS_CORETYPE always wins.
//
// blas_kernels_note(core): a line for the log saying which kernels run and why (empty when
// OpenBLAS chose by itself and nothing is worth saying).
#pragma once

#include <string>

namespace ds2 {

void use_native_blas_kernels(const char* core, char** argv);
std::string blas_kernels_note(const char* core);

}  // namespace ds2
