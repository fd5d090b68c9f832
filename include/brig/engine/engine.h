// The cell engine: brig's system (warden container, nftables, networks) and
// its cells, driven through proc::Runner. Every mutating operation is a chain
// of named steps; when one fails, the steps already applied are undone in
// reverse and the caller sees the original error.
#pragma once

#include <functional>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/host.h"
#include "brig/engine/podman.h"
#include "brig/proc/command.h"
#include "brig/spec/resolve.h"

namespace brig::engine {

// What the engine keeps about a cell: $BRIG_HOME/state/<cell>/cell-state.json.
struct CellRecord {
  std::string name, image, runtime, runsc_network;
  Subnet subnet;
  std::string workspace, workspace_mount;
  std::vector<std::string> secrets;
  std::string created;  // RFC 3339
  bool airgapped = false;
  nlohmann::json spec;  // the resolved spec
};

// One row of `brig cell list`.
struct CellStatus {
  CellRecord record;
  // running, exited, created, missing (state without a container), damaged
  // (cell-state.json cannot be read: only record.name is set, `reason` says why)
  std::string state;
  std::string reason;
  int exit_code = 0;
  std::string started_at;
};

struct RunOptions {
  bool detach = false;
  bool rm = false;
  bool keep_workspace = false;
};

// One doctor line.
struct Check {
  enum class Level { ok, warn, fail };
  Level level = Level::ok;
  std::string name, detail, fix;
};

struct PruneOptions {
  bool cells = false, logs = false, subnets = false, dry_run = false;
};

class Rollback;

// Time as the engine waits on it: the real clock by default; tests pass one
// that never sleeps.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
};
Clock& real_clock();

// The engine's seams in front of the host besides proc::Runner.
struct HostSeams {
  Clock* clock = nullptr;              // nullptr: real_clock()
  std::string proc_sys = "/proc/sys";  // the kernel's sysctls (IPv6 off on cell bridges)
};

class Engine {
 public:
  Engine(proc::Runner& runner, Paths paths, HostSeams seams = {})
      : runner_(runner),
        paths_(std::move(paths)),
        clock_(seams.clock ? *seams.clock : real_clock()),
        proc_sys_(std::move(seams.proc_sys)) {}

  // --- system ---
  // Layout, default policy, host probe -> config.json. The CA is made by the
  // caller (warden owns it).
  Result<HostConfig> init(bool accept_weaker_network);
  // Warden image (if missing or stale), external network, warden container,
  // /healthz, nftables. Idempotent. `brig_binary` goes into the image;
  // `warden_files` (what warden.yaml references, e.g. upstream_ca) are mounted
  // read-only at the same paths.
  Status up(const std::string& brig_binary, const std::vector<std::string>& warden_files = {});
  // Every cell stopped (as `cell stop`), warden removed, nft tables removed.
  Status down();
  std::vector<Check> doctor(bool quick);
  // Invariant violations on the live system; empty when none.
  Result<std::vector<std::string>> verify();
  // What was (or with dry_run would be) removed, one line each.
  Result<std::vector<std::string>> prune(const PruneOptions& opts);

  // --- cells ---
  // validate -> plan -> apply (with rollback) -> start. Returns the cell's
  // exit code when attached, 0 when detached.
  Result<int> run(const spec::Resolved& resolved, const RunOptions& opts);
  // Running cells (every cell with `all`); damaged records are always listed.
  Result<std::vector<CellStatus>> list(bool all);
  // The running cells that mount secret `name`. Fails closed: an error when
  // the cells cannot be listed or a record is damaged (its secrets are unknown).
  Result<std::vector<std::string>> secret_users(const std::string& name);
  Result<CellStatus> status(const std::string& cell);
  Result<nlohmann::json> inspect(const std::string& cell);
  Status stop(const std::string& cell, int timeout_seconds = 10);
  Status kill(const std::string& cell, const std::string& signal);
  // Network (recreated if gone), warden attached, IPv6 off on the bridge,
  // /run/brig refreshed (cell.json, CA bundle), then a detached start.
  Status start(const std::string& cell);
  // Container, network, subnet, policy and state go; with keep_workspace the
  // default workspace moves to $BRIG_HOME/workspaces/<cell> (returned). A
  // damaged record is removed by name (its default workspace is assumed).
  Result<std::string> remove(const std::string& cell, bool keep_workspace);
  Result<int> wait(const std::string& cell);
  // `podman <verb> ... brig-<cell> ...` on the terminal: logs, exec, cp, top, stats.
  Result<int> attach_podman(const std::vector<std::string>& args);
  // Runs `c` on brig's own stdin/stdout/stderr and returns its exit code.
  Result<int> on_terminal(proc::Command c);
  Result<std::string> logs(const std::string& cell, int tail);
  // The cell's record (state/<cell>/cell-state.json), resolved spec included;
  // reads a file only, runs nothing.
  Result<CellRecord> load_record(const std::string& cell);
  // Host-side checks for a spec: valid, secrets present, runsc usable, warden up.
  std::vector<Check> preflight(const spec::Resolved& resolved);

  // Appends a lifecycle event to logs/events.jsonl.
  void event(const std::string& kind, const std::string& cell, const nlohmann::json& extra = {});

  const Paths& paths() const { return paths_; }

 private:
  Result<proc::Output> podman(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120));
  Status ensure_warden_image(const std::string& brig_binary, std::string& image);
  Status wait_healthy(std::chrono::milliseconds timeout);
  Status write_runtime_file();
  // Switches IPv6 off on the bridge of `network` (the nft tables filter IPv4
  // only): a security control, so any doubt is an error.
  Status ensure_bridge_ipv6_off(const std::string& network);
  Status connect_warden(const CellRecord& rec);
  Status teardown_network(const std::string& cell);
  Result<int> start_cell(const CellRecord& rec, const RunOptions& opts);
  // brig run's two independent halves: the network (create, warden, IPv6 off;
  // `created` once there is something to undo) and the files (policy,
  // /run/brig, workspace, record; undos go to `rb`; returns the seccomp path).
  Status make_network(const CellRecord& rec, std::atomic<bool>& created);
  Result<std::string> stage_files(const spec::Resolved& resolved, const CellRecord& rec, bool trust_ca, Rollback& rb);

  proc::Runner& runner_;
  Paths paths_;
  Clock& clock_;
  std::string proc_sys_;
};

// A cell name as `brig run` would pick one when none is given: "cell-<6 hex>".
std::string generate_cell_name();

// The JSON form of a record (cell-state.json) and back.
nlohmann::json to_json(const CellRecord& r);
Result<CellRecord> record_from_json(const nlohmann::json& j);

}  // namespace brig::engine
