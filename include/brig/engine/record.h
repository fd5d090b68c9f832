// What the engine keeps about a cell: $BRIG_HOME/state/<cell>/cell-state.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/podman.h"

namespace brig::engine {

// A secret warden injects for the cell (a spec's `secrets: [{name, env,
// hosts}]`), as the record keeps it: never the value. The placeholder is the
// cell's for its life (podman fixes a container's env at create); every
// `cell start` rewrites warden's file (state/secret_injections.h) with the
// secret's current value.
struct InjectedSecretRef {
  std::string name, env, placeholder;
  std::vector<std::string> hosts;
  bool allow_plaintext = false;
};

// A host socket the cell mounts (a spec's host_sockets entry) as `brig run`
// checked it: `source` is host_path's real path, what podman bind-mounts at
// `mount_point`. Every start checks host_path again and refuses when it no
// longer resolves to `source` (host_sockets.h). From the Mac, host_path is
// the Mac's and `bridge` the VM path the thin client bridges it to: the path
// checked in its place.
struct HostSocketRef {
  std::string name, host_path, source, mount_point;
  bool read_only = true;
  std::string bridge = {};

  // The file this host checks and mounts: the bridge's when there is one.
  const std::string& checked_path() const { return bridge.empty() ? host_path : bridge; }
};

struct CellRecord {
  std::string name, image, runtime, runsc_network;
  // The runsc flag its host sockets need (HostConfig::runsc_host_uds), "" for none.
  std::string runsc_host_uds;
  Subnet subnet;
  std::string workspace, workspace_mount;
  std::vector<std::string> secrets;         // mounted at /run/secrets/<name>
  std::vector<InjectedSecretRef> injected;  // "injected_secrets"
  std::vector<HostSocketRef> host_sockets;
  std::string created;  // RFC 3339
  bool airgapped = false;
  nlohmann::json spec;  // the resolved spec
  // A cell claimed from a warm pool (pools.h) keeps the network it was made
  // with (podman cannot rename one): "" is brig-<name>, every other cell's.
  std::string network = {};
  std::string pool = {};  // the warm pool that made it ("" for none)
  bool claimed = false;   // with `pool`: claimed (a cell of its own now), else a pool member
};

// The podman network the cell is on (network_of, not cell_network(name)).
std::string network_of(const CellRecord& r);

// The profile that made it is untrusted: its resolved spec carries the label
// brig.profile=untrusted, which spec::resolve sets from the profile's content.
bool is_untrusted(const CellRecord& r);

// How podman's runtime runs the cell: what every start passes again.
CellRuntime cell_runtime(const CellRecord& r);

// The spec's timeout in seconds (0: none) and as the user wrote it ("3s").
long record_timeout_seconds(const CellRecord& r);
std::string record_timeout_text(const CellRecord& r);

// How a cell's run ended, as brig reports it.
struct CellExit {
  int exit_code = 0;   // 124 after the spec's timeout (as timeout(1)); podman's otherwise
  std::string reason;  // "timeout", "oom" or ""
  int podman_exit_code = 0;
  double duration_s = -1;  // how long it ran; negative when unknown
};
inline constexpr int kTimeoutExitCode = 124;

// Pure. podman reports a cell its timeout killed with exit 255 (or -1, or
// 137), so the timeout is told from how long it ran: a non-zero exit after
// at least the timeout (less 1 s for podman's whole-second times) is the
// timeout. OOM wins over the timeout (the kernel killed it first).
CellExit classify_exit(int podman_exit_code, long timeout_seconds, double duration_s, bool oom_killed);

// "stopped after the 3s timeout", "killed: out of memory", or "" for a plain exit.
std::string describe_exit(const CellExit& e, const CellRecord& r);

// An exit's keys in an event (state/events.h): exit_code, and reason,
// podman_exit_code and duration_s (0.1 s) where they say something.
nlohmann::json exit_json(const CellExit& e);

// The JSON form of a record (cell-state.json) and back.
nlohmann::json to_json(const CellRecord& r);
Result<CellRecord> record_from_json(const nlohmann::json& j);

}  // namespace brig::engine
