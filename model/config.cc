// ModelConfig: option registration, INI reading, validation and derived shapes.
#include "model/config.h"

#include <fmt/format.h>

#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "model/conv.h"

namespace ds2::model {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "41x11" -> (41, 11); ConfigError naming the key otherwise.
std::pair<int, int> pair_of(const std::string& w, const std::string& key) {
  int a = 0, b = 0;
  char x = 0, extra = 0;
  std::istringstream in(w);
  in >> a >> x >> b;
  DS2_REQUIRE(in && x == 'x' && !(in >> extra) && a >= 1 && b >= 1, ConfigError,
              "model.{}: '{}' is not <freq>x<time> with positive integers", key, w);
  return {a, b};
}

}  // namespace

void ModelConfig::add_to(po::options_description& desc) {
  auto add = desc.add_options();
  add("model.device", po::value(&device)->default_value(device), "cpu | cuda");
  add("model.num_threads", po::value(&num_threads)->default_value(num_threads),
      "threads for OpenMP loops and OpenBLAS; 0: OMP_NUM_THREADS");
  add("model.seed", po::value(&seed)->default_value(seed), "parameter initialization seed");
  add("model.bn_momentum", po::value(&bn_momentum)->default_value(bn_momentum),
      "batch-norm running-average momentum");
  add("model.n_bins", po::value(&n_bins)->default_value(n_bins), "input features per frame");
  add("model.alphabet_size", po::value(&alphabet_size)->default_value(alphabet_size),
      "output classes including the blank (0)");
  add("model.conv_filters", po::value(&conv_filters)->default_value(conv_filters),
      "filters per conv layer, e.g. '32 32 96' (empty: no conv)");
  add("model.conv_kernel", po::value(&conv_kernel)->default_value(conv_kernel),
      "kernel per conv layer, freq x time, e.g. '41x11 21x11 21x11'");
  add("model.conv_stride", po::value(&conv_stride)->default_value(conv_stride),
      "stride per conv layer, freq x time, e.g. '2x2 2x1 2x1'");
  add("model.rnn_type", po::value(&rnn_type)->default_value(rnn_type), "gru | rnn");
  add("model.rnn_layers", po::value(&rnn_layers)->default_value(rnn_layers), "recurrent layers");
  add("model.rnn_hidden", po::value(&rnn_hidden)->default_value(rnn_hidden),
      "recurrent hidden units");
  add("model.bidirectional", po::value(&bidirectional)->default_value(bidirectional),
      "bidirectional recurrent layers (directions summed)");
  add("model.lookahead", po::value(&lookahead)->default_value(lookahead),
      "lookahead (row) convolution context in frames, forward-only models");
  add("model.rnn_batch_norm", po::value(&rnn_batch_norm)->default_value(rnn_batch_norm),
      "sequence-wise batch norm on the recurrent input-to-hidden part");
  add("model.fc_hidden", po::value(&fc_hidden)->default_value(fc_hidden),
      "units of a hidden fully connected layer before the output (0: none)");
  add("model.relu_clip", po::value(&relu_clip)->default_value(relu_clip), "clipped ReLU ceiling");
  add("model.bn_eps", po::value(&bn_eps)->default_value(bn_eps), "batch-norm epsilon");
}

