// Probe for BlasKernels tests (blas_kernels_test.cc): prints the core OpenBLAS reports and the
// pid, calls use_native_blas_kernels as ds2's main() does, then prints them again with the
// fallback note, so the test can see whether the process re-executed itself and what OpenBLAS
// itself chose after it.
#include <cblas.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/blas_kernels.h"

int main(int, char** argv) {
  // The first line is printed once per image: before the re-exec and again after it.
  std::printf("core %s pid %d\n", openblas_get_corename(), static_cast<int>(getpid()));
  std::fflush(stdout);
  ds2::use_native_blas_kernels(openblas_get_corename(), argv);
  const char* fallback = std::getenv("DS2_BLAS_FALLBACK");
  std::printf("final %s pid %d fallback %s\n", openblas_get_corename(), static_cast<int>(getpid()),
              fallback ? fallback : "-");
  std::printf("note %s\n", ds2::blas_kernels_note(openblas_get_corename()).c_str());
  return 0;
}
