// Job-wide progress for long work: rank 0 logs done/total for the whole job, rate and ETA.
//
// Ranks do unequal amounts of work, so progress never uses a collective while working: each
// non-root rank sends its running count to rank 0 with a non-blocking point-to-point message on
// a private communicator (at most one in flight, at most every `interval_s`), and rank 0 drains
// them with MPI_Iprobe whenever it calls add(). finish() is collective: every rank sends a final
// count, rank 0 waits for all of them and logs the last line, so no message is left unreceived.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/mpi.h"

namespace ds2 {

class Progress {
 public:
  // Collective over `comm`. `total` is the job-wide amount of work (same value on every rank),
  // counted in `unit` ("utt", "s audio", "batches").
  Progress(const Comm& comm, std::string component, std::string what, double total,
           std::string unit, double interval_s = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Adds local work done by this rank; may log on rank 0 and may send to rank 0.
  void add(double n);
  // Collective. Logs the final line on rank 0 ("done N of M in T").
  void finish();
  // Job-wide done as last known on rank 0 (this rank's own count elsewhere).
  double done() const;

  // "1:02:03" for seconds (or "--:--" when unknown).
  static std::string format_duration(double seconds);

 private:
  void poll_root();
  void send_update(bool final);
  void log_line(bool final);

  Comm comm_;
  std::string component_, what_, unit_;
  double total_ = 0, interval_s_ = 10;
  double local_ = 0;
  std::vector<double> per_rank_;
  std::chrono::steady_clock::time_point start_, last_;
  MPI_Request req_ = MPI_REQUEST_NULL;
  double send_buf_[2] = {0, 0};
  bool finished_ = false;
  int finals_ = 0;  // rank 0: final messages received
};

}  // namespace ds2
