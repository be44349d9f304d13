// A summary of what augmentation did over a dataset, from the per-utterance JSON stored in each
// shard's /augment (see to_json in draw.h). Written to index.h5 as the augment_summary attribute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds2::augment {

class AugmentSummary {
 public:
  // Adds the /augment strings of one shard ("{}" marks a clean copy). Throws FormatError on a
  // string that is not JSON.
  void add(const std::vector<std::string>& augment_json);
  // {"clean":N,"augmented":N,"noise_file":N,"babble":N,"clipped":N,"speed_mean":..,
  //  "tempo_mean":..,"pitch_cents_mean":..,"snr_db_mean":..,"snr_error_db_max":..}
  std::string json() const;

  int64_t clean() const { return clean_; }
  int64_t augmented() const { return augmented_; }

 private:
  int64_t clean_ = 0, augmented_ = 0, noise_file_ = 0, babble_ = 0, clipped_ = 0, snr_n_ = 0;
  double speed_ = 0, tempo_ = 0, pitch_ = 0, snr_ = 0, snr_err_max_ = 0;
};

}  // namespace ds2::augment
