// $BRIG_HOME/state/system/secrets/<cell>.json: the secrets warden injects
// for one cell (a spec's `secrets: [{name, env, hosts}]`). The cell's env
// holds only each secret's placeholder; warden swaps the placeholder for the
// value in requests to the secret's hosts. So this file holds real values:
// the directory is 0700 and the file 0400, both owned by warden's user
// (kWardenUid), and nothing but warden and root can read them. The engine
// writes it when a cell is made and removes it with the cell; warden reads
// it live (policy_store). This file owns the format, the placeholder's shape
// and the checks on a value.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

inline constexpr std::size_t kMaxSecretInjectionsBytes = 1u << 20;
inline constexpr uid_t kWardenUid = 65534;  // warden runs as nobody:nogroup
// Every placeholder starts with this, so warden finds one with one search.
inline constexpr std::string_view kPlaceholderPrefix = "brig-secret-";

struct InjectedSecret {
  std::string name;         // the secret's name in `brig secrets`
  std::string env;          // the cell's variable holding the placeholder
  std::string placeholder;  // kPlaceholderPrefix + name + "-" + 32 hex digits
  std::string value;        // the real value (check_secret_value holds)
  std::vector<std::string> hosts;  // policy-style host patterns ("api.x.com", "*.x.com")
  bool allow_plaintext = false;    // also over plain HTTP
};

// Pure. A fresh placeholder for `name` from 16 random bytes (hex).
std::string make_placeholder(std::string_view name, std::string_view random16);
// Pure. Why `value` (after one trailing newline is dropped) cannot be sent
// in an HTTP header, or nullopt: empty, or holding CR, LF, NUL or other
// control bytes.
std::optional<std::string> check_secret_value(std::string_view value);
// Pure. A stored secret's bytes as injected: one trailing "\n" or "\r\n"
// removed (what `echo KEY | brig secrets add` adds).
std::string injected_value(std::string_view stored);

// Pure. Errc::invalid naming `source` for anything but
// {"secrets": [{name, env, placeholder, value, hosts, allow_plaintext}]} with
// valid placeholders (unique, of the right shape) and values.
Result<std::vector<InjectedSecret>> parse_secret_injections(std::string_view text, const std::string& source);
std::string serialize_secret_injections(const std::vector<InjectedSecret>& secrets);

std::string secret_injections_dir(const Paths& paths);
std::string secret_injections_path(const Paths& paths, const std::string& cell);

// Writes the cell's file atomically: the directory made 0700 and the file
// 0400, owned by kWardenUid when running as root. An empty list removes it.
Status store_secret_injections(const Paths& paths, const std::string& cell, const std::vector<InjectedSecret>& secrets);
// Nothing to do when there is none.
Status remove_secret_injections(const Paths& paths, const std::string& cell);

}  // namespace brig::state
