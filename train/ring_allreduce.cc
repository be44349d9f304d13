// Ring all-reduce: reduce-scatter then all-gather, chunked and pipelined.
//
// Layout. The buffer of `count` elements is split into n segments (n = ranks), segment j holding
// count/n elements plus one more for the first count%n segments, so uneven counts, count < n
// (some segments empty) and count == 0 need no special path. Rank r sends only to its right
// neighbour r+1 and receives only from its left neighbour r-1 (mod n).
//
// Schedule. 2(n-1) steps g = 0 .. 2n-3; at step g rank r sends segment (r - g) mod n and receives
// segment (r - g - 1) mod n:
//   reduce-scatter, g = 0 .. n-2:  the received segment is ADDED into the local one. After n-1
//     steps, segment (r+1) mod n on rank r holds the sum over all ranks: it started on rank r+1
//     and picked up one contribution per hop around the ring.
//   all-gather, g = n-1 .. 2n-3:  the received segment is a final sum and is COPIED over the
//     local one (received straight into the user's buffer), and forwarded at the next step.
// Each element's sum is therefore computed exactly once, by the owner of its segment, in the
// order owner+1, owner+2, ..., owner; every other rank receives a copy of those bits. Segments are
// summed in different rank orders, but no rank ever re-adds a final segment, so all ranks end
// with BIT-IDENTICAL results.
//
// Cost. Each rank sends (and receives) n-1 segments in each phase, 2(n-1) * bytes/n in all, and
// performs (n-1)/n * count additions. Any all-reduce must deliver to every rank the (n-1)/n of the
// result it did not compute locally, and must export its own contribution to the (n-1)/n of the
// result it does not own, so 2(n-1)/n * bytes per rank is the lower bound on traffic when the
// work is spread evenly: the ring is bandwidth-optimal, and its time approaches
// 2(n-1)/n * bytes / link_bandwidth independently of n for large buffers. Its weakness is latency:
// 2(n-1) dependent message steps, which is why small buffers go to MPI_Allreduce (allreduce.h).
// "Bus bandwidth" (nccl-tests) = bytes / time * 2(n-1)/n, to compare with the link bandwidth.
//
// Pipelining. Each segment is cut into chunks of chunk_bytes. Sends and receives are numbered in
// the order (step, chunk); both sequences are posted in order with MPI_Isend/MPI_Irecv, at most
// `depth` of each in flight, and completions are handled with MPI_Waitsome. Because the segment
// sent at step g is the one received at step g-1, send (g, k) may start as soon as receive
// (g-1, k) has been reduced: chunk k moves on to the next hop while chunk k+1 of the same segment
// is still in transit, and the addition of one chunk overlaps the transfer of the next. In linear
// numbering this is "send i waits for receive i - c0", c0 = chunks of this rank's own segment.
// An all-gather receive lands in the user's buffer where a reduce-scatter send read from earlier,
// so all-gather receive i also waits for send i - (T - c0) to complete (T = chunks in all
// segments). Messages between a pair of ranks are matched in order (MPI non-overtaking; one tag on
// the Allreducer's private communicator), and sender and receiver agree on every chunk's length.
// Reduce-scatter receives land in `depth` chunk-sized workspace slots, reused in turn.
//
// Copies. Each element crosses the wire once per phase and is otherwise touched once: a
// reduce-scatter chunk is added from its slot (just written, so still in cache) straight into the
// user's buffer (add_into, vectorised), and an all-gather chunk is received straight into place.
// Over a network the addition of chunk k overlaps the transfer of chunk k+1. Over shared memory
// (Open MPI vader with CMA single copy) the RECEIVING process performs each copy itself, inside
// MPI progress, so on a fully busy node the additions add to the copy time instead: the ring then
// takes about its communication alone (bench_allreduce's "p2p" bound) plus (n-1)/n * count
// additions, i.e. a few percent to ~15% above the bound on the 2-core development VM.
#include "train/ring_allreduce.h"

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "core/mpi.h"

