#include "brig/engine/podman_client.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>

#include "brig/core/strings.h"
#include "brig/engine/podman.h"

namespace brig::engine {

namespace {

// Which podman PATH names, said once per process at debug level.
void log_podman_path() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto path = proc::find_executable("podman");
    spdlog::debug("podman: {}", path ? *path : std::string("not found in PATH"));
  });
}

}  // namespace

Result<proc::Output> Podman::run(std::vector<std::string> args, std::chrono::seconds timeout) const {
  log_podman_path();
  proc::Command c;
  c.argv = std::move(args);
  if (c.argv.empty() || c.argv[0] != "podman") c.argv.insert(c.argv.begin(), "podman");
  c.timeout = timeout;
  auto out = runner_.run(c);
  if (!out && out.error().code() == Errc::not_found) {
    return Error(Errc::unavailable, "podman is not installed", "sudo apt-get install podman (or scripts/bootstrap.sh)");
  }
  return out;
}

Result<proc::Output> Podman::attach(proc::Command c) const {
  c.inherit_stdio = true;
  return runner_.run(c);
}

Result<int> Podman::on_terminal(proc::Command c) const {
  auto out = attach(std::move(c));
  if (!out) return out.error();
  return out->exit_code;
}

Result<bool> Podman::is_warden_running() const {
  auto out = run({"container", "inspect", "--format", "{{.State.Running}}", kWardenContainer});
  if (!out) return out.error();
  return out->success() && str::trim(out->out) == "true";
}

bool Podman::image_exists(const std::string& image) const {
  auto out = run({"image", "exists", image});
  return out && out->success();
}

bool Podman::container_exists(const std::string& name) const {
  auto out = run({"container", "exists", name});
  return out && out->success();
}

bool Podman::network_exists(const std::string& name) const {
  auto out = run({"network", "exists", name});
  return out && out->success();
}

Result<std::optional<Podman::State>> Podman::container_state(const std::string& name) const {
  auto out = run({"container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name});
  if (!out) return out.error();
  if (!out->success()) return std::optional<State>();
  auto parts = str::split(std::string(str::trim(out->out)), ' ');
  State st;
  st.status = parts.empty() ? "unknown" : parts[0];
  if (parts.size() > 1) st.exit_code = std::atoi(parts[1].c_str());
  return std::optional<State>(st);
}

}  // namespace brig::engine
