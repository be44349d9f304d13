// ModelConfig: the DS2 network's shape and the device it runs on, as Boost.Program_options
// options named "model.<key>", so an INI file's [model] section fills them:
//
//   [model]
//   conv_filters = 32 32           # one entry per conv layer (0 entries: no conv)
//   conv_kernel  = 41x11 21x11     # frequency x time
//   conv_stride  = 2x2 2x1         # frequency x time
//   rnn_type = gru                 # gru | rnn (clipped-ReLU simple RNN)
//   rnn_layers = 3
//   rnn_hidden = 256
//   bidirectional = true           # false: forward-only, with `lookahead` frames of row conv
//
// ModelConfig::from_ini_* also accepts flat keys (no section header) at the top of the file,
// which are read as [model] keys. share/configs/ds2-{tiny,small,paper}.ini are the shipped
// shapes. Conv layers always carry batch norm (their bias is the BN beta); `rnn_batch_norm`
// switches the sequence-wise BN on the recurrent layers' input-to-hidden part.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/options.h"

namespace ds2::model {

struct ConvLayerSpec {
  int filters = 32;
  int kf = 41, kt = 11;  // kernel, frequency x time
  int sf = 2, st = 2;    // stride, frequency x time
};

struct ModelConfig {
  static constexpr int kVersion = 1;

  // run settings (not part of the architecture; never a checkpoint mismatch)
  std::string device = "cpu";  // cpu | cuda
  int num_threads = 0;         // 0: OMP_NUM_THREADS / OpenMP default; also sets OpenBLAS
  uint64_t seed = 1;           // parameter initialization
  float bn_momentum = 0.1f;    // running = (1 - m) running + m batch

  // architecture
  int n_bins = 161;        // input features per frame
  int alphabet_size = 29;  // output classes, blank (index 0) included
  std::string conv_filters = "32 32";
  std::string conv_kernel = "41x11 21x11";
  std::string conv_stride = "2x2 2x1";
  std::string rnn_type = "gru";
  int rnn_layers = 3;
  int rnn_hidden = 256;
  bool bidirectional = true;
  int lookahead = 0;  // row-convolution context (frames) after the last RNN; forward-only only
  bool rnn_batch_norm = true;
  int fc_hidden = 0;  // width of one hidden FC layer (clipped ReLU) before the output; 0: none
  float relu_clip = 20.0f;
  float bn_eps = 1e-5f;

  // Registers every field as "model.<key>" with its current value as default.
  void add_to(po::options_description& desc);
  // Reads an INI file / text ([model] section or flat keys; other sections are ignored) over
  // the defaults, then validate(). Errors are ConfigError naming `source` and the key.
  static ModelConfig from_ini_file(const std::string& path);
  static ModelConfig from_ini_string(const std::string& text, const std::string& source);
  // "[model]\nkey = value\n..." with every field; from_ini_string(to_ini()) round-trips.
  std::string to_ini() const;
  // Throws ConfigError (one line naming the key) for inconsistent or out-of-range values.
  void validate() const;

  std::vector<ConvLayerSpec> conv_layers() const;
  // Valid output frames for an utterance of t input frames (conv time strides; see conv.h).
  int out_length(int t) const;
  // Input frames per output frame: the product of the conv layers' time strides.
  int time_stride() const;
  // Feature width entering the first recurrent layer (channels x frequency bins after convs).
  int rnn_input() const;
  // Architecture fields as (key, value text) in a fixed order: what a checkpoint must match.
  std::vector<std::pair<std::string, std::string>> arch_fields() const;
};

}  // namespace ds2::model
