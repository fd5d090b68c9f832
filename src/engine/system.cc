// brig on this host: init, up (warden image + container, nftables), down,
// doctor, verify, prune, lifecycle events.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/engine.h"
#include "brig/engine/nft.h"
#include "brig/engine/subnets.h"
#include "brig/state/cell_logs.h"
#include "brig/state/events.h"
#include "brig/state/warden_runtime.h"
#include "internal.h"

namespace brig::engine {
namespace {

namespace stdfs = std::filesystem;

constexpr uid_t kWardenUid = 65534;

std::string warden_image_name() { return std::string("localhost/brig-warden:") + BRIG_VERSION; }

std::string trimmed(const std::string& s) { return std::string(str::trim(s)); }

// Shared libraries `ldd` names for `binary` ("/lib/x.so" paths only).
std::vector<std::string> parse_ldd(const std::string& text) {
  std::vector<std::string> libs;
  for (const auto& line : str::split(text, '\n')) {
    for (const auto& tok : str::split(std::string(str::trim(line)), ' ')) {
      if (!tok.empty() && tok[0] == '/') {
        libs.push_back(tok);
        break;
      }
    }
  }
  return libs;
}

}  // namespace

void Engine::event(const std::string& kind, const std::string& cell, const nlohmann::json& extra) {
  state::Event e{internal::now_rfc3339(), kind, cell, extra.is_object() ? extra : nlohmann::json::object()};
  // The history is a record of what happened, not part of it: a lifecycle
  // action that succeeded must not fail (or be rolled back) because its event
  // could not be written, so a write error is a warning, never an error.
  if (auto st = state::append_event(paths_, e); !st) {
    spdlog::warn("cannot record the {} event in brig's history: {}", kind, st.error().message());
  }
}

Result<HostConfig> Engine::init(bool accept_weaker_network) {
  BRIG_TRY(make_layout(paths_));
  auto cfg = probe_host(runner_, accept_weaker_network);
  if (!cfg) return cfg.error();
  if (auto old = load_host_config(paths_)) {
    // Keep the user's settings across re-inits.
    cfg->ops_port = old->ops_port;
    cfg->warden_threads = old->warden_threads;
    if (cfg->runsc_network.empty() && old->runsc_network == "host") cfg->runsc_network = "host";
  }
  BRIG_TRY(save_host_config(paths_, *cfg));
  return cfg;
}

Status Engine::ensure_warden_image(const std::string& binary, std::string& image) {
  image = warden_image_name();
  auto sum = runner_.run({{"sha256sum", binary}, std::nullopt, "", "", std::chrono::seconds(60)});
  if (!sum || !sum->success()) return Error(Errc::failed, "cannot checksum " + binary);
  const std::string digest = str::split(trimmed(sum->out), ' ').front();
  auto have = podman({"image", "inspect", "--format", "{{index .Labels \"brig.binary\"}}", image});
  if (have && have->success() && trimmed(have->out) == digest) return {};

  // A minimal root: the brig binary, the shared libraries it loads, CA roots.
  const std::string stage = paths_.run_dir() + "/warden-image";
  std::error_code ec;
  stdfs::remove_all(stage, ec);
  BRIG_TRY(fs::make_dirs(stage + "/usr/local/bin", 0755));
  auto ldd = runner_.run({{"ldd", binary}, std::nullopt, "", "", std::chrono::seconds(30)});
  if (!ldd || !ldd->success()) return Error(Errc::failed, "ldd " + binary + " failed");
  stdfs::copy_file(binary, stage + "/usr/local/bin/brig", stdfs::copy_options::overwrite_existing, ec);
  if (ec) return Error(Errc::io, "copying " + binary + ": " + ec.message());
  std::vector<std::string> files = parse_ldd(ldd->out);
  files.push_back("/etc/ssl/certs/ca-certificates.crt");
  for (const auto& f : files) {
    const std::string dst = stage + f;
    BRIG_TRY(fs::make_dirs(stdfs::path(dst).parent_path().string(), 0755));
    stdfs::copy_file(stdfs::canonical(f, ec), dst, stdfs::copy_options::overwrite_existing, ec);
    if (ec) return Error(Errc::io, "copying " + f + " into the warden image: " + ec.message());
  }
  for (const char* d : {"/tmp", "/brig/policy", "/brig/state/system", "/brig/ca", "/brig/logs/cells", "/brig/run"}) {
    BRIG_TRY(fs::make_dirs(stage + d, 0755));
  }
  ::chmod((stage + "/tmp").c_str(), 01777);
  ::chmod((stage + "/brig/run").c_str(), 01777);  // the tmpfs there copies this mode up
  BRIG_TRY(fs::write_atomic(stage + "/etc/passwd", "root:x:0:0::/:/nonexistent\nnobody:x:65534:65534::/:/nonexistent\n"));
  BRIG_TRY(fs::write_atomic(stage + "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
  const std::string tar = stage + ".tar";
  auto t = runner_.run({{"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", stage, "-cf", tar, "."},
                        std::nullopt, "", "", std::chrono::seconds(120)});
  stdfs::remove_all(stage, ec);
  if (!t || !t->success()) return Error(Errc::failed, "packing the warden image failed");
  auto imp = podman({"import", "--change", "ENTRYPOINT [\"/usr/local/bin/brig\"]", "--change", "USER 65534:65534",
                     "--change", "LABEL brig.binary=" + digest, "--change", "LABEL brig.role=warden", tar, image},
                    std::chrono::seconds(300));
  ::unlink(tar.c_str());
  if (!imp) return imp.error();
  if (!imp->success()) return Error(Errc::failed, "building " + image + ": " + trimmed(imp->err));
  event("warden_image", "", {{"image", image}, {"binary", digest}});
  return {};
}

Status Engine::wait_healthy(std::chrono::milliseconds timeout) {
  auto cfg = load_host_config(paths_);
  const int port = cfg ? cfg->ops_port : 9464;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto out = runner_.run({{"curl", "-sf", "--max-time", "1", "http://127.0.0.1:" + std::to_string(port) + "/healthz"},
                            std::nullopt, "", "", std::chrono::seconds(3)});
    if (out && out->success()) return {};
    last = out ? trimmed(out->err) : out.error().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto logs = podman({"logs", "--tail", "5", kWardenContainer});
  return Error(Errc::timeout,
               "warden did not become healthy on 127.0.0.1:" + std::to_string(port) + " (" + last + ")" +
                   (logs && !logs->err.empty() ? "; its log: " + trimmed(logs->err) : ""),
               "brig system doctor; podman logs brig-warden");
}

Status Engine::write_runtime_file() {
  auto cfg = load_host_config(paths_);
  if (!cfg) return cfg.error();
  auto pid = podman({"container", "inspect", "--format", "{{.State.Pid}}", kWardenContainer});
  state::WardenRuntime info;
  info.proxy = std::string(kWardenExternalIp) + ":" + std::to_string(kProxyPort);
  info.ops = "127.0.0.1:" + std::to_string(cfg->ops_port);
  info.pid = pid && pid->success() ? std::atol(trimmed(pid->out).c_str()) : 0;
  info.container = kWardenContainer;
  return state::store_warden_runtime(paths_, info);
}

Status Engine::up(const std::string& brig_binary, const std::vector<std::string>& warden_files) {
  auto cfg = load_host_config(paths_);
  if (!cfg) return cfg.error();
  BRIG_TRY(make_layout(paths_));
  for (const auto& f : warden_files) {
    if (!fs::exists(f)) return Error(Errc::not_found, "warden.yaml names " + f + ", which does not exist", "fix " + paths_.warden_yaml());
  }
  if (!fs::exists(paths_.ca_cert())) return Error(Errc::not_found, "brig's CA is missing", "brig system init");
  std::string image;
  BRIG_TRY(ensure_warden_image(brig_binary, image));

  // Warden's copy of the CA and its log directory belong to its uid.
  const std::string ca = paths_.run_dir() + "/warden-ca";
  BRIG_TRY(fs::make_dirs(ca, 0700));
  for (const char* f : {"/ca.crt", "/ca.key"}) {
    auto text = fs::read_file(paths_.ca_dir() + f, 1 << 20);
    if (!text) return text.error();
    BRIG_TRY(fs::write_atomic(ca + f, *text, std::string(f) == "/ca.key" ? 0400 : 0444));
    if (::chown((ca + f).c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + ca + f, errno);
  }
  if (::chown(ca.c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + ca, errno);
  if (::chown((paths_.logs_dir() + "/cells").c_str(), kWardenUid, kWardenUid) != 0) {
    return errno_error("chown " + paths_.logs_dir() + "/cells", errno);
  }

  if (auto n = podman({"network", "exists", kExternalNetwork}); !n || !n->success()) {
    auto out = podman(external_network_create_args());
    if (!out || !out->success()) {
      return Error(Errc::failed, "creating network brig-ext: " + (out ? trimmed(out->err) : out.error().message()));
    }
  }
  // Warden reads warden.yaml at start: a changed file means a new container.
  auto yaml = fs::read_file(paths_.warden_yaml(), 1 << 20);
  const std::string config_id =
      std::to_string(std::hash<std::string>{}((yaml ? *yaml : std::string()) + paths_.home() + std::to_string(cfg->ops_port) +
                                              std::to_string(cfg->warden_threads)));
  auto running = podman({"container", "inspect", "--format",
                         "{{.State.Running}} {{.ImageName}} {{index .Config.Labels \"brig.config\"}}", kWardenContainer});
  const bool ok = running && running->success() && trimmed(running->out) == "true " + image + " " + config_id;
  if (!ok) {
    (void)podman({"rm", "--force", "--time", "5", kWardenContainer});
    WardenPlan plan;
    plan.image = image;
    plan.home = paths_.home();
    plan.ops_port = cfg->ops_port;
    plan.threads = cfg->warden_threads;
    plan.ulimits = cfg->ulimits;
    plan.config_id = config_id;
    // Files warden.yaml names must exist inside the container at the same path.
    plan.extra_ro_files = warden_files;
    auto out = podman(warden_run_args(plan));
    if (!out) return out.error();
    if (!out->success()) return Error(Errc::failed, "starting warden: " + trimmed(out->err), "podman logs brig-warden");
    event("warden_start", "", {{"image", image}});
  }
  // After a restart warden has lost its cell networks: attach it again.
  for (const auto& name : internal::cell_names(paths_)) {
    auto rec = load_record(name);
    if (!rec) continue;
    if (auto n = podman({"network", "exists", cell_network(name)}); n && n->success()) (void)connect_warden(*rec);
  }
  BRIG_TRY(wait_healthy(std::chrono::seconds(15)));
  BRIG_TRY(write_runtime_file());
  BRIG_TRY(nft::install(runner_));
  return {};
}

Status Engine::down() {
  for (const auto& name : internal::cell_names(paths_)) {
    auto st = status(name);
    if (st && st->state == "running") BRIG_TRY(stop(name));
  }
  auto out = podman({"rm", "--force", "--time", "10", kWardenContainer});
  if (!out) return out.error();
  state::remove_warden_runtime(paths_);
  event("warden_stop", "");
  return nft::remove(runner_);
}

std::vector<Check> Engine::doctor(bool quick) {
  using L = Check::Level;
  std::vector<Check> c;
  c.push_back({L::warn, "boundary", "native mode: cells run on this host's kernel under gVisor; no VM (hardware) boundary",
               "for a hardware boundary run brig inside a VM"});
  auto cfg = load_host_config(paths_);
  if (!cfg) {
    c.push_back({L::fail, "config", cfg.error().message(), "brig system init"});
  } else {
    c.push_back({L::ok, "config", paths_.config_json(), ""});
  }
  c.push_back(proc::find_executable("podman") ? Check{L::ok, "podman", *proc::find_executable("podman"), ""}
                                              : Check{L::fail, "podman", "not installed", "sudo apt-get install podman"});
  if (!proc::find_executable("runsc")) {
    c.push_back({L::fail, "runsc", "not installed", "sudo apt-get install runsc"});
  } else if (cfg) {
    if (cfg->runsc_network == "sandbox") {
      c.push_back({L::ok, "runsc", cfg->runsc_version + ", gVisor netstack", ""});
    } else if (cfg->runsc_network == "host") {
      c.push_back({L::warn, "runsc", cfg->runsc_version + ", network=host (weaker: the netstack of the cell's netns is the kernel's)",
                   "upgrade runsc; then brig system init"});
    } else {
      c.push_back({L::fail, "runsc", "gVisor's netstack does not work here and network=host was not accepted",
                   "brig system init --accept-weaker-network"});
    }
    if (!cfg->cap_sys_resource) {
      c.push_back({L::warn, "rlimits", "no CAP_SYS_RESOURCE: brig passes --ulimit " + str::join(cfg->ulimits, " "), ""});
    }
  }
  c.push_back(fs::exists(paths_.ca_cert()) ? Check{L::ok, "ca", paths_.ca_cert(), ""}
                                           : Check{L::fail, "ca", "missing", "brig system init"});
  auto map = read_subnet_map(paths_);
  if (!map) c.push_back({L::fail, "subnets", map.error().message(), map.error().fix()});
  if (quick) return c;

  auto w = podman({"container", "inspect", "--format", "{{.State.Running}}", kWardenContainer});
  const bool warden_up = w && w->success() && trimmed(w->out) == "true";
  if (!warden_up) {
    c.push_back({L::fail, "warden", "not running", "brig system up"});
  } else if (auto h = wait_healthy(std::chrono::milliseconds(1500)); !h) {
    c.push_back({L::fail, "warden", "running but unhealthy: " + h.error().message(), "brig system restart"});
  } else {
    c.push_back({L::ok, "warden", "running and healthy", ""});
  }
  auto missing = nft::check(runner_);
  if (!missing) {
    c.push_back({L::fail, "nftables", missing.error().message(), "brig system up"});
  } else if (!missing->empty()) {
    c.push_back({L::fail, "nftables", (*missing)[0], "brig system up"});
  } else {
    c.push_back({L::ok, "nftables", "tables bridge brig and inet brig intact", ""});
  }
  auto ca = fs::read_file(paths_.ca_cert(), 1 << 20);
  for (const auto& name : internal::cell_names(paths_)) {
    auto rec = load_record(name);
    if (!rec) {
      c.push_back({L::warn, "cell " + name, rec.error().message(), "brig cell rm " + name});
      continue;
    }
    if (map && (!map->count(rec->subnet.cidr()) || map->at(rec->subnet.cidr()) != name)) {
      c.push_back({L::fail, "cell " + name, "subnet " + rec->subnet.cidr() + " is not mapped to it (warden denies it)",
                   "brig cell rm " + name + " and run it again"});
    }
    auto n = podman({"network", "exists", cell_network(name)});
    if (!n || !n->success()) {
      c.push_back({L::warn, "cell " + name, "network " + cell_network(name) + " is missing", "brig cell start " + name});
    }
    auto bundle = fs::read_file(paths_.cell_state(name) + "/brig/ca-bundle.crt", 16 << 20);
    if (bundle && ca && bundle->find(*ca) == std::string::npos) {
      c.push_back({L::warn, "cell " + name, "CA bundle is stale (the CA changed)", "brig cell restart " + name});
    }
  }
  if (map) {
    for (const auto& [cidr, owner] : *map) {
      if (!fs::exists(internal::record_path(paths_, owner))) {
        c.push_back({L::warn, "subnets", cidr + " is held by " + owner + ", which no longer exists", "brig system prune --subnets"});
      }
    }
  }
  return c;
}

Result<std::vector<std::string>> Engine::verify() {
  std::vector<std::string> v;
  auto cells = list(true);
  if (!cells) return cells.error();
  for (const auto& cs : *cells) {
    const auto& name = cs.record.name;
    if (cs.state == "missing") continue;
    auto out = podman({"container", "inspect", cell_container(name)});
    if (!out || !out->success()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(out->out).at(0);
    } catch (...) {
      v.push_back("cell " + name + ": podman inspect is unreadable");
      continue;
    }
    // 3: gVisor unless the spec named another runtime.
    const std::string runtime = j.value("OCIRuntime", "");
    const std::string declared = cs.record.spec.value("runtime", "runsc");
    if (runtime != "runsc" && runtime != declared) {
      v.push_back("cell " + name + ": runs under " + runtime + ", not runsc (invariant 3)");
    }
    // 5: single-homed, on its own network.
    auto nets = j["NetworkSettings"].value("Networks", nlohmann::json::object());
    if (nets.size() != 1 || !nets.contains(cell_network(name))) {
      v.push_back("cell " + name + ": attached to " + std::to_string(nets.size()) + " networks (invariant 5)");
    }
    // 4: no secret value in the environment.
    for (const auto& e : j["Config"].value("Env", std::vector<std::string>{})) {
      for (const auto& sec : cs.record.secrets) {
        auto val = fs::read_file(paths_.secret(sec), 1 << 20);
        std::string value = val ? std::string(str::trim(*val)) : std::string();
        if (value.size() >= 4 && e.find(value) != std::string::npos) {
          v.push_back("cell " + name + ": secret " + sec + " appears in the environment (invariant 4)");
        }
      }
    }
    // 1, 5: nothing but the cell and warden on the cell's network.
    auto members = podman({"ps", "--all", "--filter", "network=" + cell_network(name), "--format", "{{.Names}}"});
    if (members && members->success()) {
      for (const auto& m : str::split(trimmed(members->out), '\n')) {
        if (!m.empty() && m != cell_container(name) && m != kWardenContainer) {
          v.push_back("network " + cell_network(name) + ": foreign container " + m + " attached (invariants 1, 5)");
        }
      }
    }
  }
  // 1, 2: the nftables tables.
  auto missing = nft::check(runner_);
  if (!missing) return missing.error();
  for (const auto& m : *missing) v.push_back("nftables: " + m + " (invariants 1, 2)");
  // 8 (and 2): warden up, so every cell's egress has its one way out.
  auto w = podman({"container", "inspect", "--format", "{{.State.Running}}", kWardenContainer});
  if (!w || !w->success() || trimmed(w->out) != "true") v.push_back("warden is not running");
  return v;
}

Result<std::vector<std::string>> Engine::prune(const PruneOptions& o) {
  const bool everything = !o.cells && !o.logs && !o.subnets;
  std::vector<std::string> done;
  auto cells = list(true);
  if (!cells) return cells.error();
  if (everything || o.cells) {
    for (const auto& c : *cells) {
      if (c.state == "running") continue;
      done.push_back("cell " + c.record.name + " (" + c.state + ")");
      if (!o.dry_run) BRIG_TRY(remove(c.record.name, false));
    }
    // State directories without a record (a crash mid-run).
    for (const auto& n : fs::list_names(paths_.state_dir(), "")) {
      if (n == "system" || fs::exists(internal::record_path(paths_, n))) continue;
      done.push_back("orphan state " + paths_.cell_state(n));
      std::error_code ec;
      if (!o.dry_run) std::filesystem::remove_all(paths_.cell_state(n), ec);
    }
    // Networks named like a cell's without a cell.
    auto nets = podman({"network", "ls", "--filter", std::string("label=") + kCellLabel, "--format", "{{.Name}}"});
    if (nets && nets->success()) {
      for (const auto& n : str::split(trimmed(nets->out), '\n')) {
        if (n.size() <= 5 || fs::exists(internal::record_path(paths_, n.substr(5)))) continue;
        done.push_back("orphan network " + n);
        if (!o.dry_run) (void)teardown_network(n.substr(5));
      }
    }
  }
  if (everything || o.subnets) {
    auto map = read_subnet_map(paths_);
    if (!map) return map.error();
    for (const auto& [cidr, owner] : *map) {
      if (fs::exists(internal::record_path(paths_, owner))) continue;
      done.push_back("stale subnet " + cidr + " (" + owner + ")");
      if (!o.dry_run) BRIG_TRY(release_subnet(paths_, owner));
    }
  }
  if (everything || o.logs) {
    for (const auto& n : fs::list_names(paths_.logs_dir() + "/cells", ".jsonl")) {
      if (fs::exists(internal::record_path(paths_, n))) continue;
      done.push_back("logs of removed cell " + n);
      if (!o.dry_run) state::remove_cell_logs(paths_, n);
    }
  }
  if (!o.dry_run && !done.empty()) event("prune", "", {{"removed", done}});
  return done;
}

}  // namespace brig::engine
