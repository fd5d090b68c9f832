// Cells: validate -> plan -> apply (with rollback) -> start, and the verbs on
// a cell that exists.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/engine.h"
#include "brig/engine/subnets.h"
#include "brig/spec/json.h"
#include "brig/spec/validate.h"
#include "internal.h"
#include "rollback.h"

namespace brig::engine {
namespace {

namespace stdfs = std::filesystem;

// A test hook: BRIG_FAIL_AT=<step> makes that step fail, so the e2e suite can
// prove rollback on the real system.
Status injected_failure(const std::string& step) {
  const char* at = std::getenv("BRIG_FAIL_AT");
  if (at && step == at) return Error(Errc::failed, "step " + step + " failed (BRIG_FAIL_AT)");
  return {};
}

std::string json_string(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// podman's complaint about something that is not there (already removed).
bool is_gone(const std::string& err) {
  return err.find("no such") != std::string::npos || err.find("not found") != std::string::npos ||
         err.find("unable to find") != std::string::npos;
}

// Writes `value` to the sysctl file `path` in place (sysctls cannot be
// replaced by a rename) and reads it back.
Status write_sysctl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_error("opening " + path, errno);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int write_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return errno_error("writing " + path, n < 0 ? write_errno : EIO);
  auto back = fs::read_file(path, 64);
  if (!back) return back.error();
  if (str::trim(*back) != str::trim(value)) {
    return Error(Errc::failed, path + " reads " + str::quote(std::string(str::trim(*back))) + " after writing " +
                                   str::quote(std::string(str::trim(value))));
  }
  return {};
}

}  // namespace

std::string generate_cell_name() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "cell-%06x", rd() & 0xffffff);
  return buf;
}

nlohmann::json to_json(const CellRecord& r) {
  return {{"name", r.name},
          {"image", r.image},
          {"runtime", r.runtime},
          {"runsc_network", r.runsc_network},
          {"subnet", r.subnet.index},
          {"workspace", r.workspace},
          {"workspace_mount", r.workspace_mount},
          {"secrets", r.secrets},
          {"created", r.created},
          {"airgapped", r.airgapped},
          {"spec", r.spec}};
}

Result<CellRecord> record_from_json(const nlohmann::json& j) {
  try {
    CellRecord r;
    r.name = j.at("name");
    r.image = j.at("image");
    r.runtime = j.at("runtime");
    r.runsc_network = j.value("runsc_network", "");
    r.subnet.index = j.at("subnet");
    r.workspace = j.at("workspace");
    r.workspace_mount = j.at("workspace_mount");
    r.secrets = j.value("secrets", std::vector<std::string>{});
    r.created = j.value("created", "");
    r.airgapped = j.value("airgapped", false);
    r.spec = j.value("spec", nlohmann::json::object());
    return r;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, std::string("cell state is damaged: ") + e.what(), "brig system prune --cells");
  }
}

Result<CellRecord> Engine::load_record(const std::string& cell) {
  if (spec::check_secret_name(cell) || cell.find('/') != std::string::npos) {
    return Error(Errc::usage, "invalid cell name " + str::quote(cell), "list cells with: brig cell list --all");
  }
  auto text = fs::read_file(internal::record_path(paths_, cell), 1 << 20);
  if (!text) {
    return Error(Errc::not_found, "no cell named " + str::quote(cell), "list cells with: brig cell list --all");
  }
  try {
    auto rec = record_from_json(nlohmann::json::parse(*text));
    if (!rec) return rec.error().context("cell " + cell).with_fix("brig cell rm " + cell);
    return rec;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, "cell " + cell + ": state file is not JSON: " + e.what(), "brig cell rm " + cell);
  }
}

