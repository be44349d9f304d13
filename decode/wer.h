// Word and character error rates with NIST sclite's alignment, and sclite's trn format.
//
// Alignment (as sclite's DP, SCTK src/sclite/net_dp.c with wwd_WORD costs): minimum-cost
// Levenshtein alignment of ref against hyp with costs correct 0, substitution 4, insertion 3,
// deletion 3. Ties at a cell go to substitution/correct when it is <= both others, else to
// deletion when it is < insertion, else to insertion; the path is traced back from the end.
// The cost weights decide between e.g. 1 substitution (4) and 1 deletion + 1 insertion (6), and
// the tie order fixes the sub/del/ins split among equal-cost paths, so the counts agree with
// sclite's, utterance by utterance (the Sclite cases of tests/decode/wer_test.cc run sclite
// itself).
//
// Tokens. Words: whitespace-separated. Characters (CER): the UTF-8 code points of the words,
// spaces dropped -- what `sclite -c` counts (it splits words into characters and aligns those;
// for non-ASCII text run sclite with `-e utf-8`, which splits code points, not bytes).
// Matching folds ASCII case, as sclite does by default (without -s). sclite's special tokens
// (optionally deletable "(word)", "@" nulls, alternations "{ a / b }") are not interpreted: ds2
// transcripts are normalized text without them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds2::decode {

struct ErrorCounts {
  int64_t sub = 0, del = 0, ins = 0, correct = 0;
  int64_t ref = 0;  // reference tokens (words or characters) = sub + del + correct
  int64_t errors() const { return sub + del + ins; }
  // errors / ref; 0 when both are 0, +inf when ref is 0 and there are insertions.
  double rate() const;
  ErrorCounts& operator+=(const ErrorCounts& o);
};

enum class Unit { kWord, kChar };

// Tokens of a transcript: words, or code points without spaces (see above). ASCII lower-cased.
std::vector<std::string> tokenize(const std::string& text, Unit unit);

// sclite's alignment counts for one utterance (token sequences as from tokenize()).
ErrorCounts align_counts(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);

// One step of the alignment: ref[ref_pos] vs hyp[hyp_pos] (kCorrect, kSub), ref[ref_pos]
// deleted (kDel), or hyp[hyp_pos] inserted (kIns).
enum class AlignOp { kCorrect, kSub, kDel, kIns };
struct AlignStep {
  AlignOp op;
  size_t ref_pos, hyp_pos;
};
// The alignment align_counts() counts, in order (sclite's costs and tie rules).
std::vector<AlignStep> align_path(const std::vector<std::string>& ref,
                                  const std::vector<std::string>& hyp);

// One line of a trn file: `words of the transcript (utt_id)`.
struct TrnEntry {
  std::string id;
  std::string text;
};

// Reads a trn file. Blank lines are skipped. Throws IoError, or FormatError "FILE:LINE: ..." for
// a line without a trailing "(id)" or a duplicate id.
std::vector<TrnEntry> read_trn(const std::string& path);
// Writes entries as trn lines (atomically). Throws FormatError when an id holds '(' ')' or
// whitespace, or a text holds a newline.
void write_trn(const std::string& path, const std::vector<TrnEntry>& entries);
// One entry as write_trn writes it, with its checks (`path` names the file in errors).
std::string trn_line(const std::string& path, const TrnEntry& e);

struct ScoreResult {
  ErrorCounts total;
  std::vector<std::string> ids;      // reference order
  std::vector<ErrorCounts> per_utt;  // aligned with ids
};

// Scores hyp against ref, matched by id. Every ref id must have a hyp and vice versa: missing or
// extra ids throw FormatError naming them (the first few and the count). `ref_origin` and
// `hyp_origin` name the inputs in errors.
ScoreResult score(const std::vector<TrnEntry>& ref, const std::vector<TrnEntry>& hyp, Unit unit,
                  const std::string& ref_origin = "ref", const std::string& hyp_origin = "hyp");

}  // namespace ds2::decode
