// brig on this host: init, up (warden image + container, nftables), down,
// doctor, verify, prune.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/cells.h"
#include "brig/engine/context.h"
#include "brig/engine/host.h"
#include "brig/engine/pools.h"

namespace brig::engine {

struct PruneOptions {
  bool cells = false, logs = false, subnets = false, dry_run = false;
};

// What prune removed (or with dry_run would remove), one line each, and the
// stopped cells it left alone because their workspace holds files (the
// `brig cell rm` rule, decide_workspace_removal): each with why and the fix.
struct PruneReport {
  struct Kept {
    std::string cell, reason, fix;
  };
  std::vector<std::string> removed;
  std::vector<Kept> kept;
};

// Where the host relay finds host services (System::up): the user's machine,
// this host's loopback, or the Mac's as seen from brig's VM.
inline constexpr const char* kHostLoopback = "127.0.0.1";
inline constexpr const char* kHostFromMacVm = "host.lima.internal";

class System {
 public:
  System(EngineContext& ctx, Cells& cells, Pools& pools) : ctx_(ctx), cells_(cells), pools_(pools) {}

  // Layout, default policy, host probe -> config.json. The CA is made by the
  // caller (warden owns it).
  Result<HostConfig> init(bool accept_weaker_network);
  // The host relay, warden image (if missing or stale), external network,
  // warden container, /healthz, nftables. Idempotent. `brig_binary` goes
  // into the image and runs the relay; `warden_files` (what warden.yaml
  // references, e.g. upstream_ca) are mounted read-only at the same paths;
  // `host_address` is where the relay finds host services (the user's
  // machine: this host's loopback, or the Mac's from its VM).
  Status up(const std::string& brig_binary, const std::vector<std::string>& warden_files = {},
            const std::string& host_address = kHostLoopback);
  // Every cell stopped (as `cell stop`), warden removed, the host relay
  // stopped, nft tables removed.
  // Returns the cells it stopped.
  Result<std::vector<std::string>> down();
  std::vector<Check> doctor(bool quick);
  // Invariant violations on the live system; empty when none.
  Result<std::vector<std::string>> verify();
  Result<PruneReport> prune(const PruneOptions& opts);

 private:
  Status ensure_warden_image(const std::string& brig_binary, std::string& image);
  // Polls warden's /healthz on the context's clock until `timeout`.
  Status wait_healthy(std::chrono::milliseconds timeout);
  Status write_runtime_file();
  // The running warden's pid (host namespace), or 0 when it is not running.
  long warden_pid();
  // What differs from brig's nftables rules: the host's tables, and the
  // table inside warden's network namespace while warden runs.
  Result<std::vector<std::string>> nft_problems();
  // The ingress settings checked, and the user's certificate and key (if
  // any) copied to run/warden-ingress for warden's uid; their SHA-256 (hex,
  // "" without a certificate), so a renewed file restarts warden.
  Result<std::string> stage_ingress_tls(const HostConfig& cfg);

  EngineContext& ctx_;
  Cells& cells_;
  Pools& pools_;
};

}  // namespace brig::engine
