// Log-probability files (format in logprobs_file.h). Writing is collective: rank 0 owns the
// file. It gathers every rank's positions (8 bytes per utterance), sorts them, and walks the
// utterances in index order; for one held by another rank it sends that rank the position and
// receives the utterance (a header {frames, ref bytes}, the rows, the reference text). So one
// utterance is in flight at a time, the rows land in index order through an h5::Appender (one
// chunk buffered), and /frame_offset is a plain running sum. A rank answers requests until rank
// 0 sends -1.
#include "eval/logprobs_file.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/version.h"

namespace ds2::eval {

namespace {

constexpr int kTagAsk = 7201, kTagHead = 7202, kTagRows = 7203, kTagRef = 7204;
constexpr hsize_t kChunkRows = 4096;

}  // namespace

void write_logprobs(const Comm& comm, const std::string& path, const EvalPlan& plan,
                    const std::vector<UttLogProbs>& mine, const pipeline::Alphabet& alphabet,
                    const std::string& model) {
  const int c = alphabet.size();
  // This rank's utterances by position (O(log n) per request, not a scan).
  std::vector<size_t> by_pos(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) by_pos[i] = i;
  std::sort(by_pos.begin(), by_pos.end(),
            [&](size_t a, size_t b) { return mine[a].pos < mine[b].pos; });
  auto find = [&](int64_t pos) -> const UttLogProbs* {
    auto it = std::lower_bound(by_pos.begin(), by_pos.end(), pos,
                               [&](size_t i, int64_t p) { return mine[i].pos < p; });
    return it != by_pos.end() && mine[*it].pos == pos ? &mine[*it] : nullptr;
  };
  // Who holds which position: every rank's positions, gathered (8 bytes per utterance).
  std::vector<int64_t> my_pos;
  for (const UttLogProbs& u : mine) my_pos.push_back(u.pos);
  const std::vector<int> counts = comm.allgather_value(static_cast<int>(my_pos.size()));
  std::vector<std::pair<int64_t, int>> owner;  // (pos, rank)
  if (comm.root()) {
    for (int64_t p : my_pos) owner.push_back({p, 0});
    for (int r = 1; r < comm.size(); ++r) {
      std::vector<int64_t> theirs(static_cast<size_t>(counts[r]));
      DS2_MPI_CHECK(MPI_Recv(theirs.data(), counts[r], MPI_INT64_T, r, kTagHead, comm.raw(),
                             MPI_STATUS_IGNORE));
      for (int64_t p : theirs) owner.push_back({p, r});
    }
    std::sort(owner.begin(), owner.end());
  } else {
    DS2_MPI_CHECK(MPI_Send(my_pos.data(), static_cast<int>(my_pos.size()), MPI_INT64_T, 0, kTagHead,
                           comm.raw()));
  }

  if (!comm.root()) {  // answer rank 0's requests, one utterance each, until it sends -1
    for (;;) {
      int64_t want = -1;
      DS2_MPI_CHECK(MPI_Recv(&want, 1, MPI_INT64_T, 0, kTagAsk, comm.raw(), MPI_STATUS_IGNORE));
      if (want < 0) break;
      const UttLogProbs* it = find(want);
      DS2_REQUIRE(it, CommError, "save-logprobs: rank {} has no utterance {}", comm.rank(), want);
      const int64_t head[3] = {it->frames, static_cast<int64_t>(it->ref.size()), 0};
      DS2_MPI_CHECK(MPI_Send(head, 3, MPI_INT64_T, 0, kTagHead, comm.raw()));
      DS2_MPI_CHECK(MPI_Send(it->logp.data(), it->frames * c, MPI_FLOAT, 0, kTagRows, comm.raw()));
      DS2_MPI_CHECK(MPI_Send(it->ref.data(), static_cast<int>(it->ref.size()), MPI_CHAR, 0, kTagRef,
                             comm.raw()));
    }
    comm.barrier();
    return;
  }

  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) make_dirs(dir);
  const std::string tmp = temp_path_for(path);
  // Removes the temporary file when anything below throws (disk full, a peer's MPI error);
  // destroyed after the HDF5 file is closed.
  struct RemoveUnlessCommitted {
    const std::string& tmp;
    bool committed = false;
    ~RemoveUnlessCommitted() {
      if (!committed) std::remove(tmp.c_str());
    }
  } guard{tmp};
  {
    h5::File f = h5::File::create(tmp);
    f.write_attr_str("format", "ds2-logprobs");
    f.write_attr<int32_t>("version", 1);
    f.write_attr_str("alphabet", alphabet.to_string());
    f.write_attr<int32_t>("classes", c);
    f.write_attr_str("model", model);
    // Absolute, so that `ds2 decode` finds the dataset from any working directory.
    f.write_attr_str("data", std::filesystem::absolute(plan.data).lexically_normal().string());
    f.write_attr_str("created_by", std::string("ds2 ") + git_describe());
    h5::Appender<float> rows(f, "/logprobs", static_cast<hsize_t>(c), kChunkRows);
    std::vector<int64_t> offset{0}, pos;
    std::vector<std::string> ids, refs;
    std::vector<float> buf;
    std::string ref;
    for (const auto& [p, r] : owner) {
      const float* lp = nullptr;
      int64_t frames = 0;
      if (r == 0) {
        const UttLogProbs* it = find(p);
        lp = it->logp.data();
        frames = it->frames;
        ref = it->ref;
      } else {
        DS2_MPI_CHECK(MPI_Send(&p, 1, MPI_INT64_T, r, kTagAsk, comm.raw()));
        int64_t head[3];
        DS2_MPI_CHECK(MPI_Recv(head, 3, MPI_INT64_T, r, kTagHead, comm.raw(), MPI_STATUS_IGNORE));
        frames = head[0];
        buf.resize(static_cast<size_t>(frames) * c);
        ref.resize(static_cast<size_t>(head[1]));
        DS2_MPI_CHECK(MPI_Recv(buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, r, kTagRows,
                               comm.raw(), MPI_STATUS_IGNORE));
        DS2_MPI_CHECK(MPI_Recv(ref.data(), static_cast<int>(ref.size()), MPI_CHAR, r, kTagRef,
                               comm.raw(), MPI_STATUS_IGNORE));
        lp = buf.data();
      }
      rows.append(lp, static_cast<hsize_t>(frames));
      offset.push_back(offset.back() + frames);
      pos.push_back(p);
      ids.push_back(plan.index.utt_id(static_cast<size_t>(p)));
      refs.push_back(ref);
    }
    for (int r = 1; r < comm.size(); ++r) {
      const int64_t done = -1;
      DS2_MPI_CHECK(MPI_Send(&done, 1, MPI_INT64_T, r, kTagAsk, comm.raw()));
    }
    rows.flush();
    f.write("/frame_offset", offset);
    f.write("/pos", pos);
    f.write_strings("/utt_id", ids);
    f.write_strings("/transcript", refs);
  }
  commit_file(tmp, path);
  guard.committed = true;
  comm.barrier();
}

