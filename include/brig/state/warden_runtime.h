// $BRIG_HOME/run/warden.json: where the running warden listens, present only
// while it runs. Two writers, one schema: `brig system up` (warden in its
// container: the container's host pid and name) and `brig warden serve` run
// directly on the host (its own pid, no container); the CLI reads it to reach
// warden's ops endpoint. One line: {"container":..., "ops":..., "pid":..., "proxy":...}.
#pragma once

#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

struct WardenRuntime {
  std::string proxy;      // "ADDR:PORT" cells' forward proxy
  std::string ops;        // "ADDR:PORT" /healthz and /metrics
  long pid = 0;           // 0: unknown
  std::string container;  // "" when warden is not in a container (omitted from the file)
};

std::string warden_runtime_path(const Paths& paths);  // run/warden.json

// Pure. Errc::invalid "<source> is unreadable: ..." when the text is not a JSON
// object, "proxy" or "ops" is not a non-empty string, "pid" not an integer
// >= 0, or "container" (optional) not a string. Unknown keys are ignored.
Result<WardenRuntime> parse_warden_runtime(std::string_view text, const std::string& source);
// Pure. One JSON line with a final newline.
std::string serialize_warden_runtime(const WardenRuntime& info);

// Errc::not_found "warden is not running (no <path>)" when the file is absent;
// the errors of parse_warden_runtime with the fix "restart warden".
Result<WardenRuntime> load_warden_runtime(const Paths& paths);
Status store_warden_runtime(const Paths& paths, const WardenRuntime& info);  // atomic
void remove_warden_runtime(const Paths& paths);  // absent is fine

}  // namespace brig::state