namespace ds2::train {

namespace {

constexpr int kMaxDepth = 64;
constexpr int kTag = 7;

size_t chunk_elems(const RingParams& p, size_t elem_size) {
  size_t c = std::max<size_t>(1, p.chunk_bytes / elem_size);
  return std::min<size_t>(c, INT_MAX);
}

// Segment j of an even split of `count` elements over n ranks.
struct Split {
  size_t base, rem;
  Split(size_t count, int n) : base(count / n), rem(count % n) {}
  size_t offset(int j) const { return j * base + std::min<size_t>(j, rem); }
  size_t len(int j) const { return base + (static_cast<size_t>(j) < rem ? 1 : 0); }
};

// dst[i] += src[i]. The restrict-qualified parameters let the compiler vectorise the loop without
// a run-time aliasing check (-O3: SSE2 by default, wider with -march).
template <typename T>
void add_into(T* __restrict dst, const T* __restrict src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Walks the (step, chunk) items of one direction in order, skipping empty segments.
struct Cursor {
  int step = 0;
  size_t chunk = 0;
};

}  // namespace

size_t ring_workspace_bytes(size_t count, int nranks, size_t elem_size, const RingParams& p) {
  if (nranks <= 1 || count == 0) return 0;
  const Split split(count, nranks);
  const size_t slot = std::min(chunk_elems(p, elem_size), split.len(0));
  return static_cast<size_t>(std::max(1, p.depth)) * slot * elem_size;
}

template <typename T>
void ring_allreduce(MPI_Comm comm, T* data, size_t count, const RingParams& p, void* workspace,
                    size_t workspace_bytes) {
  int n = 1, r = 0;
  DS2_MPI_CHECK(MPI_Comm_size(comm, &n));
  DS2_MPI_CHECK(MPI_Comm_rank(comm, &r));
  if (n == 1 || count == 0) return;
  DS2_REQUIRE(p.depth >= 1 && p.depth <= kMaxDepth, ConfigError,
              "ring all-reduce: pipeline depth {} is not in 1..{}", p.depth, kMaxDepth);
  DS2_REQUIRE(workspace_bytes >= ring_workspace_bytes(count, n, sizeof(T), p), ConfigError,
              "ring all-reduce: workspace of {} bytes, {} needed", workspace_bytes,
              ring_workspace_bytes(count, n, sizeof(T), p));

  const size_t C = chunk_elems(p, sizeof(T));
  const Split split(count, n);
  const size_t slot_elems = std::min(C, split.len(0));
  const int W = p.depth;
  const int steps = 2 * (n - 1);
  const int right = (r + 1) % n, left = (r + n - 1) % n;
  const MPI_Datatype type = mpi_type<T>();
  T* slots = static_cast<T*>(workspace);

  auto seg_mod = [n](int x) { return ((x % n) + n) % n; };
  auto send_seg = [&](int g) { return seg_mod(r - g); };
  auto recv_seg = [&](int g) { return seg_mod(r - g - 1); };
  auto nchunks = [&](int j) { return (split.len(j) + C - 1) / C; };

  size_t total_chunks = 0;  // T in the comment above
  for (int j = 0; j < n; ++j) total_chunks += nchunks(j);
  const size_t c0 = nchunks(r);
  const size_t rs_recvs = total_chunks - c0;  // receives in the reduce-scatter phase
  size_t n_send = 0, n_recv = 0;
  for (int g = 0; g < steps; ++g) {
    n_send += nchunks(send_seg(g));
    n_recv += nchunks(recv_seg(g));
  }

  // Moves a cursor past item (step, chunk) to the next non-empty one; seg(g) names the segment.
  auto advance = [&](Cursor& c, auto seg) {
    ++c.chunk;
    while (c.step < steps && c.chunk >= nchunks(seg(c.step))) {
      ++c.step;
      c.chunk = 0;
    }
  };
  Cursor send_cur, recv_cur;
  send_cur.chunk = recv_cur.chunk = static_cast<size_t>(-1);  // advance() lands on the first item
  advance(send_cur, send_seg);
  advance(recv_cur, recv_seg);

  // Request slots: receives in [0, W), sends in [W, 2W); item i uses slot i % W.
  MPI_Request reqs[2 * kMaxDepth];
  int done_idx[2 * kMaxDepth];
  bool complete[2 * kMaxDepth];
  size_t recv_off[kMaxDepth], recv_len[kMaxDepth];
  bool recv_reduce[kMaxDepth];
  std::fill(reqs, reqs + 2 * W, MPI_REQUEST_NULL);
  std::fill(complete, complete + 2 * W, false);

  size_t recv_posted = 0, recv_done = 0, send_posted = 0, send_done = 0;  // done = ordered prefix
  while (recv_done < n_recv || send_done < n_send) {
    while (recv_posted < n_recv && recv_posted < recv_done + W) {
      const bool reduce = recv_posted < rs_recvs;
      if (!reduce && recv_posted - rs_recvs >= send_done) break;  // region still being sent
      const int j = recv_seg(recv_cur.step);
      const size_t off = split.offset(j) + recv_cur.chunk * C;
      const size_t len = std::min(C, split.len(j) - recv_cur.chunk * C);
      const int s = static_cast<int>(recv_posted % W);
      T* dst = reduce ? slots + s * slot_elems : data + off;
      DS2_MPI_CHECK(MPI_Irecv(dst, static_cast<int>(len), type, left, kTag, comm, &reqs[s]));
      recv_off[s] = off;
      recv_len[s] = len;
      recv_reduce[s] = reduce;
      complete[s] = false;
      ++recv_posted;
      advance(recv_cur, recv_seg);
    }
    while (send_posted < n_send && send_posted < send_done + W) {
      if (send_posted >= c0 && send_posted - c0 >= recv_done) break;  // chunk not reduced yet
      const int j = send_seg(send_cur.step);
      const size_t off = split.offset(j) + send_cur.chunk * C;
      const size_t len = std::min(C, split.len(j) - send_cur.chunk * C);
      const int s = static_cast<int>(send_posted % W);
      DS2_MPI_CHECK(
          MPI_Isend(data + off, static_cast<int>(len), type, right, kTag, comm, &reqs[W + s]));
      complete[W + s] = false;
      ++send_posted;
      advance(send_cur, send_seg);
    }
    int outcount = 0;
    DS2_MPI_CHECK(MPI_Waitsome(2 * W, reqs, &outcount, done_idx, MPI_STATUSES_IGNORE));
    DS2_REQUIRE(outcount != MPI_UNDEFINED && outcount > 0, CommError,
                "ring all-reduce: no request in flight at send {}/{} receive {}/{} (internal)",
                send_done, n_send, recv_done, n_recv);
    for (int q = 0; q < outcount; ++q) {
      const int s = done_idx[q];
      if (s < W && recv_reduce[s])
        add_into(data + recv_off[s], slots + s * slot_elems, recv_len[s]);
      complete[s] = true;
    }
    while (recv_done < recv_posted && complete[recv_done % W]) complete[recv_done++ % W] = false;
    while (send_done < send_posted && complete[W + send_done % W]) {
      complete[W + send_done++ % W] = false;
    }
  }
}

template void ring_allreduce<float>(MPI_Comm, float*, size_t, const RingParams&, void*, size_t);
template void ring_allreduce<double>(MPI_Comm, double*, size_t, const RingParams&, void*, size_t);

}  // namespace ds2::train
