// The thin client's supervisor of host-socket bridges (host_socket_bridge.h):
// starts a cell's bridge before forwarding the command that starts the cell,
// rolls it back when the cell was not made, ends it on stop, rm and
// `system down`. Runs limactl and ssh through a proc::Runner (FakeRunner in
// tests/unit/vm).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"
#include "brig/vm/host_socket_bridge.h"

namespace brig::vm {

// What a forwarded command (argv without argv[0]) means for the bridges.
struct BridgeStep {
  enum class Kind {
    none,
    run,     // brig run: the caller reads the spec (RunBridge)
    start,   // cell start|restart CELL: the bridge up first
    stop,    // cell stop CELL: the bridge ended after
    remove,  // cell rm CELL: the bridge ended and forgotten after
    down,    // system down|restart: every bridge ended after
  };
  Kind kind = Kind::none;
  std::string cell;  // start, stop, remove
};
BridgeStep bridge_step(const std::vector<std::string>& args);

// A `brig run` whose --file declares host sockets, as the Mac read it.
struct RunBridge {
  std::string cell;  // the run's name (--name, else the file's name:); empty if none
  std::vector<BridgedSocket> sockets;  // name and host_path
  bool detach = false, rm = false, dry_run = false;
};

struct BridgeTools {
  std::string limactl;
  std::string ssh;         // empty: not found (an error once a bridge is needed)
  std::string ssh_config;  // lima_ssh_config()
  std::string brig_home;   // the Mac's, where the state lives
  std::string vm_brig_home;  // vm_brig_home(): the forwarded BRIG_HOME
};

// The Mac-side check of a host socket before it is bridged (the spec's rule,
// spec::host_socket_path_problem, on the Mac's file): its real path, or why not.
using MacSocketCheck = std::function<Result<std::string>(const std::string& name, const std::string& host_path)>;

class Bridges {
 public:
  Bridges(proc::Runner& runner, BridgeTools tools, MacSocketCheck check)
      : runner_(runner), tools_(std::move(tools)), check_(std::move(check)) {}

  // Forwards `args` with the bridges `step` needs (`run`: for Kind::run;
  // nullopt when the spec declares no host socket). Returns the forwarded
  // command's exit code, or nullopt when no bridge is involved (then the
  // caller forwards as usual). Errors: a Mac-side refusal, a bridge that did
  // not come up, limactl that could not run.
  Result<std::optional<int>> forward(const std::vector<std::string>& args, const BridgeStep& step,
                                     const std::optional<RunBridge>& run);

  // The cell's state; nullopt if the Mac bridges nothing for it.
  Result<std::optional<BridgeState>> load(const std::string& cell) const;

 private:
  Result<int> run(const std::vector<std::string>& args, const RunBridge& r);
  Result<int> start(const std::vector<std::string>& args, const BridgeState& st);
  Result<int> stop(const std::vector<std::string>& args, const BridgeState& st, bool remove);
  Result<int> down(const std::vector<std::string>& args, const std::vector<BridgeState>& all);

  // `limactl shell brig -- ... brig ARGS` on the terminal, waited for.
  Result<int> forward_now(const std::vector<std::string>& args, const std::vector<std::string>& env);
  bool cell_exists(const std::string& cell);
  Result<BridgeState> checked_state(const std::string& cell, const std::vector<BridgedSocket>& sockets);
  Status up(const BridgeState& st);
  bool alive(const BridgeState& st);
  // Best effort: ends the cell's ssh (the state stays for its next start).
  void halt(const BridgeState& st);
  // Best effort: halt, then remove the state and the VM directory.
  void forget(const BridgeState& st);
  Result<proc::Output> limactl_shell(const std::vector<std::string>& cmd);

  proc::Runner& runner_;
  BridgeTools tools_;
  MacSocketCheck check_;
};

}  // namespace brig::vm