Result<proc::Output> Engine::podman(std::vector<std::string> args, std::chrono::seconds timeout) {
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

Status Engine::ensure_bridge_ipv6_off(const std::string& network) {
  // Cells and the host must not talk over IPv6 link-local addresses on the cell
  // bridge (the nft tables match the IPv4 pool only).
  // Warden is attached by now, so the bridge exists.
  const std::string what = "cannot switch IPv6 off on the bridge of " + network;
  const std::string look = "podman network inspect " + network;
  auto out = podman({"network", "inspect", "--format", "{{.NetworkInterface}}", network});
  if (!out) return out.error().context(what);
  if (!out->success()) {
    return Error(Errc::failed, what + ": podman network inspect failed: " + std::string(str::trim(out->err)), look);
  }
  std::string iface(str::trim(out->out));
  if (iface.empty() || iface.find('/') != std::string::npos || iface == "." || iface == "..") {
    return Error(Errc::failed, what + ": podman names no bridge interface for it (" + str::quote(iface) + ")", look);
  }
  // A kernel without IPv6 has no IPv6 to switch off.
  if (!fs::exists(proc_sys_ + "/net/ipv6")) return {};
  const std::string path = proc_sys_ + "/net/ipv6/conf/" + iface + "/disable_ipv6";
  if (!fs::exists(path)) return Error(Errc::failed, what + ": bridge " + iface + " does not exist", look);
  if (auto st = write_sysctl(path, "1\n"); !st) {
    return Error(Errc::failed, what + ": " + st.error().message(),
                 "sudo sysctl -w net.ipv6.conf." + iface + ".disable_ipv6=1");
  }
  return {};
}

Status Engine::connect_warden(const CellRecord& rec) {
  auto out = podman(network_connect_args(cell_network(rec.name), kWardenContainer, rec.subnet.warden_ip()));
  if (!out) return out.error();
  if (!out->success() && out->err.find("already") == std::string::npos) {
    return Error(Errc::failed, "connecting warden to " + cell_network(rec.name) + ": " + std::string(str::trim(out->err)),
                 "is warden running? brig system up");
  }
  return {};
}

Status Engine::teardown_network(const std::string& cell) {
  (void)podman({"network", "disconnect", "--force", cell_network(cell), kWardenContainer});
  auto out = podman({"network", "rm", "--force", cell_network(cell)});
  if (!out) return out.error();
  if (!out->success() && !is_gone(out->err)) {
    return Error(Errc::failed, "removing network " + cell_network(cell) + ": " + std::string(str::trim(out->err)),
                 "podman network rm --force " + cell_network(cell));
  }
  return {};
}

Result<int> Engine::run(const spec::Resolved& resolved, const RunOptions& opts) {
  const spec::CellSpec& s = resolved.spec;
  auto cfg = load_host_config(paths_);
  if (!cfg) return cfg.error();
  const std::string runtime = s.runtime.has() ? *s.runtime : "runsc";
  if (runtime == "runsc" && cfg->runsc_network.empty()) {
    return Error(Errc::unavailable,
                 "gVisor's own network stack does not work on this host, and the weaker runsc network=host mode was "
                 "not accepted",
                 "brig system init --accept-weaker-network (cells then use the kernel's stack in their own netns)");
  }
  if (!s.image.has()) return Error(Errc::usage, "no image given", "brig run IMAGE [-- CMD...] or image: in --file");
  const std::string name = s.name.has() ? *s.name : generate_cell_name();

  // --- validate against the host: everything that can be checked before any change ---
  std::vector<std::string> secrets = s.secrets.has() ? *s.secrets : std::vector<std::string>{};
  for (const auto& sec : secrets) {
    if (!fs::exists(paths_.secret(sec))) {
      return Error(Errc::not_found, "secret " + str::quote(sec) + " does not exist",
                   "brig secrets add " + sec + " - < FILE");
    }
  }
  // Three independent podman questions, asked at once (each costs ~30 ms).
  auto ask = [this](std::vector<std::string> a) { return std::async(std::launch::async, [this, a] { return podman(a); }); };
  auto warden_q = ask({"container", "inspect", "--format", "{{.State.Running}}", kWardenContainer});
  auto image_q = ask({"image", "exists", *s.image});
  auto exists_q = ask({"container", "exists", cell_container(name)});
  auto warden = warden_q.get();
  auto img = image_q.get();
  auto c = exists_q.get();
  if (!warden) return warden.error();
  if (!warden->success() || str::trim(warden->out) != "true") {
    return Error(Errc::unavailable, "warden is not running, so a cell would have no way out", "brig system up");
  }
  if (!img || !img->success()) {
    return Error(Errc::not_found, "image " + str::quote(*s.image) + " is not in local storage",
                 "build it (brig image build DIR -t " + *s.image + ") or pull it (brig image pull " + *s.image + ")");
  }
  if (c && c->success()) {
    return Error(Errc::exists, "a cell named " + str::quote(name) + " already exists",
                 "remove it (brig cell rm " + name + ") or pick another name (--name)");
  }

  // --- apply ---
  Rollback rb;
  auto fail = [&](const Error& e) -> Result<int> {
    Rollback::Report r = rb.run();
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& f : r.failed) failed.push_back({{"step", f.step}, {"error", f.error.message()}});
    event("rollback", name, {{"error", e.message()}, {"undone", r.undone}, {"undo_failed", failed}});
    return with_rollback(e, r);
  };
  const std::string state = paths_.cell_state(name);
  BRIG_TRY(fs::make_dirs(paths_.state_dir(), 0755));
  if (::mkdir(state.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return Error(Errc::exists, "a cell named " + str::quote(name) + " already exists (state in " + state + ")",
                   "remove it (brig cell rm " + name + ") or pick another name (--name)");
    }
    return errno_error("creating " + state, errno);
  }
  rb.add("state", [state]() -> Status {
    std::error_code ec;
    stdfs::remove_all(state, ec);
    if (ec) return Error(Errc::io, "removing " + state + ": " + ec.message(), "rm -rf " + state);
    return {};
  });

  auto subnet = allocate_subnet(paths_, name);
  if (!subnet) return fail(subnet.error());
  rb.add("subnet", [this, name]() -> Status {
    auto st = release_subnet(paths_, name);
    if (!st) return st.error().with_fix("brig system prune --subnets");
    return {};
  });

  CellRecord rec;
  rec.name = name;
  rec.image = *s.image;
  rec.runtime = runtime;
  rec.runsc_network = runtime == "runsc" ? cfg->runsc_network : "";
  rec.subnet = *subnet;
  rec.workspace = s.workspace.has() ? *s.workspace : paths_.workspace(name);
  rec.workspace_mount = s.workspace_mount.has() ? *s.workspace_mount : "/work";
  rec.secrets = secrets;
  rec.created = internal::now_rfc3339();
  rec.airgapped = resolved.airgapped;
  rec.spec = spec::to_json(s);
  rec.spec["name"] = name;

  // The network (podman, ~200 ms) and the files (each an fsync'ed atomic
  // write) do not depend on each other: both are built at once, then joined.
  // Each side's undo is registered before anything can fail past the join.
  std::atomic<bool> net_created{false};
  auto net = std::async(std::launch::async, [&]() -> Status { return make_network(rec, net_created); });
  const bool trust_ca = !resolved.airgapped && (!s.trust_warden_ca.has() || *s.trust_warden_ca);
  auto seccomp = stage_files(resolved, rec, trust_ca, rb);
  Status net_st = net.get();
  if (net_created) rb.add("network", [this, name] { return teardown_network(name); });
  if (!net_st) return fail(net_st.error());
  if (!seccomp) return fail(seccomp.error());

  CellPlan plan;
  plan.name = name;
  plan.image = rec.image;
  if (s.command.has()) plan.command = *s.command;
  plan.runtime = runtime;
  plan.runsc_network = rec.runsc_network;
  plan.subnet = rec.subnet;
  plan.memory = s.memory.has() ? *s.memory : "";
  plan.cpus = s.cpus.has() ? *s.cpus : "";
  plan.pids_limit = s.pids_limit.has() ? *s.pids_limit : 1024;
  plan.read_only_rootfs = !(s.writable_rootfs.has() && *s.writable_rootfs);
  plan.seccomp_profile = *seccomp;
  plan.ulimits = cfg->ulimits;
  if (s.timeout.has()) {
    if (auto secs = spec::parse_duration(*s.timeout)) plan.timeout_seconds = static_cast<int>(*secs);
  }
  plan.workdir = rec.workspace_mount;
  plan.mounts.push_back({rec.workspace, rec.workspace_mount, false});
  plan.mounts.push_back({state + "/brig", "/run/brig", true});
  for (const auto& sec : secrets) plan.mounts.push_back({paths_.secret(sec), "/run/secrets/" + sec, true});
  plan.env = internal::cell_env(s, rec, trust_ca);
  plan.labels = {{kCellLabel, name}, {"brig.version", BRIG_VERSION}};
  if (s.labels.has()) {
    for (const auto& [k, v] : *s.labels) plan.labels["user." + k] = v;
  }

  if (auto st = injected_failure("create"); !st) return fail(st.error());
  auto created = podman(cell_create_args(plan));
  if (!created) return fail(created.error());
  if (!created->success()) {
    return fail(Error(Errc::failed, "podman could not create the cell: " + std::string(str::trim(created->err)),
                      "check the image and limits with: brig cell preflight, or brig run --dry-run"));
  }
  rb.add("container", [this, name]() -> Status {
    const std::string fix = "podman rm --force " + cell_container(name);
    auto out = podman({"rm", "--force", cell_container(name)});
    if (!out) return out.error().with_fix(fix);
    if (!out->success() && !is_gone(out->err)) {
      return Error(Errc::failed, "removing container " + cell_container(name) + ": " + std::string(str::trim(out->err)),
                   fix);
    }
    return {};
  });
  if (auto st = injected_failure("start"); !st) return fail(st.error());

  auto rc = start_cell(rec, opts);
  if (!rc) return fail(rc.error());
  rb.commit();
  event("create", name, {{"image", rec.image}, {"subnet", rec.subnet.cidr()}, {"runtime", runtime}});
  if (!opts.detach && opts.rm) {
    if (auto kept = remove(name, opts.keep_workspace); !kept) return kept.error();
  }
  return rc;
}