namespace {

// Opens FILE and checks its format and version attributes.
h5::File open_logprobs(const std::string& path) {
  h5::File f = h5::File::open(path);
  DS2_REQUIRE(f.has_attr("format") && f.read_attr_str("format") == "ds2-logprobs", FormatError,
              "{}: not a ds2 log-probability file (attribute 'format' is not 'ds2-logprobs')",
              path);
  const int32_t version = f.read_attr<int32_t>("version");
  DS2_REQUIRE(version == 1, FormatError, "{}: log-probability file version {} (this ds2 reads 1)",
              path, version);
  return f;
}

}  // namespace

std::string stored_data_folder(const std::string& path) {
  return open_logprobs(path).read_attr_str("data");
}

StoredLogProbs read_logprobs(const std::string& path, const std::function<bool(int64_t)>& keep) {
  h5::File f = open_logprobs(path);
  StoredLogProbs s{pipeline::Alphabet::parse(f.read_attr_str("alphabet"), path + ": /alphabet"),
                   f.read_attr_str("model"),
                   f.read_attr_str("data"),
                   {},
                   {}};
  const int c = s.alphabet.size();
  DS2_REQUIRE(f.read_attr<int32_t>("classes") == c, FormatError,
              "{}: attribute 'classes' {} but the alphabet has {} symbols", path,
              f.read_attr<int32_t>("classes"), c);
  const std::vector<int64_t> offset = f.read<int64_t>("/frame_offset");
  const std::vector<int64_t> pos = f.read<int64_t>("/pos");
  const std::vector<std::string> ids = f.read_strings("/utt_id");
  const std::vector<std::string> refs = f.read_strings("/transcript");
  const std::vector<hsize_t> dims = f.dims("/logprobs");
  const size_t n = pos.size();
  DS2_REQUIRE(offset.size() == n + 1 && ids.size() == n && refs.size() == n && dims.size() == 2 &&
                  dims[1] == static_cast<hsize_t>(c) && offset[0] == 0 &&
                  static_cast<hsize_t>(offset[n]) == dims[0],
              FormatError,
              "{}: /frame_offset, /pos, /utt_id, /transcript and /logprobs disagree "
              "on the number of utterances or frames",
              path);
  for (size_t i = 0; i < n; ++i) {
    DS2_REQUIRE(offset[i + 1] >= offset[i], FormatError,
                "{}: /frame_offset decreases at utterance {}", path, i);
    if (keep && !keep(pos[i])) continue;
    UttLogProbs u;
    u.pos = pos[i];
    u.frames = static_cast<int>(offset[i + 1] - offset[i]);
    u.ref = refs[i];
    if (u.frames > 0) {
      u.logp = f.read_rows<float>("/logprobs", static_cast<hsize_t>(offset[i]),
                                  static_cast<hsize_t>(u.frames));
    } else {
      u.logp.assign(static_cast<size_t>(c), 0.0f);  // (max(T', 1), C) as compute_log_probs
    }
    s.utts.push_back(std::move(u));
    s.utt_ids.push_back(ids[i]);
  }
  return s;
}

}  // namespace ds2::eval
