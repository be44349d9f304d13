// AugmentSummary (summary.h): counts and means over the shards' /augment JSON records (clean,
// augmented, noise file or babble, mean speed/tempo/pitch, requested vs measured SNR).
#include "augment/summary.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ds2::augment {

void AugmentSummary::add(const std::vector<std::string>& augment_json) {
  for (const auto& s : augment_json) {
    if (s == "{}") {
      ++clean_;
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      DS2_THROW(FormatError, "/augment: not JSON: '{}' ({})", s, e.what());
    }
    ++augmented_;
    speed_ += j.value("speed", 1.0);
    tempo_ += j.value("tempo", 1.0);
    pitch_ += j.value("pitch_cents", 0.0);
    if (j.value("clipped", false)) ++clipped_;
    const auto& n = j["noise"];
    if (n.is_object()) {
      (n.value("kind", "") == "file" ? noise_file_ : babble_)++;
      if (n.value("added", false) && n.contains("snr_db_measured")) {
        double req = n.value("snr_db", 0.0), got = n["snr_db_measured"].get<double>();
        snr_ += req;
        ++snr_n_;
        snr_err_max_ = std::max(snr_err_max_, std::fabs(got - req));
      }
    }
  }
}

std::string AugmentSummary::json() const {
  nlohmann::ordered_json j;
  double n = augmented_ > 0 ? static_cast<double>(augmented_) : 1.0;
  j["clean"] = clean_;
  j["augmented"] = augmented_;
  j["noise_file"] = noise_file_;
  j["babble"] = babble_;
  j["clipped"] = clipped_;
  j["speed_mean"] = speed_ / n;
  j["tempo_mean"] = tempo_ / n;
  j["pitch_cents_mean"] = pitch_ / n;
  j["snr_db_mean"] = snr_n_ > 0 ? snr_ / static_cast<double>(snr_n_) : 0.0;
  j["snr_error_db_max"] = snr_err_max_;
  return j.dump();
}

}  // namespace ds2::augment
