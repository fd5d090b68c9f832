// argv for limactl, and `limactl list --json` parsing.
#include "brig/vm/limactl.h"

#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/vm/thin_client.h"

namespace brig::vm {

std::vector<std::string> limactl_create_args(const std::string& limactl, const std::string& yaml) {
  return {limactl, "create", std::string("--name=") + kInstance, "--tty=false", yaml};
}

std::vector<std::string> limactl_start_args(const std::string& limactl) {
  return {limactl, "start", "--tty=false", kInstance};
}

std::vector<std::string> limactl_stop_args(const std::string& limactl) { return {limactl, "stop", kInstance}; }

std::vector<std::string> limactl_delete_args(const std::string& limactl, bool force) {
  std::vector<std::string> a{limactl, "delete"};
  if (force) a.emplace_back("--force");
  a.emplace_back(kInstance);
  return a;
}

std::vector<std::string> limactl_list_json_args(const std::string& limactl) {
  return {limactl, "list", "--json", kInstance};
}

std::vector<std::string> limactl_shell_args(const std::string& limactl, const std::vector<std::string>& cmd) {
  std::vector<std::string> a{limactl, "shell", kInstance};
  if (!cmd.empty()) {
    a.emplace_back("--");
    a.insert(a.end(), cmd.begin(), cmd.end());
  }
  return a;
}

std::vector<std::string> limactl_forward_args(const std::string& limactl, const std::string& brig_home,
                                              const std::vector<std::string>& brig_args,
                                              const std::vector<std::string>& env) {
  // Not pre-quoted: limactl quotes each argument for the guest shell. A
  // NAME=VALUE argument is only taken as an assignment before the command,
  // so one among brig_args stays an argument.
  std::vector<std::string> a{limactl, "shell", kInstance, "--", "BRIG_HOME=" + brig_home,
                             std::string(kForwardedEnv) + "=" + kForwardedFromMac};
  a.insert(a.end(), env.begin(), env.end());
  a.emplace_back("brig");
  a.insert(a.end(), brig_args.begin(), brig_args.end());
  return a;
}

const char* state_name(State s) {
  switch (s) {
    case State::absent: return "absent";
    case State::running: return "running";
    case State::stopped: return "stopped";
    case State::broken: return "broken";
    case State::other: break;
  }
  return "other";
}

Result<VmStatus> parse_list_json(const std::string& out) {
  VmStatus st;
  for (const auto& raw : str::split(out, '\n')) {
    auto line = str::trim(raw);
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return Error(Errc::invalid, "cannot parse 'limactl list --json' output: " + str::quote(line.substr(0, 80)),
                   "check that limactl works: limactl list");
    }
    if (j.value("name", "") != kInstance) continue;
    st.status = j.value("status", "");
    st.arch = j.value("arch", "");
    st.vm_type = j.value("vmType", "");
    st.dir = j.value("dir", "");
    auto number = [&](const char* key) -> long long {
      auto it = j.find(key);
      return it != j.end() && it->is_number() ? it->get<long long>() : 0;
    };
    st.cpus = static_cast<int>(number("cpus"));
    st.memory = number("memory");
    st.disk = number("disk");
    if (st.status == "Running") st.state = State::running;
    else if (st.status == "Stopped") st.state = State::stopped;
    else if (st.status == "Broken") st.state = State::broken;
    else st.state = State::other;
  }
  return st;
}

}  // namespace brig::vm
