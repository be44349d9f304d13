// Utterance ids: how an input row is named in shards, index.h5, trn files and augmentation seeds.
//
// An id comes from, in order:
//   1. the row itself: the 4th TSV/CSV field, the JSON-lines key "utt_id", the first word of a
//      LibriSpeech *.trans.txt line (an empty field counts as absent);
//   2. the audio file's stem ("clips/a.wav" -> "a"), when no two audio files of the manifest
//      that need a derived id share a stem;
//   3. otherwise the audio path relative to the manifest's folder, extension removed, '/' -> '-'
//      ("spk1/a.wav" -> "spk1-a"); when some audio lies outside that folder (an absolute path
//      elsewhere, "../x"), relative to the deepest folder that holds all of the audio instead.
// The rule is chosen once per manifest (all stems or all relative paths), so ids do not mix
// schemes. Every id must pass utt_id_problem(); a row whose id does not, or whose id equals
// another row's, is rejected (manifest.h says how collisions are reported).
#pragma once

#include <string>
#include <vector>

namespace ds2::pipeline {

// "" when `id` can name an utterance, else why not. An id is non-empty, valid UTF-8, and holds
// no whitespace (ASCII or Unicode spaces), no control character, no '(' or ')' (a sclite trn
// line is `words (id)`), and no '~' (reserved: augmented copies are "<id>~aug<k>", and eval
// skips ids holding "~aug").
std::string utt_id_problem(const std::string& id);

// `s` with control characters, backslashes and bytes that are not valid UTF-8 written as \xNN,
// so a message or rejects.tsv line quoting it stays one printable line.
std::string printable(const std::string& s);

struct DerivedIds {
  std::vector<std::string> ids;  // one per input path, same order
  std::string rule;              // for the log: "file stems" or "paths relative to DIR"
};

// Ids for audio files by rules 2 and 3 above. `paths`: the audio files as given (relative to
// the working directory or absolute); `manifest_dir`: the manifest's folder. Pure path
// arithmetic (no file system access besides the working directory). The same path given twice
// gets the same id; it does not make stems ambiguous.
DerivedIds derive_utt_ids(const std::vector<std::string>& paths, const std::string& manifest_dir);

}  // namespace ds2::pipeline
