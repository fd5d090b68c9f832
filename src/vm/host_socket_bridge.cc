// Host-socket bridges on macOS: paths, argv, the VM's variable, the Mac's state.
#include "brig/vm/host_socket_bridge.h"

#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/vm/limactl.h"

namespace brig::vm {
namespace {

// sun_path holds 104 bytes on macOS, the terminating NUL included.
constexpr std::size_t kMaxUnixPath = 103;

// An ssh_config value in double quotes (the path may hold spaces), with '%'
// doubled: ssh expands %-tokens in ControlPath.
std::string config_path(const std::string& path) {
  std::string out = "\"";
  for (char c : path) {
    if (c == '%') out += '%';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string bridge_vm_dir(const std::string& cell) { return "/tmp/brig-host-sockets/cell-" + cell; }

std::string bridge_vm_path(const std::string& cell, std::size_t index) {
  return bridge_vm_dir(cell) + "/" + std::to_string(index) + ".sock";
}

std::string bridge_state_dir(const std::string& brig_home) { return brig_home + "/run/host-socket-bridges"; }

std::string bridge_state_path(const std::string& brig_home, const std::string& cell) {
  return bridge_state_dir(brig_home) + "/" + cell + ".json";
}

Result<std::string> bridge_control_path(const std::string& brig_home, const std::string& cell) {
  std::string p = bridge_state_dir(brig_home) + "/" + cell + ".ctl";
  if (p.size() > kMaxUnixPath) {
    return Error(Errc::invalid,
                 "the control socket of cell " + cell + "'s host-socket bridge would be " + p + ", " +
                     std::to_string(p.size()) + " bytes: longer than a unix socket path may be on macOS (" +
                     std::to_string(kMaxUnixPath) + ")",
                 "give the cell a shorter name, or use a shorter BRIG_HOME");
  }
  return p;
}

std::string lima_home(const char* lima_home_env, const char* home_env) {
  if (lima_home_env != nullptr && *lima_home_env != '\0') return lima_home_env;
  return std::string(home_env != nullptr ? home_env : "") + "/.lima";
}

std::string lima_ssh_config(const std::string& lima_home) {
  return lima_home + "/" + kInstance + "/ssh.config";
}

std::string lima_ssh_host() { return std::string("lima-") + kInstance; }

Result<std::vector<std::string>> bridge_ssh_args(const std::string& ssh, const std::string& ssh_config,
                                                 const BridgeState& state) {
  if (state.control_path.find('"') != std::string::npos) {
    return Error(Errc::invalid, "the bridge's control socket path " + str::quote(state.control_path) + " holds '\"'",
                 "use a BRIG_HOME without '\"'");
  }
  std::vector<std::string> a{ssh, "-F", ssh_config,
                             "-o", "ControlMaster=yes",
                             "-o", "ControlPath=" + config_path(state.control_path),
                             "-o", "ControlPersist=no",
                             "-o", "ExitOnForwardFailure=yes",
                             "-f", "-N"};
  for (const auto& s : state.sockets) {
    for (const auto* p : {&s.vm_path, &s.mac_path}) {
      if (p->find(':') != std::string::npos) {
        return Error(Errc::invalid, "host socket " + s.name + ": " + *p + " holds ':', which ssh cannot forward",
                     "give the socket a path without ':'");
      }
    }
    a.emplace_back("-R");
    a.push_back(s.vm_path + ":" + s.mac_path);
  }
  a.push_back(lima_ssh_host());
  return a;
}

std::vector<std::string> bridge_control_args(const std::string& ssh, const std::string& ssh_config,
                                             const std::string& control_path, const std::string& command) {
  return {ssh, "-F", ssh_config, "-o", "ControlPath=" + config_path(control_path), "-O", command, lima_ssh_host()};
}

std::string bridges_env_value(const std::vector<BridgedSocket>& sockets) {
  std::vector<std::string> parts;
  for (const auto& s : sockets) parts.push_back(s.name + "=" + s.vm_path);
  return str::join(parts, ",");
}

Result<std::map<std::string, std::string>> parse_bridges_env(const char* value) {
  std::map<std::string, std::string> out;
  if (value == nullptr || *value == '\0') return out;
  for (const auto& entry : str::split(value, ',')) {
    auto eq = entry.find('=');
    const std::string name = eq == std::string::npos ? "" : entry.substr(0, eq);
    const std::string path = eq == std::string::npos ? "" : entry.substr(eq + 1);
    if (name.empty() || path.empty() || path.front() != '/' || !out.emplace(name, path).second) {
      return Error(Errc::usage, std::string(kBridgesEnv) + ": " + str::quote(entry) +
                                    " is not NAME=/PATH (or names a socket twice)",
                   "unset it: the brig on the Mac sets it for the commands it forwards");
    }
  }
  return out;
}

std::string bridge_state_json(const BridgeState& state) {
  nlohmann::json sockets = nlohmann::json::array();
  for (const auto& s : state.sockets) {
    sockets.push_back({{"name", s.name}, {"host_path", s.host_path}, {"mac_path", s.mac_path}, {"vm_path", s.vm_path}});
  }
  nlohmann::json j = {{"cell", state.cell}, {"control_path", state.control_path}, {"sockets", sockets}};
  return j.dump(2) + "\n";
}

Result<BridgeState> parse_bridge_state(const std::string& text, const std::string& path) {
  try {
    auto j = nlohmann::json::parse(text);
    BridgeState st;
    st.cell = j.at("cell").get<std::string>();
    st.control_path = j.at("control_path").get<std::string>();
    for (const auto& s : j.at("sockets")) {
      st.sockets.push_back({s.at("name").get<std::string>(), s.at("host_path").get<std::string>(),
                            s.at("mac_path").get<std::string>(), s.at("vm_path").get<std::string>()});
    }
    return st;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, path + " is not a host-socket bridge state: " + e.what(),
                 "remove it (the cell's host sockets are then no longer bridged from the Mac)");
  }
}

}  // namespace brig::vm
