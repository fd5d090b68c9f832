// The macOS thin client: which commands stay on the Mac and which go to the
// Linux brig inside the VM (SPEC §1, "macOS design: thin client").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"

namespace brig::vm {

enum class Platform { linux_native, darwin };

// BRIG_PLATFORM=darwin|linux if set (tests run the Mac path on Linux), else
// darwin on macOS and in the client-only build, linux elsewhere.
// `env_value` is BRIG_PLATFORM's value (nullptr when unset).
Platform detect_platform(const char* env_value);
Platform current_platform();  // detect_platform(getenv("BRIG_PLATFORM"))
// Errc::usage if BRIG_PLATFORM is set to anything but darwin or linux.
Status check_platform_env(const char* env_value);

// Index of the first argument that is not a global flag (--quiet, -q,
// --verbose, -v, --no-color, --format X, --format=X): the noun. nullopt if
// there is none.
std::optional<size_t> noun_index(const std::vector<std::string>& args);

// True when `args` (argv without argv[0]) must run inside the VM: every
// command except `vm ...`, `config ...`, `--version`, help and bare `brig`.
bool must_forward(const std::vector<std::string>& args);

// The variable the thin client sets on every command it forwards
// (limactl_forward_args): the brig in the VM then knows the user is on the
// Mac, so a host path names a file in the VM, not the Mac's, and refuses what
// would mean the Mac's (host sockets: spec::ValidateOptions::from_mac).
inline constexpr const char* kForwardedEnv = "BRIG_FORWARDED_FROM";
inline constexpr const char* kForwardedFromMac = "darwin";
// `env_value` (kForwardedEnv's value, nullptr when unset) says the command
// came from the macOS thin client.
bool forwarded_from_mac(const char* env_value);

// $BRIG_HOME as the VM must see it: absolute (made so against `cwd`), no
// trailing slash. `home` comes from Paths::from_env().
std::string vm_brig_home(const std::string& home, const std::string& cwd);

}  // namespace brig::vm
