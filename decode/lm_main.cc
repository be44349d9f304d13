// `ds2 lm compile IN.arpa OUT.bin` -- ARPA -> the memory-mapped "ds2-lm" form (compiled_lm.h)
// `ds2 lm info FILE [--verify]`    -- header of a compiled file (or an ARPA's counts); --verify
//                                     also checks the body checksum (reads the whole file)
// `ds2 lm query LM < sentences`    -- per line: log10 P of its words (with <s> and </s>) and the
//                                     count of words outside the vocabulary, as KenLM's query
//                                     prints "Total:"; LM is an ARPA or a compiled file
#include "decode/lm_main.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/options.h"
#include "core/timer.h"
#include "decode/arpa_reader.h"
#include "decode/compiled_lm.h"
#include "decode/load_lm.h"

namespace ds2::decode {

namespace {

void usage() {
  std::printf(
      "usage: ds2 lm <action> [options]   (ds2 lm <action> --help)\n\n"
      "actions:\n"
      "  compile IN.arpa OUT.bin   ARPA -> compiled ds2-lm file (memory-mapped by eval, sweep,\n"
      "                            transcribe --lm; exact same scores)\n"
      "  info FILE [--verify]      a compiled file's header (--verify: also its checksum)\n"
      "  query LM                  log10 P of each sentence on stdin (ARPA or compiled)\n");
}

int compile_main(int argc, char** argv) {
  std::string in, out;
  po::options_description desc("ds2 lm compile options");
  desc.add_options()("arpa", po::value(&in)->required(), "ARPA file to compile (positional 1)")(
      "out", po::value(&out)->required(), "compiled file to write (positional 2)");
  po::positional_options_description pos;
  pos.add("arpa", 1).add("out", 1);
  CommandArgs args;
  if (!start_command(argc, argv, "ds2 lm compile IN.arpa OUT.bin", desc, &args, &pos)) return 0;
  auto log = logger("lm");
  Timer t;
  const LmCompileStats st =
      compile_arpa_lm(in, out, [&](const std::string& m) { log->info("{}", m); });
  int64_t listed = 0, nodes = 0;
  for (size_t n = 0; n < st.listed.size(); ++n) {
    listed += st.listed[n];
    nodes += st.entries[n];
  }
  log->info(
      "{}: order {}, {} n-grams ({} blank nodes added), {:.1f} MB, {:.2f} bytes/n-gram; "
      "read {:.1f} s, build {:.1f} s, write {:.1f} s",
      out, st.listed.size(), listed, nodes - listed, static_cast<double>(st.file_bytes) / 1e6,
      static_cast<double>(st.file_bytes) / static_cast<double>(std::max<int64_t>(listed, 1)),
      st.read_s, st.build_s, st.write_s);
  std::printf("done: %s -> %s (%lld n-grams, %llu bytes) in %.1f s\n", in.c_str(), out.c_str(),
              static_cast<long long>(listed), static_cast<unsigned long long>(st.file_bytes),
              t.seconds());
  return 0;
}

int info_main(int argc, char** argv) {
  std::string path;
  bool verify = false;
  po::options_description desc("ds2 lm info options");
  desc.add_options()("lm", po::value(&path)->required(), "compiled LM file (positional)")(
      "verify", po::bool_switch(&verify), "also check the body checksum (reads the whole file)");
  po::positional_options_description pos;
  pos.add("lm", 1);
  CommandArgs args;
  if (!start_command(argc, argv, "ds2 lm info FILE [--verify]", desc, &args, &pos)) return 0;
  DS2_REQUIRE(is_compiled_lm(path), FormatError,
              "{}: field 'magic': not a compiled ds2-lm file (ds2 lm compile makes one)", path);
  Timer t;
  const CompiledLm lm(path);
  const double open_s = t.seconds();
  std::printf("%s: ds2-lm version %u, order %d, vocabulary %d, %llu bytes (opened in %.3f ms)\n",
              path.c_str(), kLmVersion, lm.order(), lm.vocab_size(),
              static_cast<unsigned long long>(lm.file_bytes()), 1e3 * open_s);
  int64_t listed = 0;
  for (int n = 1; n <= lm.order(); ++n) {
    std::printf("  order %d: %lld n-grams, %lld nodes\n", n, static_cast<long long>(lm.count(n)),
                static_cast<long long>(lm.entries(n)));
    listed += lm.count(n);
  }
  std::printf("  %.2f bytes per n-gram\n", static_cast<double>(lm.file_bytes()) /
                                               static_cast<double>(std::max<int64_t>(listed, 1)));
  if (verify) {
    t.reset();
    lm.verify();
    std::printf("  checksum ok (%.2f s)\n", t.seconds());
  }
  return 0;
}

int query_main(int argc, char** argv) {
  std::string path;
  po::options_description desc("ds2 lm query options");
  desc.add_options()("lm", po::value(&path)->required(), "ARPA or compiled LM (positional)");
  po::positional_options_description pos;
  pos.add("lm", 1);
  CommandArgs args;
  if (!start_command(argc, argv, "ds2 lm query LM < sentences.txt", desc, &args, &pos)) return 0;
  const std::unique_ptr<LanguageModel> lm = load_decoder_lm(path, "");
  auto log10_of = [&](const std::vector<int32_t>& ctx, int32_t w) {
    return lm->log_prob(ctx.data(), static_cast<int>(ctx.size()), w) / 2.302585092994045684;
  };
  std::string line;
  std::vector<std::string_view> fields;
  int64_t lines = 0;
  while (std::getline(std::cin, line)) {
    split_arpa_fields(line, &fields);
    std::vector<int32_t> ctx;
    if (lm->bos_id() != LanguageModel::kNoWord) ctx.push_back(lm->bos_id());
    double total = 0;
    int oov = 0;
    for (std::string_view f : fields) {
      const int32_t id = lm->word_id(f);
      if (id == LanguageModel::kNoWord || id == lm->unk_id()) ++oov;
      total += log10_of(ctx, id);
      ctx.push_back(id);
    }
    if (lm->eos_id() != LanguageModel::kNoWord) total += log10_of(ctx, lm->eos_id());
    std::printf("Total: %.6f OOV: %d\n", total, oov);
    ++lines;
  }
  std::fflush(stdout);
  logger("lm")->info("done {} of {} sentences", lines, lines);
  return 0;
}

}  // namespace

int lm_main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string action = argv[1];
  if (action == "compile") return compile_main(argc - 1, argv + 1);
  if (action == "info") return info_main(argc - 1, argv + 1);
  if (action == "query") return query_main(argc - 1, argv + 1);
  DS2_THROW(ConfigError, "ds2 lm: unknown action '{}' (compile, info, query; see ds2 lm --help)",
            action);
}

}  // namespace ds2::decode
