// The cells: run (validate -> plan -> apply with rollback -> start) and the
// verbs on a cell that exists.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/context.h"
#include "brig/engine/host.h"
#include "brig/engine/plan.h"
#include "brig/engine/record.h"
#include "brig/spec/resolve.h"

namespace brig::engine {

// One row of `brig cell list`.
struct CellStatus {
  CellRecord record;
  // running, exited, created, missing (state without a container), damaged
  // (cell-state.json cannot be read: only record.name is set, `reason` says why)
  std::string state;
  std::string reason;
  // Once it has run: brig's exit code (124 after its timeout; see
  // classify_exit) and why, where known ("timeout", "oom").
  int exit_code = 0;
  std::string exit_reason;
  std::string started_at;
};

// One row of `brig cell stats`: podman's figures, as podman prints them.
struct CellUsage {
  std::string cell, cpu_percent, memory_usage, memory_percent, net_io, block_io, pids;
};

// "runsc/host", "runsc/sandbox", or "<runtime> (WEAKER)".
std::string network_mode(const CellRecord& r);
// One cell as `brig cell list --format json` and the API print it: name,
// state, image, runtime, network_mode, address, created, exit_code (null
// until it has one), exit_reason; a damaged record: name, state, reason.
nlohmann::json cell_status_json(const CellStatus& c);

struct RunOptions {
  bool detach = false;
  bool rm = false;
  bool keep_workspace = false;
  // With detach and rm: the brig binary that reaps the cell once it exits
  // (`brig cell rm --wait`), started detached so it outlives this process.
  std::string reaper_binary = {};
  Stdio stdio = {};  // -i / -t; attached runs forward stdin when interactive
  bool quiet = false;  // -q: no notes (warnings still print)
  std::string pool = {};  // a warm pool's member (pools.h): detached, idle until claimed
  bool idle = false;      // runs brig's idle init, not its command (pools: a cold claim that waits)
};

// `brig cell rm --wait` for a detached --rm cell: removes it once it exits.
std::vector<std::string> reaper_args(const std::string& brig, const std::string& cell, bool keep_workspace);

class Rollback;

class Cells {
 public:
  explicit Cells(EngineContext& ctx) : ctx_(ctx) {}

  // validate -> plan -> apply (with rollback) -> start. Returns the cell's
  // exit code when attached, 0 when detached.
  Result<int> run(const spec::Resolved& resolved, const RunOptions& opts);
  // Host-side checks for a spec, the same ones `run` refuses on: valid,
  // host config and runtime, secrets present, image present, warden up, name free.
  std::vector<Check> preflight(const spec::Resolved& resolved);

  // Running cells (every cell with `all`); damaged records are always listed.
  Result<std::vector<CellStatus>> list(bool all);
  // The running cells that mount or inject secret `name`. Fails closed: an error when
  // the cells cannot be listed or a record is damaged (its secrets are unknown);
  // its fix forces `brig secrets VERB` ("rm", "add").
  Result<std::vector<std::string>> secret_users(const std::string& name, const std::string& verb = "rm");
  Result<CellStatus> status(const std::string& cell);
  Result<nlohmann::json> inspect(const std::string& cell);
  Status stop(const std::string& cell, int timeout_seconds = 10);
  Status kill(const std::string& cell, const std::string& signal);
  // Its host sockets checked again on the real files (refused, before any
  // change, when one is no longer the socket it was created with), then
  // network (recreated if gone), warden attached, IPv6 off on the bridge,
  // /run/brig refreshed (cell.json, CA bundle), warden's file of injected
  // secrets rewritten with their current values, then a detached start.
  // false (nothing done) when the cell is already running.
  Result<bool> start(const std::string& cell);
  // Container, network, subnet, policy, injected secrets and state go; with keep_workspace the
  // default workspace moves to $BRIG_HOME/workspaces/<cell> (returned). A
  // damaged record is removed by name (its default workspace is assumed).
  Result<std::string> remove(const std::string& cell, bool keep_workspace);
  // `brig policy set --host-service|--remove-host-service`, live: the
  // removals (each must be declared), then the additions (a name declared
  // already gets the new port and protocol), checked by the spec's rules for
  // the cell's profile (spec::host_service_problem); then its record,
  // warden's table and grants, /run/brig/cell.json and, while it runs, its
  // /etc/hosts. Nothing changes when a check fails. The services after it.
  Result<std::vector<spec::HostService>> set_host_services(const std::string& cell,
                                                          const std::vector<spec::HostService>& add,
                                                          const std::vector<std::string>& remove);
  // Waits for the cell to exit; how it ended (exit code 124 after its timeout).
  Result<CellExit> wait(const std::string& cell);
  // CPU, memory, I/O and pids of a running cell (`podman stats --no-stream`).
  Result<CellUsage> usage(const std::string& cell);
  // `podman <verb> ... brig-<cell> ...` on the terminal: logs, exec, cp, top, stats.
  Result<int> attach_podman(const std::vector<std::string>& args);
  // Runs `c` on brig's own stdin/stdout/stderr and returns its exit code.
  Result<int> on_terminal(proc::Command c);
  Result<std::string> logs(const std::string& cell, int tail);
  // The cell's record (state/<cell>/cell-state.json), resolved spec included;
  // reads a file only, runs nothing.
  Result<CellRecord> load_record(const std::string& cell);

  // Spare networks (subnets.h): `system up` attaches warden again to those
  // kept and makes more up to the spare_networks setting (removing any over
  // it); `system down` and prune remove them. What could not be done is
  // returned, nothing undone.
  Status fill_spares();
  Status remove_spares();

 private:
  // Starts the cell with `start` (plan_cell's podman run, or cell start's
  // podman start): attached, the cell's exit code; detached, watched ~1.5 s
  // for an early exit. `creates`: `start` makes the container too, so it can
  // fail with none made (an error, for the caller to undo the run).
  Result<int> start_cell(const CellRecord& rec, const Argv& start, bool detach, bool creates);
  // The container exists but never ran (podman state created/initialized).
  bool never_started(const std::string& cell) const;
  // How a run that podman says ended with `podman_exit_code` ended, from the
  // record's timeout and podman's OOM flag and times (one `podman container
  // inspect`; `measured_s`: how long brig saw it run, negative when unknown).
  CellExit exit_of(const CellRecord& rec, int podman_exit_code, double measured_s = -1);
  // brig run's two independent halves: the network (create, warden, IPv6 off;
  // `created` once there is something to undo) and the files (policy,
  // /run/brig, workspace, record, seccomp; undos go to `rb`).
  Status make_network(const RunPlan& plan, std::atomic<bool>& created);
  // A removed cell's network: kept as a spare (subnets.h) when it may be and
  // can be, else removed; never one whose subnet is no longer the cell's.
  // Then its subnet is freed.
  Status release_network(const std::string& cell, const std::string& network, bool may_keep);
  Status stage_files(const RunPlan& plan, Rollback& rb);

  EngineContext& ctx_;
  // The exit an attached start just saw: `brig run --rm` removes the cell
  // without asking podman about it twice more.
  std::optional<std::pair<std::string, CellExit>> seen_exit_;
  // podman run's 125 with no container made: what the run's checks left to
  // it (a name in use, an image not in local storage) as those checks say
  // it, else create_failure.
  Error refused_create(const CellRecord& rec, const std::string& podman_err) const;
  // This run's podman run made the cell's container (its ID file exists).
  bool made_container(const std::string& cell) const;
};

// A cell name as `brig run` would pick one when none is given: "cell-<6 hex>".
std::string generate_cell_name();

}  // namespace brig::engine