Status Engine::make_network(const CellRecord& rec, std::atomic<bool>& created) {
  const std::string& name = rec.name;
  auto out = podman(network_create_args(name, rec.subnet));
  if (!out) return out.error();
  if (!out->success()) {
    return Error(Errc::failed, "creating network " + cell_network(name) + ": " + std::string(str::trim(out->err)));
  }
  created = true;
  BRIG_TRY(injected_failure("network"));
  BRIG_TRY(connect_warden(rec));
  BRIG_TRY(injected_failure("connect"));
  BRIG_TRY(ensure_bridge_ipv6_off(cell_network(name)));
  return {};
}

Result<std::string> Engine::stage_files(const spec::Resolved& resolved, const CellRecord& rec, bool trust_ca,
                                        Rollback& rb) {
  const spec::CellSpec& s = resolved.spec;
  const std::string& name = rec.name;
  // Per-cell policy: warden reloads it within a second.
  nlohmann::json policy = s.policy.has() ? spec::to_json(*s.policy) : nlohmann::json::object();
  if (resolved.airgapped) policy["airgapped"] = true;
  const std::string policy_file = paths_.cell_policy(name);
  BRIG_TRY(fs::make_dirs(paths_.policy_dir() + "/cells", 0755));
  BRIG_TRY(fs::write_atomic(policy_file, internal::dump(policy, 2) + "\n", 0644));
  rb.add("policy", [policy_file]() -> Status {
    if (::unlink(policy_file.c_str()) != 0 && errno != ENOENT) {
      return errno_error("removing " + policy_file, errno).with_fix("rm -f " + policy_file);
    }
    return {};
  });

  // What the cell sees of brig: /run/brig (cell.json, CA bundle); all inside
  // state/<cell>, which the "state" step removes.
  const std::string brig_dir = paths_.cell_state(name) + "/brig";
  BRIG_TRY(fs::make_dirs(brig_dir, 0755));
  BRIG_TRY(internal::write_cell_json(paths_, rec));
  if (trust_ca) BRIG_TRY(internal::write_ca_bundle(paths_, name));
  if (!s.workspace.has()) {
    BRIG_TRY(fs::make_dirs(rec.workspace, 0755));
  } else if (!fs::exists(rec.workspace)) {
    return Error(Errc::not_found, "workspace " + rec.workspace + " does not exist", "mkdir -p " + rec.workspace);
  }
  BRIG_TRY(fs::write_atomic(internal::record_path(paths_, name), internal::dump(to_json(rec), 2) + "\n", 0600));
  return internal::write_seccomp_profile(paths_);
}

