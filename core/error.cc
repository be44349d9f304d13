// short_path() for DS2_THROW's "[file:line]" suffix: source paths relative to the source tree.
#include "core/error.h"

#include <cstring>

#include "ds2/paths.h"

namespace ds2::detail {

const char* short_path(const char* file) {
  static const size_t n = std::strlen(DS2_SOURCE_DIR);
  if (std::strncmp(file, DS2_SOURCE_DIR, n) == 0 && file[n] == '/') return file + n + 1;
  return file;
}

}  // namespace ds2::detail
