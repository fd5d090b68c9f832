// brig vm ... — the macOS VM layer (Lima), and the thin client's forwarding.
// On Linux brig runs natively: `vm status` says so; the other verbs need
// --force-vm (and Lima) to manage a VM anyway.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "brig/proc/command.h"
#include "brig/spec/validate.h"
#include "brig/vm/bridges.h"
#include "brig/vm/lima.h"
#include "brig/vm/thin_client.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {
namespace {

struct VmOpts {
  bool force_vm = false;
  bool force = false;
  vm::TemplateValues values;
  std::string source;
  std::vector<std::string> cmd;
};

// The resolved limactl, once per process.
Result<std::string> limactl_path() {
  static const Result<std::string> path = [] {
    auto p = vm::find_limactl();
    if (p) spdlog::debug("limactl: {}", *p);
    return p;
  }();
  return path;
}

// Whether this host manages a VM: always on macOS, on Linux only with
// --force-vm. Errors when the verb needs a VM and this is native Linux.
Result<bool> vm_mode(const std::string& verb, bool force_vm) {
  if (vm::current_platform() == vm::Platform::darwin || force_vm) return true;
  if (verb == "status") return false;
  return Error(Errc::unavailable,
               "this Linux host runs cells natively; 'brig vm " + verb + "' is for macOS, where cells run in a VM",
               "run brig commands directly (see 'brig vm status'); to manage a Lima VM anyway, add --force-vm");
}

Result<vm::Lima> lima(proc::Runner& runner) {
  auto path = limactl_path();
  if (!path) return path.error();
  return vm::Lima(runner, *path);
}

std::string gib(long long bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

Result<int> print_status(const Context& ctx, bool force_vm) {
  auto use = vm_mode("status", force_vm);
  if (!use) return use.error();
  if (!*use) {
    // On Linux there is no VM: brig drives podman and runsc on this host.
    if (ctx.json()) std::printf("{\"platform\": \"linux\", \"mode\": \"native\", \"vm\": null}\n");
    else std::printf("native: this host runs cells directly (no VM; no hardware boundary)\n");
    return 0;
  }
  proc::PosixRunner runner;
  auto l = lima(runner);
  if (!l) return l.error();
  auto st = l->status();
  if (!st) return st.error();
  if (ctx.json()) {
    nlohmann::json vmj = nullptr;
    if (st->state != vm::State::absent) {
      vmj = {{"name", vm::kInstance}, {"state", vm::state_name(st->state)}, {"status", st->status},
             {"cpus", st->cpus}, {"memory", st->memory}, {"disk", st->disk}, {"arch", st->arch},
             {"vm_type", st->vm_type}, {"dir", st->dir}};
    }
    nlohmann::json j = {{"platform", vm::current_platform() == vm::Platform::darwin ? "darwin" : "linux"},
                        {"mode", "vm"}, {"state", vm::state_name(st->state)}, {"vm", vmj}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  switch (st->state) {
    case vm::State::absent:
      std::printf("vm: absent (create it with 'brig vm create')\n");
      break;
    case vm::State::running:
      std::printf("vm: running (%d CPUs, %s memory, %s disk, %s, %s)\n", st->cpus, gib(st->memory).c_str(),
                  gib(st->disk).c_str(), st->arch.c_str(), st->vm_type.c_str());
      break;
    case vm::State::stopped:
      std::printf("vm: stopped (start it with 'brig vm start')\n");
      break;
    default:
      std::printf("vm: %s (Lima reports '%s')\n", vm::state_name(st->state), st->status.c_str());
  }
  return 0;
}

Result<int> create(const Context& ctx, VmOpts& o) {
  auto use = vm_mode("create", o.force_vm);
  if (!use) return use.error();
  o.values.brig_home = vm::vm_brig_home(ctx.paths.home(), std::filesystem::current_path().string());
  o.values.source_dir = o.source.empty() ? std::string(vm::build_source_dir())
                                         : std::filesystem::absolute(o.source).lexically_normal().string();
  while (o.values.source_dir.size() > 1 && o.values.source_dir.back() == '/') o.values.source_dir.pop_back();
  BRIG_TRY(vm::validate_values(o.values));
  if (!std::filesystem::exists(o.values.source_dir + "/CMakeLists.txt")) {
    return Error(Errc::usage, "no brig source tree at " + o.values.source_dir + " (the VM builds brig from it)",
                 "pass the checkout with --source DIR");
  }
  proc::PosixRunner runner;
  auto l = lima(runner);
  if (!l) return l.error();
  const std::string yaml = ctx.paths.home() + "/lima.yaml";
  BRIG_TRY(l->create(o.values, yaml));
  if (!ctx.quiet) {
    std::printf("created the brig VM from %s; next: brig vm start\n", yaml.c_str());
    if (auto pin = vm::parse_gvisor_pin(vm::lima_template())) {
      std::printf("gVisor: %s\n", vm::describe_gvisor_pin(*pin).c_str());
    }
  }
  return 0;
}

// start, stop, delete: one Lima call each.
Result<int> simple(const Context& ctx, const std::string& verb, const VmOpts& o) {
  auto use = vm_mode(verb, o.force_vm);
  if (!use) return use.error();
  proc::PosixRunner runner;
  auto l = lima(runner);
  if (!l) return l.error();
  if (verb == "start") BRIG_TRY(l->start());
  else if (verb == "stop") BRIG_TRY(l->stop());
  else BRIG_TRY(l->remove(o.force));
  if (!ctx.quiet) {
    std::printf("%s\n", verb == "start" ? "the brig VM is running" : verb == "stop" ? "the brig VM is stopped"
                                                                                      : "the brig VM is deleted");
  }
  return 0;
}

Result<int> shell(const VmOpts& o) {
  auto use = vm_mode("shell", o.force_vm);
  if (!use) return use.error();
  proc::PosixRunner runner;
  auto l = lima(runner);
  if (!l) return l.error();
  BRIG_TRY(l->require_running());
  proc::Command c;
  c.argv = vm::limactl_shell_args(l->limactl(), o.cmd);
  return proc::exec_replace(c);  // returns only if exec failed
}

}  // namespace

namespace {

// The Mac-side check of a host socket before it is bridged: the spec's rule
// on the Mac's own file.
Result<std::string> check_mac_socket(const std::string& name, const std::string& host_path) {
  static const HostProbe probe;
  if (auto why = spec::host_socket_path_problem(host_path, &probe)) {
    return Error(Errc::invalid, "host socket " + name + ": " + *why);
  }
  auto real = probe.realpath(host_path);
  if (!real) return Error(Errc::invalid, "host socket " + name + ": " + host_path + " cannot be resolved");
  return *real;
}

// The host sockets a forwarded `brig run` declares in its --file, as the Mac
// reads them; nullopt when there are none (or the file does not parse, or the
// name is not one: the brig in the VM says why).
std::optional<vm::RunBridge> run_bridge(const std::vector<std::string>& args) {
  const RunArgs r = scan_run_args(args);
  if (!r.file) return std::nullopt;
  auto s = read_cell_file(*r.file);
  if (!s || !s->host_sockets.has() || s->host_sockets->empty()) return std::nullopt;
  vm::RunBridge b;
  b.cell = r.name ? *r.name : s->name.has() ? *s->name : "";
  // A name that is none names no bridge either: the VM refuses the run.
  if (!b.cell.empty() && !spec::valid_cell_name(b.cell)) return std::nullopt;
  for (const auto& h : *s->host_sockets) b.sockets.push_back({h.name, h.host_path, "", ""});
  b.detach = r.detach;
  b.rm = r.rm;
  b.dry_run = r.dry_run;
  return b;
}

}  // namespace

Result<int> forward_to_vm(const std::vector<std::string>& args, const Paths& paths) {
  auto path = limactl_path();
  if (!path) return path.error();
  proc::PosixRunner runner;
  vm::Lima l(runner, *path);
  // Checked first: `limactl shell` on a stopped VM would ask to start it.
  BRIG_TRY(l.require_running());
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  const std::string vm_home = vm::vm_brig_home(paths.home(), ec ? "/" : cwd.string());

  // Host sockets live on the Mac: the commands that start, stop or remove a
  // cell that has them bridge them into the VM around the forward.
  const auto step = vm::bridge_step(args);
  if (step.kind != vm::BridgeStep::Kind::none) {
    vm::BridgeTools tools{*path, proc::find_executable("ssh").value_or(""),
                          vm::lima_ssh_config(vm::lima_home(std::getenv("LIMA_HOME"), std::getenv("HOME"))),
                          paths.home(), vm_home};
    vm::Bridges bridges(runner, std::move(tools), check_mac_socket);
    auto rc = bridges.forward(args, step, step.kind == vm::BridgeStep::Kind::run ? run_bridge(args) : std::nullopt);
    if (!rc) return rc.error();
    if (*rc) return **rc;
  }
  proc::Command c;
  c.argv = vm::limactl_forward_args(*path, vm_home, args);
  // exec, not fork: the terminal, signals and the exit code pass through.
  return proc::exec_replace(c);
}

void add_vm(CLI::App& root, Context& ctx) {
  static VmOpts o;
  auto* n = root.add_subcommand("vm", "the Lima VM that holds brig on macOS");
  auto force_vm = [](CLI::App* v) {
    v->add_flag("--force-vm", o.force_vm, "on Linux: manage a Lima VM anyway (needs limactl)");
    return v;
  };
  auto* create_v = force_vm(n->add_subcommand("create", "create the VM (then: brig vm start)"));
  create_v->add_option("--cpus", o.values.cpus, "virtual CPUs")->capture_default_str();
  create_v->add_option("--memory", o.values.memory, "memory, e.g. 8GiB")->capture_default_str();
  create_v->add_option("--disk", o.values.disk, "disk size, e.g. 50GiB")->capture_default_str();
  create_v->add_option("--source", o.source, "the brig source tree the VM builds brig from (default: this build's)");
  on_run(create_v, ctx, [&ctx]() { return create(ctx, o); });

  for (const char* verb : {"start", "stop"}) {
    auto* v = force_vm(n->add_subcommand(verb, std::string(verb) + " the VM"));
    on_run(v, ctx, [&ctx, name = std::string(verb)]() { return simple(ctx, name, o); });
  }
  auto* status = force_vm(n->add_subcommand("status", "show the VM's state (on Linux: native mode)"));
  on_run(status, ctx, [&ctx]() { return print_status(ctx, o.force_vm); });
  auto* shell_v = force_vm(n->add_subcommand("shell", "open a shell in the VM: brig vm shell [-- CMD...]"));
  shell_v->add_option("cmd", o.cmd, "a command to run instead of a login shell");
  on_run(shell_v, ctx, []() {
    if (run_tail().has_command) o.cmd = run_tail().command;  // after "--"
    return shell(o);
  });
  auto* del = force_vm(n->add_subcommand("delete", "delete the VM and its disk"));
  del->add_flag("--force", o.force, "delete a running VM too");
  on_run(del, ctx, [&ctx]() { return simple(ctx, "delete", o); });
}

}  // namespace brig::cli