Result<int> Engine::start_cell(const CellRecord& rec, const RunOptions& opts) {
  event("start", rec.name);
  if (!opts.detach) {
    proc::Command c;
    c.argv = cell_start_args(rec.name, rec.runtime, rec.runsc_network, true);
    auto rc = on_terminal(c);
    if (!rc) return rc.error();
    event("stop", rec.name, {{"exit_code", *rc}});
    return rc;
  }
  auto out = podman(cell_start_args(rec.name, rec.runtime, rec.runsc_network, false));
  if (!out) return out.error();
  if (!out->success()) {
    std::string why = internal::diagnose(out->err, 127, rec);
    return Error(Errc::failed, "podman could not start the cell: " + std::string(str::trim(out->err)),
                 why.empty() ? "brig cell preflight, or run it attached to see its output"
                             : std::string(str::trim(why.substr(why.find(':') + 1))));
  }
  // A cell that dies within ~1.5 s of a detached start usually has a reason
  // worth printing now rather than leaving the user to find it.
  for (int i = 0; i < 15; ++i) {
    clock_.sleep_for(std::chrono::milliseconds(100));
    auto st = status(rec.name);
    if (!st) break;
    if (st->state == "running") continue;
    auto logs_text = logs(rec.name, 20);
    std::string text = logs_text ? *logs_text : std::string();
    std::fprintf(stderr, "cell %s exited within 1.5 s (exit code %d); its last output:\n%s", rec.name.c_str(),
                 st->exit_code, text.c_str());
    std::fprintf(stderr, "%s", internal::diagnose(text, st->exit_code, rec).c_str());
    return st->exit_code == 0 ? 0 : st->exit_code;
  }
  std::printf("%s\n", rec.name.c_str());
  return 0;
}

