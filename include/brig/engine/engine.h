// The cell engine in named parts: System (warden container, nftables,
// networks) and Cells (run and the verbs on a cell), sharing one podman
// client, brig's paths and the clock (EngineContext). Every mutating operation
// is a chain of named steps; when one fails, the steps already applied are
// undone in reverse and the caller sees the original error.
//
// Engine is a thin facade over both, so callers need one object.
#pragma once

#include <string>
#include <vector>

#include "brig/engine/cells.h"
#include "brig/engine/context.h"
#include "brig/engine/pools.h"
#include "brig/engine/system.h"

namespace brig::engine {

class Engine {
 public:
  Engine(proc::Runner& runner, Paths paths, HostSeams seams = {})
      : ctx_(runner, std::move(paths), std::move(seams)), cells_(ctx_), pools_(ctx_, cells_), system_(ctx_, cells_, pools_) {}
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Cells& cells() { return cells_; }
  Pools& pools() { return pools_; }
  System& system() { return system_; }
  const Paths& paths() const { return ctx_.paths; }
  EngineContext& context() { return ctx_; }

  // --- system (see System) ---
  Result<HostConfig> init(bool accept_weaker_network) { return system_.init(accept_weaker_network); }
  Status up(const std::string& brig_binary, const std::vector<std::string>& warden_files = {},
            const std::string& host_address = kHostLoopback) {
    return system_.up(brig_binary, warden_files, host_address);
  }
  Result<std::vector<std::string>> down() { return system_.down(); }
  std::vector<Check> doctor(bool quick) { return system_.doctor(quick); }
  Result<std::vector<std::string>> verify() { return system_.verify(); }
  Result<PruneReport> prune(const PruneOptions& opts) { return system_.prune(opts); }

  // --- cells (see Cells) ---
  Result<int> run(const spec::Resolved& resolved, const RunOptions& opts) { return cells_.run(resolved, opts); }
  std::vector<Check> preflight(const spec::Resolved& resolved) { return cells_.preflight(resolved); }
  Result<std::vector<CellStatus>> list(bool all) { return cells_.list(all); }
  Result<std::vector<std::string>> secret_users(const std::string& name, const std::string& verb = "rm") {
    return cells_.secret_users(name, verb);
  }
  Result<CellStatus> status(const std::string& cell) { return cells_.status(cell); }
  Result<nlohmann::json> inspect(const std::string& cell) { return cells_.inspect(cell); }
  Status stop(const std::string& cell, int timeout_seconds = 10) { return cells_.stop(cell, timeout_seconds); }
  Status kill(const std::string& cell, const std::string& signal) { return cells_.kill(cell, signal); }
  Result<bool> start(const std::string& cell) { return cells_.start(cell); }
  Result<std::string> remove(const std::string& cell, bool keep_workspace) { return cells_.remove(cell, keep_workspace); }
  Result<CellExit> wait(const std::string& cell) { return cells_.wait(cell); }
  Result<int> attach_podman(const std::vector<std::string>& args) { return cells_.attach_podman(args); }
  Result<int> on_terminal(proc::Command c) { return cells_.on_terminal(std::move(c)); }
  Result<std::string> logs(const std::string& cell, int tail) { return cells_.logs(cell, tail); }
  Result<CellRecord> load_record(const std::string& cell) { return cells_.load_record(cell); }

  // Appends a lifecycle event to logs/events.jsonl.
  void event(const std::string& kind, const std::string& cell, const nlohmann::json& extra = {}) {
    ctx_.event(kind, cell, extra);
  }

 private:
  EngineContext ctx_;
  Cells cells_;
  Pools pools_;
  System system_;
};

}  // namespace brig::engine
