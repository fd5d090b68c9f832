// The supervisor of host-socket bridges (bridges.h).
#include "brig/vm/bridges.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/vm/limactl.h"
#include "brig/vm/thin_client.h"

namespace brig::vm {
namespace {

// How long ssh may take to log in and have every forward accepted, and a
// limactl call to answer: a bridge that is not up by then is a failure.
constexpr std::chrono::seconds kBridgeTimeout{30};
constexpr std::chrono::seconds kLimactlTimeout{60};

std::string first_line(const std::string& s) {
  auto t = str::trim(s);
  return std::string(t.substr(0, t.find('\n')));
}

}  // namespace

BridgeStep bridge_step(const std::vector<std::string>& args) {
  auto i = noun_index(args);
  if (!i) return {};
  // The words after the noun, without flags and the values of those that
  // take one here (--format anywhere, cell stop --time, cell kill --signal).
  std::vector<std::string> words;
  std::string signal = "KILL";
  for (size_t j = *i + 1; j < args.size() && args[j] != "--"; ++j) {
    const std::string& t = args[j];
    if (t.size() > 1 && t[0] == '-') {
      if (t == "--signal" && j + 1 < args.size()) signal = args[j + 1];
      else if (t.rfind("--signal=", 0) == 0) signal = t.substr(9);
      if (t == "--format" || t == "--time" || t == "--signal") ++j;
      continue;
    }
    words.push_back(t);
  }
  const std::string& noun = args[*i];
  if (noun == "run") return {BridgeStep::Kind::run, ""};
  if (noun == "system" && !words.empty() && (words[0] == "down" || words[0] == "restart")) {
    return {BridgeStep::Kind::down, ""};
  }
  if (noun != "cell" || words.size() < 2) return {};
  const std::string& verb = words[0];
  if (verb == "start" || verb == "restart") return {BridgeStep::Kind::start, words[1]};
  if (verb == "stop") return {BridgeStep::Kind::stop, words[1]};
  // SIGKILL (kill's default) ends the cell as stop does; another signal may not.
  if (verb == "kill" && (signal == "KILL" || signal == "SIGKILL" || signal == "9")) {
    return {BridgeStep::Kind::stop, words[1]};
  }
  if (verb == "rm") return {BridgeStep::Kind::remove, words[1]};
  return {};
}

Result<std::optional<int>> Bridges::forward(const std::vector<std::string>& args, const BridgeStep& step,
                                            const std::optional<RunBridge>& run_bridge) {
  using K = BridgeStep::Kind;
  switch (step.kind) {
    case K::none:
      return std::optional<int>();
    case K::run: {
      if (!run_bridge || run_bridge->sockets.empty()) return std::optional<int>();
      auto rc = run(args, *run_bridge);
      if (!rc) return rc.error();
      return std::optional<int>(*rc);
    }
    case K::down: {
      std::vector<BridgeState> all;
      for (const auto& cell : fs::list_names(bridge_state_dir(tools_.brig_home), ".json")) {
        auto st = load(cell);
        if (!st) return st.error();
        if (*st) all.push_back(**st);
      }
      if (all.empty()) return std::optional<int>();
      auto rc = down(args, all);
      if (!rc) return rc.error();
      return std::optional<int>(*rc);
    }
    case K::start:
    case K::stop:
    case K::remove:
      break;
  }
  auto st = load(step.cell);
  if (!st) return st.error();
  if (!*st) return std::optional<int>();
  auto rc = step.kind == K::start ? start(args, **st) : stop(args, **st, step.kind == K::remove);
  if (!rc) return rc.error();
  return std::optional<int>(*rc);
}

Result<std::optional<BridgeState>> Bridges::load(const std::string& cell) const {
  // A cell name never holds '/' (spec::valid_cell_name); anything else has no state.
  if (cell.empty() || cell.find('/') != std::string::npos || cell[0] == '.') return std::optional<BridgeState>();
  const std::string path = bridge_state_path(tools_.brig_home, cell);
  if (!fs::exists(path)) return std::optional<BridgeState>();
  auto text = fs::read_file(path, 1u << 20);
  if (!text) return text.error();
  auto st = parse_bridge_state(*text, path);
  if (!st) return st.error();
  return std::optional<BridgeState>(std::move(*st));
}

Result<int> Bridges::run(const std::vector<std::string>& args, const RunBridge& r) {
  if (r.dry_run) {
    // Nothing is bridged: the VM validates with the paths a run would use.
    auto st = checked_state(r.cell, r.sockets);
    if (!st) return st.error();
    return forward_now(args, {std::string(kBridgesEnv) + "=" + bridges_env_value(st->sockets)});
  }
  if (r.cell.empty()) {
    return Error(Errc::usage,
                 "on macOS a cell with host_sockets needs a name before the run: brig names the bridge that "
                 "carries its sockets into the VM after it",
                 "give it a name: brig run --name NAME ... (or name: in the file)");
  }
  auto st = checked_state(r.cell, r.sockets);
  if (!st) return st.error();
  // A cell of that name would make the run fail, and its bridge is not ours to replace.
  if (cell_exists(r.cell)) {
    return Error(Errc::exists, "a cell named " + r.cell + " already exists",
                 "remove it first (brig cell rm " + r.cell + "), or choose another --name");
  }
  auto old = load(r.cell);
  if (!old) return old.error();
  if (*old) forget(**old);  // left by a cell removed in the VM (run -d --rm)
  // The state first: whatever happens next, brig can find the bridge and end it.
  BRIG_TRY(fs::make_dirs(bridge_state_dir(tools_.brig_home), 0700));
  BRIG_TRY(fs::write_atomic(bridge_state_path(tools_.brig_home, r.cell), bridge_state_json(*st), 0600));
  if (auto up_st = up(*st); !up_st) {
    forget(*st);
    return up_st.error();
  }
  auto rc = forward_now(args, {std::string(kBridgesEnv) + "=" + bridges_env_value(st->sockets)});
  if (!rc) {
    forget(*st);
    return rc.error();
  }
  if (!r.detach && r.rm) {
    forget(*st);  // the cell is gone with its run
  } else if (*rc == 0 || cell_exists(r.cell)) {
    // The run made the cell. An attached run returns once the cell has
    // exited: its bridge ends, and its next start brings it up again.
    if (!r.detach) halt(*st);
  } else {
    forget(*st);  // the run failed before the cell was made: roll the bridge back
  }
  return rc;
}

Result<int> Bridges::start(const std::vector<std::string>& args, const BridgeState& st) {
  // The Mac's sockets are judged again, as the VM judges a Linux host's at
  // every start, and must still be the files the cell was created with.
  for (const auto& s : st.sockets) {
    auto real = check_(s.name, s.host_path);
    if (!real) return real.error().with_exit_code(125);
    if (*real != s.mac_path) {
      return Error(Errc::invalid,
                   "host socket " + s.name + ": " + s.host_path + " now resolves to " + *real + ", not to " +
                       s.mac_path + " (what cell " + st.cell + " was created with)",
                   "restore " + s.mac_path + ", or remove the cell (brig cell rm " + st.cell + ") and run it again")
          .with_exit_code(125);
    }
  }
  if (!alive(st)) BRIG_TRY(up(st));
  auto rc = forward_now(args, {});
  if (!rc) return rc.error();
  if (*rc != 0) {
    // The cell is not running: no bridge without it.
    if (cell_exists(st.cell)) halt(st);
    else forget(st);
  }
  return rc;
}

Result<int> Bridges::stop(const std::vector<std::string>& args, const BridgeState& st, bool remove) {
  auto rc = forward_now(args, {});
  if (!rc) return rc.error();
  if (*rc == 0) {
    if (remove) forget(st);
    else halt(st);
  }
  return rc;
}

Result<int> Bridges::down(const std::vector<std::string>& args, const std::vector<BridgeState>& all) {
  auto rc = forward_now(args, {});
  if (!rc) return rc.error();
  if (*rc == 0) {
    for (const auto& st : all) halt(st);  // every cell is stopped
  }
  return rc;
}

Result<int> Bridges::forward_now(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  proc::Command c;
  c.argv = limactl_forward_args(tools_.limactl, tools_.vm_brig_home, args, env);
  c.inherit_stdio = true;  // the terminal, as with exec; brig waits to end the bridges after
  auto out = runner_.run(c);
  if (!out) return out.error();
  return out->exit_code;
}

bool Bridges::cell_exists(const std::string& cell) {
  proc::Command c;
  c.argv = limactl_forward_args(tools_.limactl, tools_.vm_brig_home, {"-q", "cell", "inspect", cell});
  c.timeout = kLimactlTimeout;
  auto out = runner_.run(c);
  return out && out->success();
}

Result<BridgeState> Bridges::checked_state(const std::string& cell, const std::vector<BridgedSocket>& sockets) {
  BridgeState st;
  st.cell = cell;
  if (!cell.empty()) {
    auto ctl = bridge_control_path(tools_.brig_home, cell);
    if (!ctl) return ctl.error();
    st.control_path = *ctl;
  }
  for (size_t i = 0; i < sockets.size(); ++i) {
    auto real = check_(sockets[i].name, sockets[i].host_path);
    if (!real) return real.error();
    st.sockets.push_back({sockets[i].name, sockets[i].host_path, *real, bridge_vm_path(cell, i)});
  }
  return st;
}

Result<proc::Output> Bridges::limactl_shell(const std::vector<std::string>& cmd) {
  proc::Command c;
  c.argv = limactl_shell_args(tools_.limactl, cmd);
  c.timeout = kLimactlTimeout;
  return runner_.run(c);
}

Status Bridges::up(const BridgeState& st) {
  if (tools_.ssh.empty()) {
    return Error(Errc::not_found, "ssh not found in PATH (brig bridges host sockets into the VM over ssh)",
                 "install OpenSSH's client, or remove host_sockets from the spec");
  }
  // sshd neither makes the directory nor replaces a socket left there.
  const std::string dir = bridge_vm_dir(st.cell);
  for (const auto& cmd : {std::vector<std::string>{"rm", "-rf", dir}, std::vector<std::string>{"mkdir", "-p", "-m", "0700", dir}}) {
    auto out = limactl_shell(cmd);
    if (!out) return out.error();
    if (!out->success()) {
      return Error(Errc::failed, "preparing " + dir + " in the VM failed: " + first_line(out->err),
                   "check the VM: brig vm shell");
    }
  }
  auto argv = bridge_ssh_args(tools_.ssh, tools_.ssh_config, st);
  if (!argv) return argv.error();
  proc::Command c;
  c.argv = *argv;
  c.timeout = kBridgeTimeout;
  auto out = runner_.run(c);
  if (!out) return out.error();
  if (!out->success()) {
    return Error(Errc::failed,
                 "bridging cell " + st.cell + "'s host sockets into the VM failed" +
                     (out->timed_out ? " (no answer in " + std::to_string(kBridgeTimeout.count()) + " s)"
                                     : ": " + first_line(out->err)),
                 "check that the VM answers ssh (limactl shell brig true) and that the sockets exist");
  }
  spdlog::debug("host-socket bridge of {} up ({})", st.cell, st.control_path);
  return {};
}

bool Bridges::alive(const BridgeState& st) {
  if (tools_.ssh.empty()) return false;
  proc::Command c;
  c.argv = bridge_control_args(tools_.ssh, tools_.ssh_config, st.control_path, "check");
  c.timeout = kLimactlTimeout;
  auto out = runner_.run(c);
  return out && out->success();
}

void Bridges::halt(const BridgeState& st) {
  if (tools_.ssh.empty()) return;
  proc::Command c;
  c.argv = bridge_control_args(tools_.ssh, tools_.ssh_config, st.control_path, "exit");
  c.timeout = kLimactlTimeout;
  // Fails when no ssh listens there any more: then nothing is left to end.
  auto out = runner_.run(c);
  if (!out || !out->success()) spdlog::debug("host-socket bridge of {}: nothing to end", st.cell);
}

void Bridges::forget(const BridgeState& st) {
  halt(st);
  const std::string path = bridge_state_path(tools_.brig_home, st.cell);
  if (::unlink(path.c_str()) != 0 && fs::exists(path)) spdlog::warn("could not remove {}", path);
  auto out = limactl_shell({"rm", "-rf", bridge_vm_dir(st.cell)});
  if (!out || !out->success()) spdlog::debug("could not remove {} in the VM", bridge_vm_dir(st.cell));
}

}  // namespace brig::vm