Result<std::vector<CellStatus>> Engine::list(bool all) {
  auto out = podman(cell_ps_args(true));
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "podman ps failed: " + std::string(str::trim(out->err)));
  std::map<std::string, nlohmann::json> containers;
  try {
    auto j = nlohmann::json::parse(out->out.empty() ? "[]" : out->out);
    for (const auto& c : j) {
      std::string n = c.contains("Names") && !c["Names"].empty() ? c["Names"][0].get<std::string>() : "";
      if (!is_cell_container_name(n)) continue;
      containers[n.substr(5)] = c;
    }
  } catch (const std::exception& e) {
    return Error(Errc::failed, std::string("podman ps printed something that is not JSON: ") + e.what());
  }
  std::vector<CellStatus> cells;
  for (const auto& name : internal::cell_names(paths_)) {
    auto rec = load_record(name);
    if (!rec) {
      CellStatus st;
      st.record.name = name;
      st.state = "damaged";
      st.reason = rec.error().message();
      cells.push_back(std::move(st));
      continue;
    }
    CellStatus st;
    st.record = std::move(*rec);
    auto it = containers.find(name);
    if (it == containers.end()) {
      st.state = "missing";
    } else {
      st.state = json_string(it->second, "State");
      st.exit_code = it->second.value("ExitCode", 0);
      if (it->second.contains("StartedAt") && it->second["StartedAt"].is_number()) {
        st.started_at = std::to_string(it->second["StartedAt"].get<long long>());
      }
    }
    if (all || st.state == "running") cells.push_back(std::move(st));
  }
  return cells;
}

Result<std::vector<std::string>> Engine::secret_users(const std::string& name) {
  auto cells = list(false);
  if (!cells) {
    return Error(cells.error().code(), "cannot tell which running cells use secret " + name + ": " + cells.error().message(),
                 "brig secrets rm " + name + " --force (if no running cell mounts it)");
  }
  std::vector<std::string> users;
  for (const auto& c : *cells) {
    if (c.state == "damaged") {
      return Error(Errc::failed, "cannot tell whether cell " + c.record.name + " uses secret " + name + ": " + c.reason,
                   "brig cell rm " + c.record.name + ", or brig secrets rm " + name + " --force");
    }
    for (const auto& s : c.record.secrets) {
      if (s == name) users.push_back(c.record.name);
    }
  }
  return users;
}

