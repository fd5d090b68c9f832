// Which commands the Mac's brig keeps, and which run inside the VM.
#include "brig/vm/thin_client.h"

#include <cstdlib>
#include <cstring>

namespace brig::vm {

Platform detect_platform(const char* env_value) {
  if (env_value != nullptr && std::strcmp(env_value, "darwin") == 0) return Platform::darwin;
  if (env_value != nullptr && std::strcmp(env_value, "linux") == 0) return Platform::linux_native;
#if defined(__APPLE__) || defined(BRIG_CLIENT_ONLY)
  return Platform::darwin;
#else
  return Platform::linux_native;
#endif
}

Status check_platform_env(const char* env_value) {
  if (env_value == nullptr || *env_value == '\0' || std::strcmp(env_value, "darwin") == 0 ||
      std::strcmp(env_value, "linux") == 0) {
    return {};
  }
  return Error(Errc::usage, std::string("BRIG_PLATFORM must be darwin or linux, got \"") + env_value + "\"",
               "unset BRIG_PLATFORM, or set it to darwin (thin client) or linux (native)");
}

Platform current_platform() { return detect_platform(std::getenv("BRIG_PLATFORM")); }

std::optional<size_t> noun_index(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-q" || a == "--quiet" || a == "-v" || a == "--verbose" || a == "--no-color" ||
        a.rfind("--format=", 0) == 0) {
      continue;
    }
    if (a == "--format") {
      ++i;  // its value
      continue;
    }
    return i;
  }
  return std::nullopt;
}

bool must_forward(const std::vector<std::string>& args) {
  auto i = noun_index(args);
  if (!i) return false;  // bare `brig`: the cheat-sheet
  const std::string& noun = args[*i];
  // Flags (--version, --help, a typo) are answered here, like bare `brig`.
  if (noun.empty() || noun[0] == '-') return false;
  return noun != "vm" && noun != "config";
}

bool forwarded_from_mac(const char* env_value) {
  return env_value != nullptr && std::strcmp(env_value, kForwardedFromMac) == 0;
}

std::string vm_brig_home(const std::string& home, const std::string& cwd) {
  std::string abs = !home.empty() && home[0] == '/' ? home : cwd + "/" + home;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

}  // namespace brig::vm
