// The decoders' entry point to a word LM file: an ARPA text file (ArpaLm) or a compiled
// "ds2-lm" file (CompiledLm, memory-mapped), told apart by the compiled form's magic bytes.
#pragma once

#include <memory>
#include <string>

#include "decode/arpa_lm.h"

namespace ds2::decode {

// Loads `path` for the decoder; when `lexicon` names a file (not "" or "lm", see
// BeamOptions::lexicon) its words become the LM's lexicon (set_lexicon). Errors as
// ArpaLm::load and CompiledLm's constructor.
std::unique_ptr<LanguageModel> load_decoder_lm(const std::string& path, const std::string& lexicon);

// "compiled ds2-lm" or "ARPA", for logs.
const char* lm_kind(const LanguageModel& lm);

}  // namespace ds2::decode