Result<CellStatus> Engine::status(const std::string& cell) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  CellStatus st;
  st.record = std::move(*rec);
  auto out = podman({"container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", cell_container(cell)});
  if (!out) return out.error();
  if (!out->success()) {
    st.state = "missing";
    return st;
  }
  auto parts = str::split(std::string(str::trim(out->out)), ' ');
  st.state = parts.empty() ? "unknown" : parts[0];
  if (parts.size() > 1) st.exit_code = std::atoi(parts[1].c_str());
  return st;
}

Result<nlohmann::json> Engine::inspect(const std::string& cell) {
  auto st = status(cell);
  if (!st) return st.error();
  const CellRecord& r = st->record;
  nlohmann::json mounts = nlohmann::json::array();
  mounts.push_back({{"source", r.workspace}, {"target", r.workspace_mount}, {"mode", "rw"}});
  mounts.push_back({{"source", paths_.cell_state(cell) + "/brig"}, {"target", "/run/brig"}, {"mode", "ro"}});
  for (const auto& s : r.secrets) mounts.push_back({{"source", paths_.secret(s)}, {"target", "/run/secrets/" + s}, {"mode", "ro"}});
  return nlohmann::json{{"name", r.name},
                        {"state", st->state},
                        {"exit_code", st->exit_code},
                        {"image", r.image},
                        {"runtime", r.runtime},
                        {"network_mode", r.runtime == "runsc" ? "runsc/" + r.runsc_network : r.runtime},
                        {"network", cell_network(r.name)},
                        {"subnet", r.subnet.cidr()},
                        {"address", r.subnet.cell_ip()},
                        {"warden", r.subnet.warden_ip() + ":" + std::to_string(kProxyPort)},
                        {"created", r.created},
                        {"mounts", mounts},
                        {"secrets", r.secrets},
                        {"airgapped", r.airgapped},
                        {"spec", r.spec}};
}

Status Engine::stop(const std::string& cell, int timeout_seconds) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  auto out = podman({"stop", "--time", std::to_string(timeout_seconds), cell_container(cell)});
  if (!out) return out.error();
  if (!out->success() && out->err.find("no such container") == std::string::npos) {
    return Error(Errc::failed, "stopping " + cell + ": " + std::string(str::trim(out->err)));
  }
  event("stop", cell);
  return {};
}

Status Engine::kill(const std::string& cell, const std::string& signal) {
  BRIG_TRY(load_record(cell));
  auto out = podman({"kill", "--signal", signal, cell_container(cell)});
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "killing " + cell + ": " + std::string(str::trim(out->err)));
  event("kill", cell, {{"signal", signal}});
  return {};
}

Status Engine::start(const std::string& cell) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  // The network and warden's attachment may be gone after `system down`.
  if (auto n = podman({"network", "exists", cell_network(cell)}); !n || !n->success()) {
    auto out = podman(network_create_args(cell, rec->subnet));
    if (!out || !out->success()) return Error(Errc::failed, "recreating network " + cell_network(cell));
  }
  BRIG_TRY(connect_warden(*rec));
  BRIG_TRY(ensure_bridge_ipv6_off(cell_network(cell)));
  BRIG_TRY(fs::make_dirs(paths_.cell_state(cell) + "/brig", 0755));
  BRIG_TRY(internal::write_cell_json(paths_, *rec));
  if (internal::trusts_warden_ca(*rec)) BRIG_TRY(internal::write_ca_bundle(paths_, cell));
  auto rc = start_cell(*rec, RunOptions{true, false, false});
  if (!rc) return rc.error();
  if (*rc != 0) return Error(Errc::failed, "cell " + cell + " exited right after starting", "brig cell logs " + cell);
  return {};
}

