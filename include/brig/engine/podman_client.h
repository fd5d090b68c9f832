// The one podman client: every podman call the engine makes goes through it,
// and the questions the engine asks podman are written once here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"

namespace brig::engine {

class Podman {
 public:
  explicit Podman(proc::Runner& runner) : runner_(runner) {}

  // `podman ARGS...` (a leading "podman" may be given or not). podman not
  // installed: Errc::unavailable with the install command as the fix. A
  // non-zero exit is not an error (see proc::Output).
  Result<proc::Output> run(std::vector<std::string> args,
                           std::chrono::seconds timeout = std::chrono::seconds(120)) const;
  // Runs `c` on brig's own stdin/stdout/stderr and returns its exit code.
  Result<int> on_terminal(proc::Command c) const;
  // The same, keeping what Command::hold_stderr_lines holds back in Output::err.
  Result<proc::Output> attach(proc::Command c) const;

  // Whether brig-warden runs; an error only when podman cannot be run.
  Result<bool> is_warden_running() const;
  // false also when podman cannot be run (a check then fails, as it should).
  bool image_exists(const std::string& image) const;
  bool container_exists(const std::string& name) const;
  bool network_exists(const std::string& name) const;

  struct State {
    std::string status;  // running, exited, created, ...
    int exit_code = 0;
  };
  // nullopt when podman knows no such container.
  Result<std::optional<State>> container_state(const std::string& name) const;

  proc::Runner& runner() const { return runner_; }

 private:
  proc::Runner& runner_;
};

}  // namespace brig::engine
