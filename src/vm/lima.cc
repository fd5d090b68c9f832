// The Lima driver: limactl through proc::Runner, states turned into errors.
#include "brig/vm/lima.h"

#include <chrono>
#include <filesystem>

#include "brig/core/fs.h"
#include "brig/core/strings.h"

namespace brig::vm {
namespace {

std::string first_line(const std::string& s) {
  auto t = str::trim(s);
  return std::string(t.substr(0, t.find('\n')));
}

}  // namespace

Result<std::string> find_limactl() {
  auto path = proc::find_executable("limactl");
  if (!path) {
    return Error(Errc::not_found, "limactl not found in PATH (brig's VM runs under Lima)", "brew install lima");
  }
  return *path;
}

Result<VmStatus> Lima::status() {
  proc::Command c;
  c.argv = limactl_list_json_args(limactl_);
  c.timeout = std::chrono::seconds(60);
  auto out = runner_.run(c);
  if (!out) return out.error();
  if (!out->success()) {
    // Some Lima versions exit non-zero for an instance that does not exist.
    if (out->err.find("No instance matching") != std::string::npos ||
        out->err.find("does not exist") != std::string::npos) {
      return VmStatus{};
    }
    return Error(Errc::failed,
                 "limactl list failed (exit " + std::to_string(out->exit_code) + "): " + first_line(out->err),
                 "check Lima itself: limactl list");
  }
  return parse_list_json(out->out);
}

Status Lima::run_visible(const std::vector<std::string>& argv, const std::string& what) {
  proc::Command c;
  c.argv = argv;
  c.inherit_stdio = true;  // Lima's progress goes straight to the user
  auto out = runner_.run(c);
  if (!out) return out.error();
  if (!out->success()) {
    return Error(Errc::failed, what + " failed (exit " + std::to_string(out->exit_code) + ")",
                 "see Lima's messages above, and docs/macos.md (troubleshooting)");
  }
  return {};
}

Status Lima::create(const TemplateValues& values, const std::string& yaml_path) {
  auto st = status();
  if (!st) return st.error();
  if (st->state != State::absent) {
    return Error(Errc::exists, "the brig VM already exists (" + st->status + ")",
                 "start it with 'brig vm start', or 'brig vm delete' it to create it anew");
  }
  // A malformed gVisor pin would only fail minutes into provisioning.
  if (auto pin = parse_gvisor_pin(lima_template()); !pin) return pin.error();
  auto text = render_template(lima_template(), values);
  if (!text) return text.error();
  BRIG_TRY(fs::make_dirs(std::filesystem::path(yaml_path).parent_path().string()));
  BRIG_TRY(fs::write_atomic(yaml_path, *text));
  return run_visible(limactl_create_args(limactl_, yaml_path), "limactl create");
}

Status Lima::start() {
  auto st = status();
  if (!st) return st.error();
  if (st->state == State::absent) return Error(Errc::not_found, "the brig VM does not exist", "brig vm create");
  if (st->state == State::running) return {};
  return run_visible(limactl_start_args(limactl_), "limactl start");
}

Status Lima::stop() {
  auto st = status();
  if (!st) return st.error();
  if (st->state == State::absent) return Error(Errc::not_found, "the brig VM does not exist", "brig vm create");
  if (st->state == State::stopped) return {};
  return run_visible(limactl_stop_args(limactl_), "limactl stop");
}

Status Lima::remove(bool force) {
  auto st = status();
  if (!st) return st.error();
  if (st->state == State::absent) {
    return Error(Errc::not_found, "the brig VM does not exist; there is nothing to delete");
  }
  if (st->state == State::running && !force) {
    return Error(Errc::failed, "the brig VM is running",
                 "stop it first with 'brig vm stop', or use 'brig vm delete --force'");
  }
  return run_visible(limactl_delete_args(limactl_, force), "limactl delete");
}

Status Lima::require_running() {
  auto st = status();
  if (!st) return st.error();
  switch (st->state) {
    case State::running:
      return {};
    case State::absent:
      return Error(Errc::unavailable, "the brig VM does not exist (on macOS brig runs cells inside it)",
                   "brig vm create && brig vm start");
    case State::stopped:
      return Error(Errc::unavailable, "the brig VM is stopped", "brig vm start");
    case State::broken:
      return Error(Errc::unavailable, "the brig VM is broken (Lima reports 'Broken')",
                   "brig vm stop && brig vm start; see docs/macos.md (troubleshooting)");
    case State::other:
      break;
  }
  return Error(Errc::unavailable, "the brig VM is not running (Lima reports " + str::quote(st->status) + ")",
               "brig vm start");
}

}  // namespace brig::vm