ModelConfig ModelConfig::from_ini_string(const std::string& text, const std::string& source) {
  ModelConfig c;
  po::options_description desc;
  c.add_to(desc);
  // Flat keys before any section header belong to [model].
  std::istringstream in("[model]\n" + text);
  try {
    po::variables_map vm;
    po::store(po::parse_config_file(in, desc, true), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    DS2_THROW(ConfigError, "{}: {}", source, e.what());
  }
  try {
    c.validate();
  } catch (const ConfigError& e) {
    DS2_THROW(ConfigError, "{}: {}", source, e.what());
  }
  return c;
}

ModelConfig ModelConfig::from_ini_file(const std::string& path) {
  return from_ini_string(read_file(path), path);
}

std::string ModelConfig::to_ini() const {
  std::string s = "[model]\n";
  s += fmt::format("device = {}\nnum_threads = {}\nseed = {}\nbn_momentum = {}\n", device,
                   num_threads, seed, bn_momentum);
  for (const auto& [k, v] : arch_fields()) s += k + " = " + v + "\n";
  return s;
}

std::vector<std::pair<std::string, std::string>> ModelConfig::arch_fields() const {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return {{"n_bins", std::to_string(n_bins)},
          {"alphabet_size", std::to_string(alphabet_size)},
          {"conv_filters", conv_filters},
          {"conv_kernel", conv_kernel},
          {"conv_stride", conv_stride},
          {"rnn_type", rnn_type},
          {"rnn_layers", std::to_string(rnn_layers)},
          {"rnn_hidden", std::to_string(rnn_hidden)},
          {"bidirectional", b(bidirectional)},
          {"lookahead", std::to_string(lookahead)},
          {"rnn_batch_norm", b(rnn_batch_norm)},
          {"fc_hidden", std::to_string(fc_hidden)},
          {"relu_clip", fmt::format("{}", relu_clip)},
          {"bn_eps", fmt::format("{}", bn_eps)}};
}

std::vector<ConvLayerSpec> ModelConfig::conv_layers() const {
  const auto f = words(conv_filters), k = words(conv_kernel), s = words(conv_stride);
  DS2_REQUIRE(f.size() == k.size() && f.size() == s.size(), ConfigError,
              "model.conv_filters/conv_kernel/conv_stride: {} filters, {} kernels, {} strides "
              "(must match)",
              f.size(), k.size(), s.size());
  std::vector<ConvLayerSpec> out;
  for (size_t i = 0; i < f.size(); ++i) {
    ConvLayerSpec c;
    try {
      c.filters = std::stoi(f[i]);
    } catch (const std::exception&) {
      DS2_THROW(ConfigError, "model.conv_filters: '{}' is not an integer", f[i]);
    }
    DS2_REQUIRE(c.filters >= 1, ConfigError, "model.conv_filters: {} must be >= 1", c.filters);
    std::tie(c.kf, c.kt) = pair_of(k[i], "conv_kernel");
    std::tie(c.sf, c.st) = pair_of(s[i], "conv_stride");
    out.push_back(c);
  }
  return out;
}

void ModelConfig::validate() const {
  DS2_REQUIRE(device == "cpu" || device == "cuda", ConfigError, "model.device: '{}' (cpu or cuda)",
              device);
  DS2_REQUIRE(num_threads >= 0, ConfigError, "model.num_threads: {} < 0", num_threads);
  DS2_REQUIRE(n_bins >= 1, ConfigError, "model.n_bins: {} < 1", n_bins);
  DS2_REQUIRE(alphabet_size >= 2, ConfigError, "model.alphabet_size: {} < 2", alphabet_size);
  DS2_REQUIRE(rnn_type == "gru" || rnn_type == "rnn", ConfigError,
              "model.rnn_type: '{}' (gru or rnn)", rnn_type);
  DS2_REQUIRE(rnn_layers >= 0, ConfigError, "model.rnn_layers: {} < 0", rnn_layers);
  DS2_REQUIRE(rnn_hidden >= 1, ConfigError, "model.rnn_hidden: {} < 1", rnn_hidden);
  DS2_REQUIRE(lookahead >= 0, ConfigError, "model.lookahead: {} < 0", lookahead);
  DS2_REQUIRE(lookahead == 0 || !bidirectional, ConfigError,
              "model.lookahead: {} needs bidirectional = false", lookahead);
  DS2_REQUIRE(fc_hidden >= 0, ConfigError, "model.fc_hidden: {} < 0", fc_hidden);
  DS2_REQUIRE(relu_clip > 0, ConfigError, "model.relu_clip: {} must be > 0", relu_clip);
  DS2_REQUIRE(bn_eps > 0, ConfigError, "model.bn_eps: {} must be > 0", bn_eps);
  DS2_REQUIRE(bn_momentum > 0 && bn_momentum <= 1, ConfigError,
              "model.bn_momentum: {} not in (0, 1]", bn_momentum);
  int f = n_bins;
  for (const auto& c : conv_layers()) {
    DS2_REQUIRE(c.kt % 2 == 1, ConfigError, "model.conv_kernel: time extent {} must be odd", c.kt);
    ConvSpec s;
    s.kf = c.kf, s.kt = c.kt, s.sf = c.sf, s.st = c.st, s.f_in = f;
    DS2_REQUIRE(s.f_out() >= 1, ConfigError, "model.conv_kernel: {}x{} too large for {} bins", c.kf,
                c.kt, f);
    f = s.f_out();
  }
}

int ModelConfig::out_length(int t) const {
  for (const auto& c : conv_layers()) {
    ConvSpec s;
    s.kt = c.kt, s.st = c.st;
    t = s.out_length(t);
  }
  return t;
}

int ModelConfig::time_stride() const {
  int stride = 1;
  for (const auto& c : conv_layers()) stride *= c.st;
  return stride;
}

int ModelConfig::rnn_input() const {
  int f = n_bins, ch = 1;
  for (const auto& c : conv_layers()) {
    ConvSpec s;
    s.kf = c.kf, s.sf = c.sf, s.f_in = f;
    f = s.f_out();
    ch = c.filters;
  }
  return ch * f;
}

}  // namespace ds2::model
