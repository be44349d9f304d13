// `ds2 transcribe --model CKPT [--decoder greedy|beam] [--lm LM.arpa --alpha A --beta B
//  --beam W] [--stream [--chunk-ms 320]] [--manifest M] FILE...` (see transcribe.h).
#include <cstdio>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/mpi.h"
#include "core/node.h"
#include "core/options.h"
#include "core/timer.h"
#include "eval/transcribe.h"
#include "model/device.h"
#include "pipeline/manifest.h"

namespace ds2::eval {

int transcribe_main(int argc, char** argv) {
  TranscribeOptions o;
  po::options_description desc("ds2 transcribe options");
  o.add_to(desc);
  po::positional_options_description pos;
  pos.add("file", -1);
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 transcribe --model RUN/ckpt-best.h5 [--decoder greedy|beam] "
                     "[--lm LM.arpa --alpha A --beta B --beam W] [--stream [--chunk-ms 320]] "
                     "FILE...\n"
                     "prints FILE<TAB>text per file on stdout, in argument order",
                     desc, &args, &pos))
    return 0;
  Comm world;
  model::select_gpu(o.device, node_place(world));  // one GPU per rank (model/device.h)
  auto log = logger("transcribe");

  // Inputs: the files, then the manifest's audio (its malformed rows are failures too).
  std::vector<std::string> files = o.files;
  int failed = 0;
  if (!o.manifest.empty()) {
    const pipeline::Manifest m = pipeline::read_manifest(o.manifest);
    for (const auto& e : m.entries) files.push_back(e.path);
    for (const auto& r : m.rejects) {
      std::fprintf(stderr, "ds2 transcribe: %s: %s\n", o.manifest.c_str(), r.reason.c_str());
      ++failed;
    }
  }
  DS2_REQUIRE(!files.empty() || failed > 0, ConfigError,
              "no audio files given (positional arguments or --manifest)");

  const size_t inputs = files.size() + static_cast<size_t>(failed);
  Transcriber tr(o);
  Timer timer;
  for (const std::string& path : files) {
    try {
      std::string text;
      if (o.stream) {
        text = tr.transcribe_stream(path, [&](double seconds, const std::string& partial) {
          std::fprintf(stderr, "partial\t%s\t%.3f\t%s\n", path.c_str(), seconds, partial.c_str());
          std::fflush(stderr);
        });
      } else {
        text = tr.transcribe_file(path);
      }
      std::printf("%s\t%s\n", path.c_str(), text.c_str());
      std::fflush(stdout);
    } catch (const Error& e) {
      // IoError / FormatError name the file; anything else (a bug, CUDA) is not per file.
      if (!dynamic_cast<const IoError*>(&e) && !dynamic_cast<const FormatError*>(&e)) throw;
      std::fprintf(stderr, "ds2 transcribe: %s\n", e.what());
      std::fflush(stderr);
      ++failed;
    }
  }
  log->info("done {} of {} files in {:.2f} s{}", inputs - static_cast<size_t>(failed), inputs,
            timer.seconds(), o.stream ? " (streaming)" : "");
  return failed > 0 ? 1 : 0;
}

}  // namespace ds2::eval
