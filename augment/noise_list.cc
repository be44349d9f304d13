// read_noise_list() (noise_list.h): one noise file per line (first tab-separated field),
// relative to the list's folder; blank lines and '#' comments skipped; an empty list is an error.
#include "augment/noise_list.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace ds2::augment {

std::vector<std::string> read_noise_list(const std::string& manifest) {
  std::ifstream in(manifest);
  DS2_REQUIRE(in, IoError, "{}: cannot open noise manifest", manifest);
  const std::filesystem::path dir = std::filesystem::path(manifest).parent_path();
  std::vector<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string path = line.substr(0, line.find('\t'));
    if (path.find_first_not_of(" ") == std::string::npos || path[0] == '#') continue;
    std::filesystem::path p(path);
    paths.push_back(p.is_absolute() ? p.string() : (dir / p).lexically_normal().string());
  }
  DS2_REQUIRE(!in.bad(), IoError, "{}: read error", manifest);
  DS2_REQUIRE(!paths.empty(), FormatError, "{}: lists no noise files", manifest);
  return paths;
}

}  // namespace ds2::augment
