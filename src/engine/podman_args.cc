#include <cstdio>
#include <regex>

#include "brig/engine/podman.h"

namespace brig::engine {

std::string cell_container(const std::string& cell) { return "brig-" + cell; }
std::string cell_network(const std::string& cell) { return "brig-" + cell; }

std::string subnet_network(const Subnet& subnet) { return "brig_net_" + std::to_string(subnet.index); }
bool is_subnet_network(const std::string& network) {
  static const std::regex re("brig_net_([1-9][0-9]{0,2})");
  return std::regex_match(network, re);
}

std::string Subnet::cidr() const { return "10.60." + std::to_string(index) + ".0/24"; }
std::string Subnet::gateway() const { return "10.60." + std::to_string(index) + ".1"; }
std::string Subnet::warden_ip() const { return "10.60." + std::to_string(index) + ".2"; }
std::string Subnet::cell_ip() const { return "10.60." + std::to_string(index) + ".10"; }
std::string Subnet::cell_mac() const {
  char mac[18];
  std::snprintf(mac, sizeof mac, "02:62:72:67:%02x:0a", static_cast<unsigned>(index) & 0xff);
  return mac;
}

namespace {

void add_ulimits(std::vector<std::string>& a, const std::vector<std::string>& ulimits) {
  for (const auto& u : ulimits) {
    a.push_back("--ulimit");
    a.push_back(u);
  }
}

std::string volume(const Mount& m) { return m.source + ":" + m.target + (m.read_only ? ":ro" : ":rw"); }

}  // namespace

std::vector<std::string> runtime_flags(const CellRuntime& r) {
  if (r.runtime != "runsc") return {};
  // runsc ignores OCI seccomp filters unless told to load them in the sandbox.
  std::vector<std::string> a = {"--runtime-flag", "oci-seccomp"};
  if (!r.runsc_network.empty() && r.runsc_network != "sandbox") {
    a.insert(a.end(), {"--runtime-flag", "network=" + r.runsc_network});
  }
  // Without it gVisor refuses connect() on a host socket mounted into the cell.
  if (!r.runsc_host_uds.empty()) a.insert(a.end(), {"--runtime-flag", r.runsc_host_uds});
  return a;
}

std::vector<std::string> cell_start_args(const std::string& cell, const CellRuntime& r) {
  std::vector<std::string> a = {"podman"};
  for (auto& f : runtime_flags(r)) a.push_back(std::move(f));
  a.push_back("start");
  a.push_back(cell_container(cell));
  return a;
}

std::vector<std::string> cell_run_args(const CellPlan& p, const CellRuntime& r, bool detach) {
  std::vector<std::string> a = {"podman"};
  for (auto& f : runtime_flags(r)) a.push_back(std::move(f));
  a.push_back("run");
  // Attached, podman run forwards stdout and stderr, and stdin with --interactive.
  if (detach) a.push_back("-d");
  a.insert(a.end(), {"--name", cell_container(p.name), "--hostname", p.name, "--runtime",
                     p.oci_runtime.empty() ? p.runtime : p.oci_runtime});
  if (!p.cidfile.empty()) a.insert(a.end(), {"--cidfile", p.cidfile});
  if (p.interactive) a.push_back("--interactive");
  if (p.tty) a.push_back("--tty");
  // Warden is the cell's only resolver, and no search domain of the host's
  // leaks in (podman: "--dns-search=." sets none).
  a.insert(a.end(), {"--network", p.network, "--ip", p.subnet.cell_ip(), "--mac-address", p.subnet.cell_mac(),
                     "--dns", p.subnet.warden_ip(), "--dns-search", "."});
  for (const auto& [name, address] : p.hosts) a.insert(a.end(), {"--add-host", name + ":" + address});
  if (p.read_only_rootfs) a.push_back("--read-only");
  a.insert(a.end(), {"--tmpfs", "/tmp:rw,size=" + p.tmp_size + ",noexec,nosuid,nodev", "--tmpfs",
                     "/run:rw,size=" + p.run_size + ",noexec,nosuid,nodev"});
  a.insert(a.end(), {"--cap-drop", "ALL", "--security-opt", "no-new-privileges"});
  if (!p.seccomp_profile.empty()) a.insert(a.end(), {"--security-opt", "seccomp=" + p.seccomp_profile});
  if (!p.memory.empty()) a.insert(a.end(), {"--memory", p.memory, "--memory-swap", p.memory});
  if (!p.cpus.empty()) a.insert(a.end(), {"--cpus", p.cpus});
  if (p.pids_limit > 0) a.insert(a.end(), {"--pids-limit", std::to_string(p.pids_limit)});
  add_ulimits(a, p.ulimits);
  if (p.timeout_seconds) a.insert(a.end(), {"--timeout", std::to_string(*p.timeout_seconds)});
  for (const auto& m : p.mounts) a.insert(a.end(), {"--volume", volume(m)});
  for (const auto& [k, v] : p.env) a.insert(a.end(), {"--env", k + "=" + v});
  for (const auto& [k, v] : p.labels) a.insert(a.end(), {"--label", k + "=" + v});
  if (!p.workdir.empty()) a.insert(a.end(), {"--workdir", p.workdir});
  if (!p.entrypoint.empty()) a.insert(a.end(), {"--entrypoint", p.entrypoint});
  // Images come from `brig image pull|build` only: podman never fetches one
  // itself, from the host's network (a missing one: "image not known").
  a.insert(a.end(), {"--pull", "never", p.image});
  a.insert(a.end(), p.command.begin(), p.command.end());
  return a;
}

std::vector<std::string> network_create_args(const std::string& network, const Subnet& subnet, const std::string& owner) {
  // Internal (no route out, no NAT) and without podman's DNS: warden is the
  // cell's resolver, and one that forwarded queries would be an exfiltration
  // channel.
  return {"podman", "network", "create", "--internal", "--disable-dns", "--subnet", subnet.cidr(), "--gateway",
          subnet.gateway(), "--label", std::string(kCellLabel) + "=" + owner, network};
}

std::vector<std::string> network_connect_args(const std::string& network, const std::string& container,
                                              const std::string& ip) {
  return {"podman", "network", "connect", "--ip", ip, network, container};
}

std::vector<std::string> external_network_create_args() {
  return {"podman", "network", "create", "--subnet", kExternalSubnet, "--label",
          std::string(kRoleLabel) + "=infrastructure", kExternalNetwork};
}

std::vector<std::string> warden_run_args(const WardenPlan& p) {
  const std::string& h = p.home;
  // runc, not crun (crun fails on cgroup hybrid hosts); gVisor is for cells.
  std::vector<std::string> a = {
      "podman", "run", "-d", "--name", kWardenContainer, "--runtime", "runc", "--read-only", "--user", "65534:65534",
      "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", kExternalNetwork, "--ip",
      kWardenExternalIp, "--publish",
      "127.0.0.1:" + std::to_string(p.ops_port) + ":" + std::to_string(kOpsPortInContainer),
      "--publish", p.ingress_publish + ":" + std::to_string(kIngressPortInContainer),
      // Warden is attached to every cell network: it must never route between them.
      "--sysctl", "net.ipv4.ip_forward=0",
      // Warden, non-root without capabilities, binds 53, 80 and 443 on the
      // cell networks, and the port of each tcp host service (any); the
      // sysctl is per network namespace (warden's own).
      "--sysctl", "net.ipv4.ip_unprivileged_port_start=1",
      "--tmpfs", "/brig/run:rw,size=1m,mode=1777,noexec,nosuid,nodev",
      "--label", std::string(kRoleLabel) + "=warden", "--label", "brig.config=" + p.config_id,
      "--env", "BRIG_HOME=/brig",
      "--volume", h + "/policy:/brig/policy:ro", "--volume", h + "/state/system:/brig/state/system:ro",
      "--volume", h + "/run/warden-ca:/brig/ca:ro", "--volume", h + "/logs/cells:/brig/logs/cells:rw",
      "--volume", h + "/warden.yaml:/brig/warden.yaml:ro",
      // The host relay's socket (host services); its directory, so a new relay's socket shows.
      "--volume", h + "/run/host-relay:" + kHostRelayDirInContainer + ":ro"};
  if (p.ingress_tls) a.insert(a.end(), {"--volume", h + "/run/warden-ingress:" + kIngressTlsDir + ":ro"});
  for (const auto& f : p.extra_ro_files) a.insert(a.end(), {"--volume", f + ":" + f + ":ro"});
  add_ulimits(a, p.ulimits);
  auto any = [](int port) { return "0.0.0.0:" + std::to_string(port); };
  a.insert(a.end(), {p.image, "warden", "serve", "--proxy-listen", any(kProxyPort),
                     // On every cell network: the resolver, and the proxy for
                     // clients that ignore the proxy variables.
                     "--dns-listen", any(kDnsPort), "--http-listen", any(kHttpPort), "--https-listen", any(kHttpsPort),
                     "--ops-listen", std::string(kWardenExternalIp) + ":" + std::to_string(kOpsPortInContainer),
                     "--threads", std::to_string(p.threads),
                     "--host-relay", std::string(kHostRelayDirInContainer) + "/relay.sock",
                     // Ingress on the external address only: cells reach warden on their own networks.
                     "--ingress-listen", std::string(kWardenExternalIp) + ":" + std::to_string(kIngressPortInContainer),
                     "--ingress-domain", p.ingress_domain, "--ingress-max-body", std::to_string(p.ingress_max_body)});
  if (p.ingress_tls) {
    a.insert(a.end(), {"--ingress-cert", std::string(kIngressTlsDir) + "/cert.pem", "--ingress-key",
                       std::string(kIngressTlsDir) + "/key.pem"});
  }
  return a;
}

std::vector<std::string> cell_logs_args(const std::string& cell, bool follow, int tail) {
  std::vector<std::string> a = {"podman", "logs"};
  if (follow) a.push_back("--follow");
  if (tail >= 0) a.insert(a.end(), {"--tail", std::to_string(tail)});
  a.push_back(cell_container(cell));
  return a;
}

std::vector<std::string> cell_exec_args(const std::string& cell, bool interactive, bool tty,
                                        const std::vector<std::string>& command,
                                        const std::map<std::string, std::string>& env) {
  std::vector<std::string> a = {"podman", "exec"};
  if (interactive) a.push_back("--interactive");
  if (tty) a.push_back("--tty");
  for (const auto& [k, v] : env) a.insert(a.end(), {"--env", k + "=" + v});
  a.push_back(cell_container(cell));
  a.insert(a.end(), command.begin(), command.end());
  return a;
}

std::vector<std::string> cell_shell_args(const std::string& cell, bool tty) {
  return {"podman", "exec", "--interactive", tty ? "--tty" : "--interactive", cell_container(cell),
          "/bin/sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh"};
}

std::vector<std::string> cell_stats_args(const std::string& cell) {
  return {"podman", "stats", "--no-stream", "--format", "json", cell_container(cell)};
}
std::vector<std::string> cell_top_args(const std::string& cell, const std::string& runsc,
                                       const std::string& container_id) {
  // podman top reads the host's /proc, which under gVisor shows the sandbox's
  // own processes (and other containers'): ask the sandbox instead.
  if (!runsc.empty()) return {runsc, "--root", kRunscRoot, "ps", container_id};
  return {"podman", "top", cell_container(cell)};
}
std::vector<std::string> cell_diff_args(const std::string& cell) { return {"podman", "diff", cell_container(cell)}; }

std::vector<std::string> workspace_export_args(const std::string& workspace, const std::string& output) {
  return {"tar", "--numeric-owner", "-C", workspace, "-cf", output.empty() ? "-" : output, "."};
}

std::vector<std::string> cell_ps_args(bool all) {
  std::vector<std::string> a = {"podman", "ps", "--filter", std::string("label=") + kCellLabel, "--format", "json"};
  if (all) a.insert(a.begin() + 2, "--all");
  return a;
}

bool is_cell_container_name(const std::string& name) {
  static const std::regex re("^brig-[a-z0-9][a-z0-9-]{0,62}$");
  return name != kWardenContainer && std::regex_match(name, re);
}

}  // namespace brig::engine
