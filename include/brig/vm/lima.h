// The Lima driver: runs limactl (path resolved once) through a proc::Runner,
// turning its states into errors that say what to type next.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"
#include "brig/vm/limactl.h"
#include "brig/vm/template.h"

namespace brig::vm {

// Finds limactl in PATH. Errc::not_found with `fix: brew install lima`.
Result<std::string> find_limactl();

class Lima {
 public:
  // REQUIRES: `limactl` is the resolved path (see find_limactl()).
  Lima(proc::Runner& runner, std::string limactl) : runner_(runner), limactl_(std::move(limactl)) {}

  const std::string& limactl() const { return limactl_; }

  Result<VmStatus> status();
  // Renders the template into `yaml_path` and creates the VM (not started).
  // Errc::exists if the VM exists; Errc::invalid if the compiled-in gVisor pin
  // is malformed (parse_gvisor_pin).
  Status create(const TemplateValues& values, const std::string& yaml_path);
  // Errc::not_found if absent; a no-op (prints nothing) if already running.
  Status start();
  // Errc::not_found if absent; a no-op if already stopped.
  Status stop();
  // Errc::not_found if absent; a running VM needs `force`.
  Status remove(bool force);
  // OK only when the VM is running; otherwise an error naming the command
  // that fixes it (`brig vm create`, `brig vm start`).
  Status require_running();

 private:
  Status run_visible(const std::vector<std::string>& argv, const std::string& what);

  proc::Runner& runner_;
  std::string limactl_;
};

}  // namespace brig::vm
