// Wire form of prep's per-shard work and duration probes (see prep_work.h).
#include "pipeline/prep_work.h"

#include <cstring>

#include "core/error.h"
#include "core/wire.h"

namespace ds2::pipeline {
using Writer = wire::Writer;
using Reader = wire::Reader;

std::string pack(const ShardWork& w) {
  Writer o;
  o.pod<int32_t>(w.shard);
  o.str(w.digest);
  o.pod<double>(w.duration);
  o.pod<uint64_t>(w.entries.size());
  for (size_t i = 0; i < w.entries.size(); ++i) {
    const ManifestEntry& e = w.entries[i];
    o.pod<int64_t>(e.line);
    o.pod<double>(e.duration);
    o.pod<int32_t>(w.index[i]);
    o.pod<double>(w.seconds[i]);
    o.str(e.path);
    o.str(e.transcript);
    o.str(e.utt_id);
    o.str(e.source);
  }
  o.pod<int32_t>(w.team);
  o.pod<int32_t>(w.member);
  o.pod<uint64_t>(w.babble.size());
  for (const auto& [pos, path] : w.babble) {
    o.pod<uint64_t>(pos);
    o.str(path);
  }
  return o.take();
}

ShardWork unpack_shard_work(const std::string& bytes, const std::string& origin) {
  Reader in(bytes, origin);
  ShardWork w;
  w.shard = in.pod<int32_t>();
  w.digest = in.str();
  w.duration = in.pod<double>();
  const uint64_t n = in.count(8 + 8 + 4 + 8 + 4 * 8);
  w.entries.resize(n);
  w.index.resize(n);
  w.seconds.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    ManifestEntry& e = w.entries[i];
    e.line = in.pod<int64_t>();
    e.duration = in.pod<double>();
    w.index[i] = in.pod<int32_t>();
    w.seconds[i] = in.pod<double>();
    e.path = in.str();
    e.transcript = in.str();
    e.utt_id = in.str();
    e.source = in.str();
  }
  w.team = in.pod<int32_t>();
  w.member = in.pod<int32_t>();
  const uint64_t nb = in.count(16);
  for (uint64_t i = 0; i < nb; ++i) {
    const uint64_t pos = in.pod<uint64_t>();
    w.babble.emplace_back(pos, in.str());
  }
  in.done();
  return w;
}

std::string pack(const Prepared& p) {
  Writer o;
  o.str(p.why);
  o.pod<uint64_t>(p.labels.size());
  for (int32_t l : p.labels) o.pod<int32_t>(l);
  o.pod<uint64_t>(p.copies.size());
  for (const PreparedCopy& c : p.copies) {
    o.str(c.utt_id);
    o.str(c.augment_json);
    o.pod<int64_t>(c.frames);
    o.pod<float>(c.seconds);
    o.str(
        std::string(reinterpret_cast<const char*>(c.feats.data()), c.feats.size() * sizeof(float)));
  }
  return o.take();
}

Prepared unpack_prepared(const std::string& bytes, const std::string& origin) {
  Reader in(bytes, origin);
  Prepared p;
  p.why = in.str();
  p.labels.resize(in.count(4));
  for (int32_t& l : p.labels) l = in.pod<int32_t>();
  p.copies.resize(in.count(8 + 8 + 8 + 4 + 8));
  for (PreparedCopy& c : p.copies) {
    c.utt_id = in.str();
    c.augment_json = in.str();
    c.frames = in.pod<int64_t>();
    c.seconds = in.pod<float>();
    const std::string f = in.str();
    DS2_REQUIRE(f.size() % sizeof(float) == 0, CommError, "{}: features of {} bytes", origin,
                f.size());
    c.feats.resize(f.size() / sizeof(float));
    std::memcpy(c.feats.data(), f.data(), f.size());
  }
  in.done();
  return p;
}

std::string pack(const std::vector<ProbeJob>& v) {
  Writer o;
  o.pod<uint64_t>(v.size());
  for (const auto& j : v) {
    o.pod<int64_t>(j.pos);
    o.str(j.path);
  }
  return o.take();
}

std::vector<ProbeJob> unpack_probe_jobs(const std::string& bytes, const std::string& origin) {
  Reader in(bytes, origin);
  std::vector<ProbeJob> v(in.count(16));
  for (auto& j : v) {
    j.pos = in.pod<int64_t>();
    j.path = in.str();
  }
  in.done();
  return v;
}

std::string pack(const std::vector<ProbeResult>& v) {
  Writer o;
  o.pod<uint64_t>(v.size());
  for (const auto& r : v) {
    o.pod<int64_t>(r.pos);
    o.pod<double>(r.seconds);
    o.str(r.error);
  }
  return o.take();
}

std::vector<ProbeResult> unpack_probe_results(const std::string& bytes, const std::string& origin) {
  Reader in(bytes, origin);
  std::vector<ProbeResult> v(in.count(24));
  for (auto& r : v) {
    r.pos = in.pod<int64_t>();
    r.seconds = in.pod<double>();
    r.error = in.str();
  }
  in.done();
  return v;
}

}  // namespace ds2::pipeline
