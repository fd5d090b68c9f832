#include "brig/core/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace brig {

Paths Paths::from_env() {
  if (const char* h = std::getenv("BRIG_HOME"); h && *h) {
    std::string home(h);
    while (home.size() > 1 && home.back() == '/') home.pop_back();
    return Paths(home);
  }
  if (const char* h = std::getenv("HOME"); h && *h) return Paths(std::string(h) + "/.brig");
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return Paths(std::string(pw->pw_dir) + "/.brig");
  return Paths("/root/.brig");
}

}  // namespace brig
