// Content digests of checkpoints and LMs (see digest.h).
#include "eval/digest.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/rng.h"

namespace ds2::eval {

std::string file_digest(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  DS2_REQUIRE(f, IoError, "{}: cannot open for its digest: {}", path, std::strerror(errno));
  std::vector<unsigned char> buf(1 << 20);
  uint64_t h = mix64(0x64733266696c6531ULL), size = 0;  // "ds2file1"
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0) {
      h = mix64(h ^ bytes_digest(buf.data(), n));
      size += n;
    }
    if (n < buf.size()) {
      DS2_REQUIRE(!std::ferror(f.get()), IoError, "{}: read error computing its digest", path);
      break;
    }
  }
  return fmt::format("{:016x}", mix64(h ^ size));
}

std::string lm_digest(const std::string& lm_path, const std::string& lexicon) {
  if (lm_path.empty()) return "";
  uint64_t h = fnv1a64("ds2-lm-digest-1\n" + file_digest(lm_path) + "\n");
  if (lexicon.empty() || lexicon == "lm")
    h = fnv1a64("lexicon=" + lexicon + "\n", h);
  else
    h = fnv1a64("lexicon-file=" + file_digest(lexicon) + "\n", h);
  return fmt::format("{:016x}", h);
}

}  // namespace ds2::eval
