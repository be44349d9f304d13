// `ds2 alphabet --manifest M [--min-count K] [--rules A.txt] [--no-space] --out OUT.txt`
//
// Normalizes every transcript of M as `ds2 prep` will (alphabet.h: NFKC_Casefold, then the
// rules of --rules, default the English ones), counts the characters, and writes OUT.txt: the
// alphabet file of the characters seen at least K times, most frequent first (<space> after
// <blank> when the transcripts hold spaces, unless --no-space), then the rule lines of --rules.
// The others go to OUT.txt.rare.tsv with their counts: prep rejects the rows that hold them.
// Kaldi tool shape: an unreadable row is warned about and counted, never fatal; the exit code is
// non-zero only when no row could be read or no character was kept. Both files are written
// atomically. A Mandarin alphabet of a few thousand characters:
//   ds2 alphabet --manifest train.tsv --min-count 2 --no-space --out zh.txt
#include "pipeline/alphabet_main.h"

#include <cstdio>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/options.h"
#include "pipeline/alphabet_build.h"

namespace ds2::pipeline {

namespace {

struct AlphabetOptions {
  std::string manifest, format = "auto", out, rules;
  int64_t min_count = 1;
  bool no_space = false;
  void add_to(po::options_description& d) {
    d.add_options()("manifest", po::value(&manifest)->required(),
                    "training manifest (TSV, JSON-lines, CSV or a LibriSpeech tree)")(
        "format", po::value(&format)->default_value(format),
        "manifest format: auto|tsv|jsonl|csv|librispeech")(
        "out", po::value(&out)->required(), "alphabet file to write (and OUT.rare.tsv)")(
        "min-count", po::value(&min_count)->default_value(min_count),
        "characters seen fewer times are left out and listed in OUT.rare.tsv")(
        "rules", po::value(&rules),
        "alphabet file whose @space/@drop/@map rules normalize the transcripts and are written "
        "into OUT; its symbols are counted even where a rule would drop them (en.txt: ')")(
        "no-space", po::bool_switch(&no_space), "no <space> symbol (spaces deleted: Mandarin)");
  }
};

}  // namespace

int alphabet_main(int argc, char** argv) {
  AlphabetOptions o;
  po::options_description desc("ds2 alphabet options", 100, 50);
  o.add_to(desc);
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 alphabet --manifest FILE --out ALPHABET.txt [--min-count K] [--rules "
                     "A.txt] [--no-space]",
                     desc, &args))
    return 0;
  DS2_REQUIRE(o.min_count >= 1, ConfigError, "option 'min-count': must be >= 1, got {}",
              o.min_count);
  if (log_rank() != 0) return 0;  // under mpirun: one writer
  auto log = logger("alphabet");
  const Alphabet base = o.rules.empty() ? Alphabet::parse("<blank>\n<space>\n", "default rules")
                                        : Alphabet::load(o.rules);
  const Manifest m = read_manifest(o.manifest, o.format);
  const CharacterCounts c = count_characters(m, base);
  for (const Reject& r : c.rejects) log->warn("unreadable row: {}", r.reason);
  if (c.counted == 0) {
    log->error("{}: no readable transcript in {} rows", o.manifest, c.rows);
    return 1;
  }
  const BuiltAlphabet b = build_alphabet(c, base, o.min_count, !o.no_space);
  if (b.symbols == 0) {
    log->error("{}: no character seen --min-count {} times in {} rows", o.manifest, o.min_count,
               c.counted);
    return 1;
  }
  Alphabet::parse(b.text, o.out);  // what prep will load: refuse to write anything else
  const std::string rare_path = o.out + ".rare.tsv";
  write_file_atomic(rare_path, rare_tsv(b, o.min_count));
  write_file_atomic(o.out, b.text);
  const std::string unreadable =
      c.rejects.empty() ? "" : fmt::format("; {} of {} rows unreadable", c.rejects.size(), c.rows);
  std::printf("done: %d characters from %lld rows (%zu below --min-count, listed in %s)%s\n",
              b.symbols, static_cast<long long>(c.counted), b.rare.size(), rare_path.c_str(),
              unreadable.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace ds2::pipeline
