// load_decoder_lm: ARPA or compiled LM by the file's magic (see decode/load_lm.h).
#include "decode/load_lm.h"

#include "decode/compiled_lm.h"

namespace ds2::decode {

std::unique_ptr<LanguageModel> load_decoder_lm(const std::string& path,
                                               const std::string& lexicon) {
  const bool with_lexicon = !lexicon.empty() && lexicon != "lm";
  if (is_compiled_lm(path)) {
    auto lm = std::make_unique<CompiledLm>(path);
    if (with_lexicon) lm->set_lexicon(ArpaLm::read_lexicon(lexicon), lexicon);
    return lm;
  }
  auto lm = std::make_unique<ArpaLm>(ArpaLm::load(path));
  if (with_lexicon) lm->set_lexicon(ArpaLm::read_lexicon(lexicon), lexicon);
  return lm;
}

const char* lm_kind(const LanguageModel& lm) {
  return dynamic_cast<const CompiledLm*>(&lm) ? "compiled ds2-lm" : "ARPA";
}

}  // namespace ds2::decode
