// Job-wide progress (progress.h): non-root ranks send their counts to rank 0 with at most one
// non-blocking send in flight; rank 0 drains them with MPI_Iprobe in add() and logs done/total,
// rate and ETA; finish() is the one collective.
#include "core/progress.h"

#include <cmath>

#include "core/log.h"

namespace ds2 {
namespace {
constexpr int kTag = 7301;
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Progress::Progress(const Comm& comm, std::string component, std::string what, double total,
                   std::string unit, double interval_s)
    : comm_(comm.dup()),
      component_(std::move(component)),
      what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      interval_s_(interval_s),
      per_rank_(comm_.size(), 0.0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  // A Progress abandoned by an exception must not leave a request pending on a freed comm.
  if (req_ != MPI_REQUEST_NULL) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Request_free(&req_);
  }
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  long t = std::lround(s);
  return fmt::format("{}:{:02d}:{:02d}", t / 3600, (t / 60) % 60, t % 60);
}

double Progress::done() const {
  if (!comm_.root()) return local_;
  double d = 0;
  for (double v : per_rank_) d += v;
  return d;
}

void Progress::add(double n) {
  local_ += n;
  if (comm_.root()) {
    per_rank_[0] = local_;
    poll_root();
    if (seconds_since(last_) >= interval_s_) {
      last_ = std::chrono::steady_clock::now();
      log_line(false);
    }
  } else if (seconds_since(last_) >= interval_s_) {
    send_update(false);
  }
}

void Progress::send_update(bool final) {
  if (req_ != MPI_REQUEST_NULL) {
    int flag = 0;
    DS2_MPI_CHECK(MPI_Test(&req_, &flag, MPI_STATUS_IGNORE));
    if (!flag && !final) return;  // previous update still in flight
    if (!flag) DS2_MPI_CHECK(MPI_Wait(&req_, MPI_STATUS_IGNORE));
  }
  last_ = std::chrono::steady_clock::now();
  send_buf_[0] = local_;
  send_buf_[1] = final ? 1.0 : 0.0;
  if (final) {
    DS2_MPI_CHECK(MPI_Send(send_buf_, 2, MPI_DOUBLE, 0, kTag, comm_.raw()));
  } else {
    DS2_MPI_CHECK(MPI_Isend(send_buf_, 2, MPI_DOUBLE, 0, kTag, comm_.raw(), &req_));
  }
}

void Progress::poll_root() {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    DS2_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_.raw(), &flag, &st));
    if (!flag) return;
    double buf[2];
    DS2_MPI_CHECK(
        MPI_Recv(buf, 2, MPI_DOUBLE, st.MPI_SOURCE, kTag, comm_.raw(), MPI_STATUS_IGNORE));
    per_rank_[st.MPI_SOURCE] = buf[0];
    if (buf[1] != 0.0) ++finals_;  // a rank that finished before rank 0 did
  }
}

void Progress::log_line(bool final) {
  double d = done();
  double el = seconds_since(start_);
  double rate = el > 0 ? d / el : 0;
  if (final) {
    logger(component_)
        ->info("{}: done {:.0f} of {:.0f} {} in {} ({:.1f} {}/s)", what_, d, total_, unit_,
               format_duration(el), rate, unit_);
    return;
  }
  double eta = rate > 0 ? (total_ - d) / rate : NAN;
  double pct = total_ > 0 ? 100.0 * d / total_ : 100.0;
  logger(component_)
      ->info("{}: {:.0f}/{:.0f} {} ({:.1f}%), {:.1f} {}/s, elapsed {}, ETA {}", what_, d, total_,
             unit_, pct, rate, unit_, format_duration(el), format_duration(eta));
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!comm_.root()) {
    send_update(true);
    return;
  }
  per_rank_[0] = local_;
  // Receive exactly one final message from every other rank, draining updates before it
  // (messages from one sender arrive in order).
  poll_root();
  while (finals_ < comm_.size() - 1) {
    double buf[2];
    MPI_Status st;
    DS2_MPI_CHECK(MPI_Recv(buf, 2, MPI_DOUBLE, MPI_ANY_SOURCE, kTag, comm_.raw(), &st));
    per_rank_[st.MPI_SOURCE] = buf[0];
    if (buf[1] != 0.0) ++finals_;
  }
  log_line(true);
}

}  // namespace ds2
