// Pure argv builders for every limactl call brig makes, and the parser for
// `limactl list --json`. No I/O: golden-tested in tests/unit/vm.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"

namespace brig::vm {

// The one Lima instance brig manages.
inline constexpr const char* kInstance = "brig";

// `limactl create --name=brig --tty=false YAML`: --tty=false skips Lima's
// "proceed with this configuration?" prompt (brig already rendered it).
std::vector<std::string> limactl_create_args(const std::string& limactl, const std::string& yaml);
// `limactl start --tty=false brig`.
std::vector<std::string> limactl_start_args(const std::string& limactl);
// `limactl stop brig`.
std::vector<std::string> limactl_stop_args(const std::string& limactl);
// `limactl delete [--force] brig`.
std::vector<std::string> limactl_delete_args(const std::string& limactl, bool force);
// `limactl list --json brig`: one JSON object per instance, one per line.
std::vector<std::string> limactl_list_json_args(const std::string& limactl);
// `limactl shell brig [-- CMD...]`: a login shell when `cmd` is empty.
// The arguments go raw: limactl shell-quotes each one itself.
std::vector<std::string> limactl_shell_args(const std::string& limactl, const std::vector<std::string>& cmd);
// The thin client: `limactl shell brig -- BRIG_HOME=<home>
// BRIG_FORWARDED_FROM=darwin brig ARGS...`. limactl turns the leading
// NAME=VALUE words into environment assignments; the Mac's BRIG_HOME is
// mounted at the same path in the VM; the second marks the command as the
// Mac's (vm::kForwardedEnv). `env` (NAME=VALUE words) follows them: the
// host-socket bridges of the command (host_socket_bridge.h).
std::vector<std::string> limactl_forward_args(const std::string& limactl, const std::string& brig_home,
                                              const std::vector<std::string>& brig_args,
                                              const std::vector<std::string>& env = {});

enum class State { absent, running, stopped, broken, other };

const char* state_name(State s);

struct VmStatus {
  State state = State::absent;
  std::string status;  // Lima's word for it ("Running", "Stopped", ...); empty when absent
  std::string arch, vm_type, dir;
  int cpus = 0;
  long long memory = 0, disk = 0;  // bytes
};

// Parses `limactl list --json brig` output (NDJSON; empty output: absent).
// Errc::invalid if a line is not a JSON object.
Result<VmStatus> parse_list_json(const std::string& out);

}  // namespace brig::vm