Result<std::string> Engine::remove(const std::string& cell, bool keep_workspace) {
  auto rec = load_record(cell);
  if (!rec && rec.error().code() == Errc::invalid) {
    // A damaged record: everything of a cell is found by its name but a
    // --workspace of the user's own, which then stays where it is.
    CellRecord by_name;
    by_name.name = cell;
    by_name.workspace = paths_.workspace(cell);
    rec = std::move(by_name);
  }
  if (!rec) return rec.error();
  auto out = podman({"rm", "--force", "--time", "0", cell_container(cell)});
  if (!out) return out.error();
  BRIG_TRY(teardown_network(cell));
  BRIG_TRY(release_subnet(paths_, cell));
  ::unlink(paths_.cell_policy(cell).c_str());
  const std::string state = paths_.cell_state(cell);
  std::string kept;
  std::error_code ec;
  if (keep_workspace && rec->workspace == paths_.workspace(cell) && fs::exists(rec->workspace)) {
    // A kept workspace leaves the cell's state, so the name is free again and
    // prune never mistakes it for debris.
    BRIG_TRY(fs::make_dirs(paths_.home() + "/workspaces", 0755));
    kept = paths_.home() + "/workspaces/" + cell;
    if (fs::exists(kept)) kept += "-" + internal::now_rfc3339();
    if (::rename(rec->workspace.c_str(), kept.c_str()) != 0) return errno_error("keeping the workspace in " + kept, errno);
  }
  stdfs::remove_all(state, ec);  // a user's own --workspace directory lives elsewhere and stays
  if (ec) return Error(Errc::io, "removing " + state + ": " + ec.message());
  event("rm", cell, {{"kept_workspace", kept}});
  return kept;
}

Result<int> Engine::wait(const std::string& cell) {
  BRIG_TRY(load_record(cell));
  auto out = podman({"wait", cell_container(cell)}, std::chrono::hours(24 * 365));
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "waiting for " + cell + ": " + std::string(str::trim(out->err)));
  return std::atoi(std::string(str::trim(out->out)).c_str());
}

Result<std::string> Engine::logs(const std::string& cell, int tail) {
  std::vector<std::string> a = {"logs"};
  if (tail > 0) a.insert(a.end(), {"--tail", std::to_string(tail)});
  a.push_back(cell_container(cell));
  auto out = podman(a);
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "reading logs of " + cell + ": " + std::string(str::trim(out->err)));
  return out->out + out->err;
}

Result<int> Engine::attach_podman(const std::vector<std::string>& args) {
  proc::Command c;
  c.argv = {"podman"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  return on_terminal(c);
}

Result<int> Engine::on_terminal(proc::Command c) {
  c.inherit_stdio = true;
  auto out = runner_.run(c);
  if (!out) return out.error();
  return out->exit_code;
}

std::vector<Check> Engine::preflight(const spec::Resolved& resolved) {
  std::vector<Check> checks;
  const auto& s = resolved.spec;
  checks.push_back({Check::Level::ok, "spec", "valid (profile " + (s.profile.has() ? *s.profile : "supervised") + ")", ""});
  for (const auto& sec : s.secrets.has() ? *s.secrets : std::vector<std::string>{}) {
    if (fs::exists(paths_.secret(sec))) {
      checks.push_back({Check::Level::ok, "secret " + sec, "present", ""});
    } else {
      checks.push_back({Check::Level::fail, "secret " + sec, "missing", "brig secrets add " + sec + " - < FILE"});
    }
  }
  auto cfg = load_host_config(paths_);
  const std::string runtime = s.runtime.has() ? *s.runtime : "runsc";
  if (!cfg) {
    checks.push_back({Check::Level::fail, "host", cfg.error().message(), cfg.error().fix()});
  } else if (runtime == "runsc" && (cfg->runsc.empty() || cfg->runsc_network.empty())) {
    checks.push_back({Check::Level::fail, "runsc",
                      cfg->runsc.empty() ? "not installed" : "its network stack does not work here and host mode was not accepted",
                      cfg->runsc.empty() ? "sudo apt-get install runsc" : "brig system init --accept-weaker-network"});
  } else {
    checks.push_back({Check::Level::ok, "runtime", runtime + (runtime == "runsc" ? " (network " + cfg->runsc_network + ")" : ""), ""});
  }
  if (s.image.has()) {
    auto img = podman({"image", "exists", *s.image});
    checks.push_back(img && img->success()
                         ? Check{Check::Level::ok, "image", *s.image, ""}
                         : Check{Check::Level::fail, "image", *s.image + " is not in local storage", "brig image pull " + *s.image});
  }
  auto w = podman({"container", "inspect", "--format", "{{.State.Running}}", kWardenContainer});
  checks.push_back(w && w->success() && str::trim(w->out) == "true"
                       ? Check{Check::Level::ok, "warden", "running", ""}
                       : Check{Check::Level::fail, "warden", "not running", "brig system up"});
  return checks;
}

}  // namespace brig::engine
