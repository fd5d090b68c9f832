// brig run as data (plan.h): pure, no files, no processes.
#include "brig/engine/plan.h"

#include <algorithm>

#include "brig/spec/json.h"
#include "brig/spec/validate.h"
#include "brig/state/host_services.h"
#include "cell_files.h"

namespace brig::engine {

nlohmann::json cell_json(const CellRecord& rec, const std::string& started_at) {
  // Each host service with where the cell reaches it.
  nlohmann::json services = nlohmann::json::array();
  if (auto it = rec.spec.find("host_services"); it != rec.spec.end() && it->is_array()) {
    for (auto e : *it) {
      e["url"] = state::host_service_url({e.value("name", ""), e.value("port", 0), e.value("protocol", "http")});
      services.push_back(std::move(e));
    }
  }
  nlohmann::json injected = nlohmann::json::array();
  for (const auto& i : rec.injected) injected.push_back({{"name", i.name}, {"env", i.env}, {"hosts", i.hosts}});
  nlohmann::json sockets = nlohmann::json::array();
  for (const auto& h : rec.host_sockets) {
    sockets.push_back({{"name", h.name}, {"mount_point", h.mount_point}, {"mode", h.read_only ? "ro" : "rw"}});
  }
  return {{"version", BRIG_VERSION},
          {"name", rec.name},
          {"started_at", started_at},
          {"workspace_mount", rec.workspace_mount},
          {"proxy", "http://" + rec.subnet.warden_ip() + ":" + std::to_string(kProxyPort)},
          {"airgapped", rec.airgapped},
          {"host_services", services},
          {"host_sockets", sockets},
          {"injected_secrets", injected}};
}

namespace {

template <class T>
Status require(const spec::Field<T>& field, const char* name) {
  if (field.has()) return {};
  return Error(Errc::invalid,
               std::string("the spec reached the engine without ") + name + " (spec::resolve sets it): a bug in brig");
}

}  // namespace

Status check_concrete(const spec::CellSpec& s) {
  BRIG_TRY(require(s.profile, "profile"));
  BRIG_TRY(require(s.runtime, "runtime"));
  BRIG_TRY(require(s.workspace_mount, "workspace_mount"));
  BRIG_TRY(require(s.writable_rootfs, "writable_rootfs"));
  BRIG_TRY(require(s.trust_warden_ca, "trust_warden_ca"));
  BRIG_TRY(require(s.pids_limit, "pids_limit"));
  return {};
}

Result<RunPlan> plan_cell(const spec::Resolved& resolved, const HostFacts& f, const Stdio& stdio) {
  const spec::CellSpec& s = resolved.spec;
  BRIG_TRY(check_concrete(s));
  if (!s.image.has()) return Error(Errc::usage, "no image given", "brig run IMAGE [-- CMD...] or image: in --file");
  const Paths& paths = f.paths;
  const std::string& name = f.name;
  const std::string& runtime = *s.runtime;

  RunPlan p;
  CellRecord& rec = p.record;
  rec.name = name;
  rec.image = *s.image;
  rec.runtime = runtime;
  rec.runsc_network = runtime == "runsc" ? f.config.runsc_network : "";
  rec.subnet = f.subnet;
  rec.network = subnet_network(f.subnet);  // it may be a spare, and outlive the cell as one
  rec.workspace = s.workspace.has() ? *s.workspace : paths.workspace(name);
  rec.workspace_mount = *s.workspace_mount;
  for (const auto& sec : s.secrets.has() ? *s.secrets : spec::SecretList{}) {
    if (!sec.injected()) {
      rec.secrets.push_back(sec.name);
      continue;
    }
    auto ph = f.placeholders.find(sec.name);
    if (ph == f.placeholders.end()) {
      return Error(Errc::invalid, "no placeholder for injected secret " + sec.name + ": a bug in brig");
    }
    rec.injected.push_back({sec.name, sec.env, ph->second, sec.hosts, sec.allow_plaintext});
  }
  for (const auto& h : s.host_sockets.has() ? *s.host_sockets : std::vector<spec::HostSocket>{}) {
    auto checked = std::find_if(f.host_sockets.begin(), f.host_sockets.end(),
                                [&](const HostSocketRef& r) { return r.name == h.name; });
    if (checked == f.host_sockets.end()) {
      return Error(Errc::invalid, "host socket " + h.name + " reached the plan unchecked: a bug in brig");
    }
    rec.host_sockets.push_back(*checked);
  }
  // gVisor lets a cell connect to a host socket only when told to.
  if (runtime == "runsc" && !rec.host_sockets.empty()) rec.runsc_host_uds = f.config.runsc_host_uds;
  rec.created = f.now;
  rec.airgapped = resolved.airgapped;
  rec.spec = spec::to_json(s);
  rec.spec["name"] = name;
  rec.pool = f.pool;

  p.state_dir = paths.cell_state(name);
  p.network = rec.network;
  p.trust_ca = !resolved.airgapped && *s.trust_warden_ca;
  p.make_workspace = !s.workspace.has();
  // Per-cell policy: warden reloads it within a second.
  p.policy = s.policy.has() ? spec::to_json(*s.policy) : nlohmann::json::object();
  if (resolved.airgapped) p.policy["airgapped"] = true;
  p.files.push_back({p.state_dir + "/brig/cell.json", cell_files::dump(cell_json(rec, f.now), 2) + "\n", 0644});
  p.files.push_back({cell_files::record_path(paths, name), cell_files::dump(to_json(rec), 2) + "\n", 0600});
  p.seccomp_profile = cell_files::seccomp_profile_path(paths);

  CellPlan& c = p.container;
  c.name = name;
  c.image = f.image_id.empty() ? rec.image : f.image_id;
  if (f.idle) {
    p.files.push_back({p.state_dir + "/brig/" + cell_files::kIdleInitName, cell_files::idle_init(), 0755});
    c.entrypoint = std::string("/run/brig/") + cell_files::kIdleInitName;
  } else if (s.command.has()) {
    c.command = *s.command;
  }
  c.runtime = runtime;
  if (runtime == "runsc" && !f.config.runsc_exec_tty) c.oci_runtime = paths.runsc_shim();
  c.runsc_network = rec.runsc_network;
  c.interactive = stdio.interactive;
  c.tty = stdio.tty;
  c.subnet = rec.subnet;
  c.network = rec.network;
  c.cidfile = cell_files::container_id_path(paths, name);
  c.memory = s.memory.has() ? *s.memory : "";
  c.cpus = s.cpus.has() ? *s.cpus : "";
  c.pids_limit = *s.pids_limit;
  c.read_only_rootfs = !*s.writable_rootfs;
  c.seccomp_profile = p.seccomp_profile;
  c.ulimits = f.config.ulimits;
  if (s.timeout.has()) {
    if (auto secs = spec::parse_duration(*s.timeout)) c.timeout_seconds = static_cast<int>(*secs);
  }
  c.workdir = rec.workspace_mount;
  c.mounts.push_back({rec.workspace, rec.workspace_mount, false});
  c.mounts.push_back({p.state_dir + "/brig", "/run/brig", true});
  for (const auto& sec : rec.secrets) c.mounts.push_back({paths.secret(sec), "/run/secrets/" + sec, true});
  for (const auto& h : rec.host_sockets) c.mounts.push_back({h.source, h.mount_point, h.read_only});
  // <name>.host.brig is warden on the cell's network (its resolver says so too).
  for (const auto& e : s.host_services.has() ? *s.host_services : std::vector<spec::HostService>{}) {
    c.hosts.push_back({e.name + std::string(state::kHostServiceSuffix), rec.subnet.warden_ip()});
  }
  if (runtime == "runsc" && !f.config.runsc_stat_ok) {
    // The stat shim (stat_shim.c), preloaded into every dynamic program.
    p.files.push_back({p.state_dir + "/brig/" + cell_files::kStatShimName, cell_files::stat_shim(), 0644});
    p.files.push_back({p.state_dir + "/brig/ld.so.preload", std::string("/run/brig/") + cell_files::kStatShimName + "\n", 0644});
    c.mounts.push_back({p.state_dir + "/brig/ld.so.preload", "/etc/ld.so.preload", true});
  }
  c.env = cell_files::cell_env(s, rec, p.trust_ca);
  c.labels = {{kCellLabel, name}, {"brig.version", BRIG_VERSION}};
  if (s.labels.has()) {
    for (const auto& [k, v] : *s.labels) c.labels["user." + k] = v;
  }

  p.network_create = network_create_args(rec.network, rec.subnet, name);
  p.network_connect = network_connect_args(p.network, kWardenContainer, rec.subnet.warden_ip());
  p.run_detached = cell_run_args(c, cell_runtime(rec), true);
  p.run_attached = cell_run_args(c, cell_runtime(rec), false);
  return p;
}

}  // namespace brig::engine
