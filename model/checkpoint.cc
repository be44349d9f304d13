// Checkpoint save/load on core/h5.h (layout in checkpoint.h).
#include "model/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/version.h"
#include "model/network.h"

namespace ds2::model {
namespace {

constexpr const char* kFormat = "ds2-checkpoint";
constexpr int64_t kVersion = 1;

std::vector<hsize_t> dims_of(const ParamInfo& p) {
  std::vector<hsize_t> d;
  for (int s : p.shape) d.push_back(static_cast<hsize_t>(s));
  return d;
}

void check_name(const std::string& name) {
  DS2_REQUIRE(!name.empty() && name.find('/') == std::string::npos, ConfigError,
              "checkpoint extra '{}': names must be non-empty and contain no '/'", name);
}

template <typename T>
void write_extras(h5::File& f, const std::map<std::string, std::vector<T>>& m,
                  const std::string& type, std::vector<std::string>& index) {
  for (const auto& [name, v] : m) {
    check_name(name);
    f.write<T>("/extra/" + name, v);
    index.push_back(type + ":" + name);
  }
}

void write_tensors(h5::File& f, const std::string& group, const std::vector<ParamInfo>& infos,
                   Backend& be, const float* arena) {
  f.create_group(group);
  // One download of the whole arena from a device (none on the CPU), then one slice per tensor.
  size_t total = 0;
  for (const auto& p : infos) total = std::max(total, p.offset + p.size);
  std::vector<float> all, host;
  const float* h = be.host_view(arena, total, &all);
  for (const auto& p : infos) {
    host.assign(h + p.offset, h + p.offset + p.size);
    f.write<float>(group + "/" + p.name, host, dims_of(p));
  }
}

void read_tensors(const h5::File& f, const std::string& group, const std::vector<ParamInfo>& infos,
                  Backend& be, float* arena) {
  for (const auto& p : infos) {
    const std::string name = group + "/" + p.name;
    DS2_REQUIRE(f.exists(name), FormatError, "{}: tensor '{}' missing", f.path(), name);
    std::vector<hsize_t> dims;
    std::vector<float> host = f.read<float>(name, &dims);
    DS2_REQUIRE(dims == dims_of(p), FormatError,
                "{}: tensor '{}' has shape {} elements {}, "
                "expected {}",
                f.path(), name, dims.size(), host.size(), shape_string(p.shape));
    be.upload(arena + p.offset, host.data(), p.size);
  }
}

}  // namespace

int64_t CheckpointExtras::get_int(const std::string& name) const {
  auto it = i64.find(name);
  DS2_REQUIRE(it != i64.end() && it->second.size() == 1, FormatError,
              "checkpoint: scalar '{}' missing", name);
  return it->second[0];
}

void save_checkpoint(const std::string& path, Network& net, const NormStats& norm,
                     const CheckpointExtras& extras) {
  const std::string tmp = temp_path_for(path);
  try {
    h5::File f = h5::File::create(tmp);
    const ModelConfig& cfg = net.config();
    f.write_attr_str("format", kFormat);
    f.write_attr<int64_t>("version", kVersion);
    f.write_attr_str("created_by", std::string("ds2 ") + git_describe());
    f.write_attr_str("model_config", cfg.to_ini());
    f.write_attr<int64_t>("num_params", static_cast<int64_t>(net.num_params()));
    f.create_group("/config");
    // Typed copies of the architecture (the INI text above is what load compares).
    for (auto [key, v] : {std::pair<const char*, int64_t>{"n_bins", cfg.n_bins},
                          {"alphabet_size", cfg.alphabet_size},
                          {"rnn_layers", cfg.rnn_layers},
                          {"rnn_hidden", cfg.rnn_hidden},
                          {"lookahead", cfg.lookahead},
                          {"fc_hidden", cfg.fc_hidden},
                          {"bidirectional", cfg.bidirectional},
                          {"rnn_batch_norm", cfg.rnn_batch_norm}})
      f.write_attr<int64_t>(key, v, "/config");
    f.write_attr<double>("relu_clip", cfg.relu_clip, "/config");
    f.write_attr<double>("bn_eps", cfg.bn_eps, "/config");
    for (auto [key, v] : {std::pair<const char*, std::string>{"conv_filters", cfg.conv_filters},
                          {"conv_kernel", cfg.conv_kernel},
                          {"conv_stride", cfg.conv_stride},
                          {"rnn_type", cfg.rnn_type}})
      f.write_attr_str(key, v, "/config");
    write_tensors(f, "/params", net.params_info(), net.backend(), net.params());
    write_tensors(f, "/buffers", net.buffers_info(), net.backend(), net.buffers());
    if (!norm.mean.empty() || !norm.std.empty()) {
      f.create_group("/norm");
      f.write<double>("/norm/mean", norm.mean);
      f.write<double>("/norm/std", norm.std);
    }
    f.create_group("/extra");
    std::vector<std::string> index;
    write_extras(f, extras.f32, "f32", index);
    write_extras(f, extras.f64, "f64", index);
    write_extras(f, extras.i64, "i64", index);
    write_extras(f, extras.u64, "u64", index);
    write_extras(f, extras.u8, "u8", index);
    for (const auto& [name, s] : extras.str) {
      check_name(name);
      f.write_strings("/extra/" + name, {s});
      index.push_back("str:" + name);
    }
    f.write_strings("/extra/index", index);
    f.close();
    commit_file(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

namespace {
CheckpointExtras read_extras(const h5::File& f, const std::string& path) {
  CheckpointExtras ex;
  for (const std::string& entry : f.read_strings("/extra/index")) {
    const size_t colon = entry.find(':');
    DS2_REQUIRE(colon != std::string::npos, FormatError, "{}: /extra/index entry '{}'", path,
                entry);
    const std::string type = entry.substr(0, colon), name = entry.substr(colon + 1);
    const std::string ds = "/extra/" + name;
    if (type == "f32")
      ex.f32[name] = f.read<float>(ds);
    else if (type == "f64")
      ex.f64[name] = f.read<double>(ds);
    else if (type == "i64")
      ex.i64[name] = f.read<int64_t>(ds);
    else if (type == "u64")
      ex.u64[name] = f.read<uint64_t>(ds);
    else if (type == "u8")
      ex.u8[name] = f.read<uint8_t>(ds);
    else if (type == "str") {
      auto v = f.read_strings(ds);
      DS2_REQUIRE(v.size() == 1, FormatError, "{}: '{}' is not one string", path, ds);
      ex.str[name] = v[0];
    } else {
      DS2_THROW(FormatError, "{}: /extra/index entry '{}' has unknown type", path, entry);
    }
  }
  return ex;
}

h5::File open_checkpoint(const std::string& path) {
  h5::File f = h5::File::open(path);
  DS2_REQUIRE(f.has_attr("format") && f.read_attr_str("format") == kFormat, FormatError,
              "{}: not a ds2 checkpoint (root attribute format != '{}')", path, kFormat);
  const int64_t v = f.read_attr<int64_t>("version");
  DS2_REQUIRE(v == kVersion, FormatError, "{}: checkpoint version {} (this ds2 reads {})", path, v,
              kVersion);
  return f;
}
}  // namespace

ModelConfig read_checkpoint_config(const std::string& path) {
  h5::File f = open_checkpoint(path);
  return ModelConfig::from_ini_string(f.read_attr_str("model_config"), path + ":model_config");
}

void load_checkpoint(const std::string& path, Network& net, NormStats* norm,
                     CheckpointExtras* extras) {
  h5::File f = open_checkpoint(path);
  const ModelConfig stored =
      ModelConfig::from_ini_string(f.read_attr_str("model_config"), path + ":model_config");
  const auto want = net.config().arch_fields(), have = stored.arch_fields();
  for (size_t i = 0; i < want.size(); ++i)
    DS2_REQUIRE(want[i].second == have[i].second, ConfigError,
                "{}: model.{} is '{}' in the checkpoint but '{}' in this model", path,
                want[i].first, have[i].second, want[i].second);
  read_tensors(f, "/params", net.params_info(), net.backend(), net.params());
  read_tensors(f, "/buffers", net.buffers_info(), net.backend(), net.buffers());
  if (norm) {
    *norm = NormStats{};
    if (f.exists("/norm/mean")) {
      norm->mean = f.read<double>("/norm/mean");
      norm->std = f.read<double>("/norm/std");
    }
  }
  if (extras) *extras = read_extras(f, path);
}

CheckpointExtras read_checkpoint_extras(const std::string& path) {
  return read_extras(open_checkpoint(path), path);
}

// ---- inference metadata ----

namespace {
constexpr const char* kFeatureKeys[] = {"feature.sample_rate", "feature.window_ms",
                                        "feature.hop_ms", "feature.n_bins", "feature.kind"};
}  // namespace

void set_feature_meta(CheckpointExtras* ex, const pipeline::FeatureMeta& m) {
  ex->set_int("feature.sample_rate", m.sample_rate);
  ex->f64["feature.window_ms"] = {m.window_ms};
  ex->f64["feature.hop_ms"] = {m.hop_ms};
  ex->set_int("feature.n_bins", m.n_bins);
  ex->str["feature.kind"] = m.feature;
}

bool get_feature_meta(const CheckpointExtras& ex, const std::string& path,
                      pipeline::FeatureMeta* m) {
  int present = 0;
  for (const char* k : kFeatureKeys)
    present += ex.i64.count(k) + ex.f64.count(k) + ex.str.count(k) > 0;
  if (present == 0) return false;
  auto f64 = [&](const char* k) {
    auto it = ex.f64.find(k);
    DS2_REQUIRE(it != ex.f64.end() && it->second.size() == 1, FormatError,
                "{}: extra '{}' missing or not one float64 (the other feature settings are there)",
                path, k);
    return it->second[0];
  };
  auto i64 = [&](const char* k) {
    auto it = ex.i64.find(k);
    DS2_REQUIRE(it != ex.i64.end() && it->second.size() == 1, FormatError,
                "{}: extra '{}' missing or not one int64 (the other feature settings are there)",
                path, k);
    return it->second[0];
  };
  auto kind = ex.str.find("feature.kind");
  DS2_REQUIRE(kind != ex.str.end(), FormatError,
              "{}: extra 'feature.kind' missing (the other feature settings are there)", path);
  m->sample_rate = static_cast<int>(i64("feature.sample_rate"));
  m->window_ms = f64("feature.window_ms");
  m->hop_ms = f64("feature.hop_ms");
  m->n_bins = static_cast<int>(i64("feature.n_bins"));
  m->feature = kind->second;
  return true;
}

std::vector<std::pair<std::string, std::string>> feature_fields(const pipeline::FeatureMeta& m) {
  // fmt's "{}" prints a double as the shortest text that reads back to it: equal text iff equal.
  return {{"sample_rate", fmt::format("{}", m.sample_rate)},
          {"window_ms", fmt::format("{}", m.window_ms)},
          {"hop_ms", fmt::format("{}", m.hop_ms)},
          {"n_bins", fmt::format("{}", m.n_bins)},
          {"feature", m.feature}};
}

void require_same_features(const std::string& checkpoint, const pipeline::FeatureMeta& trained,
                           const std::string& data_file, const pipeline::FeatureMeta& data) {
  const auto want = feature_fields(trained), have = feature_fields(data);
  for (size_t i = 0; i < want.size(); ++i)
    DS2_REQUIRE(want[i].second == have[i].second, ConfigError,
                "{}: feature setting '{}' is {} in the checkpoint but {} in {}", checkpoint,
                want[i].first, want[i].second, have[i].second, data_file);
}

std::string trained_normalize(const CheckpointExtras& ex) {
  auto it = ex.str.find("train_ini");
  if (it == ex.str.end()) return "";
  std::istringstream in(it->second);
  std::string line;
  auto trim = [](const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') break;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    if (trim(line.substr(0, eq)) == "normalize") return trim(line.substr(eq + 1));
  }
  return "";
}

}  // namespace ds2::model
