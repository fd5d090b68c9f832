// Host sockets on macOS (a spec's host_sockets): the socket lives on the Mac,
// so the thin client bridges each one into the VM with an SSH reverse
// unix-socket forward over Lima's own ssh configuration, one ssh per cell.
// This file is the pure part: paths, argv, the variable that tells the brig
// in the VM where each bridged socket is, and the state the Mac keeps per
// cell. No I/O: golden-tested in tests/unit/vm. The supervisor that runs
// them is bridges.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "brig/core/error.h"

namespace brig::vm {

// The variable the thin client sets on a forwarded command that uses bridged
// host sockets: "NAME=VM_PATH[,NAME=VM_PATH...]" (spec::ValidateOptions::
// host_socket_bridges in the VM).
inline constexpr const char* kBridgesEnv = "BRIG_HOST_SOCKET_BRIDGES";

// One host socket of a cell as the Mac bridges it.
struct BridgedSocket {
  std::string name;       // the spec's name
  std::string host_path;  // the spec's host_path, as written (checked again at every start)
  std::string mac_path;   // its real path on the Mac when bridged: what ssh connects to
  std::string vm_path;    // where the forward listens in the VM: what the cell mounts
};

// What the Mac keeps per cell in $BRIG_HOME/run/host-socket-bridges/<cell>.json
// while the cell exists: its sockets and the control socket of its ssh (the
// handle that checks and ends it; a pid could be reused by then).
struct BridgeState {
  std::string cell;
  std::string control_path;
  std::vector<BridgedSocket> sockets;
};

// The VM directory of a cell's bridged sockets: on the VM's own filesystem
// (sockets do not work on the shared $BRIG_HOME mount), one per cell so a
// start clears only its own. "cell-" and numbered files: no word the user
// chose stands alone in the path, so spec::engine_socket, which the VM
// applies to it, cannot take it for an engine's socket.
std::string bridge_vm_dir(const std::string& cell);
// The VM path of the cell's `index`-th host socket: <bridge_vm_dir>/<index>.sock.
std::string bridge_vm_path(const std::string& cell, std::size_t index);

// $BRIG_HOME/run/host-socket-bridges (on the Mac).
std::string bridge_state_dir(const std::string& brig_home);
std::string bridge_state_path(const std::string& brig_home, const std::string& cell);
// The ssh control socket of the cell's bridge. Errc::invalid when it is
// longer than a unix socket path may be on macOS (103 bytes), with the fix.
Result<std::string> bridge_control_path(const std::string& brig_home, const std::string& cell);

// Lima's directory: $LIMA_HOME if set, else ~/.lima. nullptr when unset.
std::string lima_home(const char* lima_home_env, const char* home_env);
// The ssh configuration Lima writes for the brig instance, and its host name.
std::string lima_ssh_config(const std::string& lima_home);
std::string lima_ssh_host();  // "lima-brig"

// `ssh -F CONFIG -o ControlMaster=yes -o ControlPath="CTL" -o ControlPersist=no
// -o ExitOnForwardFailure=yes -f -N -R VM_PATH:MAC_PATH... lima-brig`.
// With -f and ExitOnForwardFailure, ssh goes to the background only once the
// VM has accepted every forward, and fails otherwise: its exit says whether
// the bridge is up. Its own control socket (not Lima's) lets brig end exactly
// this ssh. Errc::invalid if a path holds ':' (ssh's -R separator) or the
// control path a '"'.
Result<std::vector<std::string>> bridge_ssh_args(const std::string& ssh, const std::string& ssh_config,
                                                 const BridgeState& state);
// `ssh -F CONFIG -o ControlPath="CTL" -O check|exit lima-brig`: whether the
// bridge runs; ending it.
std::vector<std::string> bridge_control_args(const std::string& ssh, const std::string& ssh_config,
                                             const std::string& control_path, const std::string& command);

// kBridgesEnv's value for `sockets`.
std::string bridges_env_value(const std::vector<BridgedSocket>& sockets);
// Parses kBridgesEnv's value (nullptr or empty: no bridges). Errc::usage when
// an entry is not NAME=ABSOLUTE_PATH or a name repeats.
Result<std::map<std::string, std::string>> parse_bridges_env(const char* value);

std::string bridge_state_json(const BridgeState& state);
// Errc::invalid, naming `path`, when the text is not a bridge state.
Result<BridgeState> parse_bridge_state(const std::string& text, const std::string& path);

}  // namespace brig::vm
