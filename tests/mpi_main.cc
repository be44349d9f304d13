// gtest main for MPI tests: owns MPI_Init/Finalize, prints results on rank 0 only, makes a test
// fail on every rank when it fails on any rank, exits 77 (ctest: skipped) when a case was skipped
// and none failed, and aborts the job with a message when a test
// hangs (a stuck collective) for longer than DS2_TEST_WATCHDOG_S seconds (default 240).
#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

std::atomic<int64_t> g_last_progress{0};

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class ProgressListener : public testing::EmptyTestEventListener {
  void OnTestStart(const testing::TestInfo&) override { g_last_progress = now_s(); }
  void OnTestEnd(const testing::TestInfo&) override { g_last_progress = now_s(); }
};

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  testing::InitGoogleTest(&argc, argv);
  auto& listeners = testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new ProgressListener);

  const char* wd = std::getenv("DS2_TEST_WATCHDOG_S");
  const int64_t limit = wd ? std::atoll(wd) : 240;
  std::atomic<bool> done{false};
  g_last_progress = now_s();
  std::thread watchdog([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (now_s() - g_last_progress > limit) {
        std::fprintf(stderr,
                     "rank %d: watchdog: a test made no progress for %lld s (hung collective?)\n",
                     rank, static_cast<long long>(limit));
        MPI_Abort(MPI_COMM_WORLD, 3);
      }
    }
  });
  int rc = RUN_ALL_TESTS();
  done = true;
  watchdog.join();
  int any_failed = 0;
  MPI_Allreduce(&rc, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  // A case skipped on any rank (GTEST_SKIP) makes the run "skipped" for ctest (exit 77,
  // SKIP_RETURN_CODE) -- but only when nothing failed: a failure always wins.
  int skipped = testing::UnitTest::GetInstance()->skipped_test_count() > 0 ? 1 : 0, any_skipped = 0;
  MPI_Allreduce(&skipped, &any_skipped, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  if (any_failed) return any_failed;
  return any_skipped ? 77 : 0;
}
