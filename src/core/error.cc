#include "brig/core/error.h"

#include <cerrno>
#include <cstring>

namespace brig {

Error errno_error(const std::string& what, int err) {
  Errc code = Errc::io;
  if (err == ENOENT) code = Errc::not_found;
  if (err == EEXIST) code = Errc::exists;
  if (err == ETIMEDOUT) code = Errc::timeout;
  return Error(code, what + ": " + std::strerror(err));
}

}  // namespace brig
