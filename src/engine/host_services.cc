#include "host_services.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/cells.h"
#include "brig/engine/plan.h"
#include "brig/spec/validate.h"
#include "cell_files.h"
#include "daemon.h"
#include "brig/core/unique_fd.h"
#include "brig/state/secret_injections.h"

namespace brig::engine::host_services {
namespace {

bool has_tcp(const state::HostServiceCell* e) {
  if (!e || !e->running) return false;
  for (const auto& s : e->services) {
    if (s.protocol == "tcp") return true;
  }
  return false;
}

// Warden's grants made those of `table`.
Status sync_grants(EngineContext& ctx, const state::HostServiceTable& table) {
  const long pid = warden_pid(ctx.podman);
  if (pid <= 0) return {};
  auto st = nft::set_host_tcp(ctx.runner, pid, tcp_grants(table));
  // Warden's table is not there yet: `system up` installs it with the grants.
  if (!st && st.error().message().find("No such file or directory") != std::string::npos) return {};
  return st;
}

// Edits the table, then warden's grants when the cell's tcp services moved.
Status edit(EngineContext& ctx, const std::string& cell, const std::function<bool(state::HostServiceTable&)>& change) {
  bool tcp_before = false, tcp_after = false;
  return state::edit_host_services(
      ctx.paths,
      [&](state::HostServiceTable& t) -> Result<bool> {
        auto it = t.find(cell);
        tcp_before = has_tcp(it == t.end() ? nullptr : &it->second);
        const bool changed = change(t);
        it = t.find(cell);
        tcp_after = has_tcp(it == t.end() ? nullptr : &it->second);
        return changed;
      },
      [&](const state::HostServiceTable& t) -> Status {
        if (!tcp_before && !tcp_after) return {};
        return sync_grants(ctx, t);
      });
}

}  // namespace

std::vector<state::HostServiceEntry> declared(const CellRecord& rec) {
  std::vector<state::HostServiceEntry> out;
  if (!rec.spec.is_object()) return out;
  auto it = rec.spec.find("host_services");
  if (it == rec.spec.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    out.push_back({e.value("name", ""), e.value("port", 0), e.value("protocol", "http")});
  }
  return out;
}

std::vector<std::string> host_names(const std::vector<state::HostServiceEntry>& services) {
  std::vector<std::string> out;
  for (const auto& s : services) out.push_back(s.name + std::string(state::kHostServiceSuffix));
  return out;
}

std::vector<nft::TcpGrant> tcp_grants(const state::HostServiceTable& table) {
  std::vector<nft::TcpGrant> out;
  for (const auto& [cell, e] : table) {
    if (!e.running) continue;
    for (const auto& s : e.services) {
      if (s.protocol == "tcp") out.push_back({e.address, s.port});
    }
  }
  return out;
}

Status publish(EngineContext& ctx, const CellRecord& rec, bool running) {
  const auto services = declared(rec);
  return edit(ctx, rec.name, [&](state::HostServiceTable& t) {
    auto it = t.find(rec.name);
    // The table's services are the live ones (policy set may have changed
    // them since `rec` was read): only whether the cell runs changes.
    if (it != t.end()) {
      if (it->second.running == running) return false;
      it->second.running = running;
      return true;
    }
    if (services.empty()) return false;
    t[rec.name] = state::HostServiceCell{rec.subnet.cell_ip(), running, services};
    return true;
  });
}

Status put_services(EngineContext& ctx, const CellRecord& rec, const std::vector<state::HostServiceEntry>& services,
                    bool running_if_new) {
  return edit(ctx, rec.name, [&](state::HostServiceTable& t) {
    auto it = t.find(rec.name);
    if (services.empty()) return it != t.end() && (t.erase(it), true);
    const bool running = it != t.end() ? it->second.running : running_if_new;
    const state::HostServiceCell entry{rec.subnet.cell_ip(), running, services};
    if (it != t.end() && it->second == entry) return false;
    t[rec.name] = entry;
    return true;
  });
}

Status withdraw(EngineContext& ctx, const std::string& cell) {
  return edit(ctx, cell, [&](state::HostServiceTable& t) { return t.erase(cell) > 0; });
}

long warden_pid(const Podman& podman) {
  auto pid = podman.run({"container", "inspect", "--format", "{{.State.Pid}}", kWardenContainer});
  return pid && pid->success() ? std::atol(std::string(str::trim(pid->out)).c_str()) : 0;
}

std::vector<std::string> notes(const CellRecord& rec) {
  std::vector<std::string> out;
  for (const auto& s : declared(rec)) {
    if (s.protocol != "tcp") continue;
    out.push_back("host service " + s.name + " (" + s.name + std::string(state::kHostServiceSuffix) + ":" +
                  std::to_string(s.port) + ") is a declared tcp channel to this host's port " + std::to_string(s.port) +
                  ": warden logs its connections, not what they carry");
  }
  return out;
}

std::string rewrite_hosts(const std::string& hosts, const std::vector<state::HostServiceEntry>& services,
                          const std::string& address) {
  std::string out;
  for (const auto& line : str::split(hosts, '\n')) {
    if (line.empty()) continue;
    // brig's lines: every name on them ends in .host.brig.
    auto words = str::split(std::string(str::trim(line)), '\t');
    if (words.size() == 1) words = str::split(std::string(str::trim(line)), ' ');
    bool ours = words.size() >= 2;
    for (std::size_t i = 1; i < words.size() && ours; ++i) {
      ours = str::trim(words[i]).empty() || std::string(str::trim(words[i])).ends_with(state::kHostServiceSuffix);
    }
    if (!ours) out += line + "\n";
  }
  for (const auto& name : host_names(services)) out += address + "\t" + name + "\n";
  return out;
}

Status refresh_hosts(EngineContext& ctx, const CellRecord& rec) {
  auto path = ctx.podman.run({"container", "inspect", "--format", "{{.HostsPath}}", cell_container(rec.name)});
  if (!path || !path->success()) return {};  // no container: its next create writes them
  const std::string file(str::trim(path->out));
  if (file.empty()) return {};
  auto text = fs::read_file(file, 1 << 20);
  if (!text) return text.error();
  const std::string next = rewrite_hosts(*text, declared(rec), rec.subnet.warden_ip());
  if (next == *text) return {};
  // In place: the cell sees this inode through a bind mount.
  unique_fd fd(::open(file.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("rewriting " + file, errno);
  for (std::size_t done = 0; done < next.size();) {
    const ssize_t n = ::write(fd.get(), next.data() + done, next.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("rewriting " + file, errno);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::vector<std::string> relay_args(const std::string& brig_binary, const Paths& paths, const std::string& target) {
  const std::string warden = std::to_string(state::kWardenUid);
  return {brig_binary, "system", "host-relay", "--socket", paths.host_relay_socket(), "--owner", warden + ":" + warden,
          "--target", target, "--pidfile", paths.host_relay_pidfile()};
}

namespace {

daemon::Spec relay_daemon(const Paths& paths) {
  return {"the host relay", " system host-relay ", paths.host_relay_pidfile(), paths.host_relay_socket(),
          paths.host_relay_log(), "host_relay"};
}

}  // namespace

long relay_pid(const Paths& paths) { return daemon::pid(relay_daemon(paths)); }

std::string relay_problem(const Paths& paths) {
  if (relay_pid(paths) <= 0) return "the host relay is not running (host services unreachable)";
  if (!daemon::is_socket(paths.host_relay_socket())) return "the host relay has no socket at " + paths.host_relay_socket();
  return "";
}

Status start_relay(EngineContext& ctx, const std::string& brig_binary, const std::string& target) {
  BRIG_TRY(fs::make_dirs(ctx.paths.host_relay_dir(), 0755));
  // A running relay will do when it connects to the same target.
  auto same_target = [&](long pid) { return daemon::cmdline_of(pid).find(" --target " + target + " ") != std::string::npos; };
  return daemon::start(ctx, relay_daemon(ctx.paths), relay_args(brig_binary, ctx.paths, target), brig_binary, same_target,
                       {{"target", target}});
}

Status stop_relay(EngineContext& ctx) { return daemon::stop(ctx, relay_daemon(ctx.paths)); }

}  // namespace brig::engine::host_services

namespace brig::engine {

Result<std::vector<spec::HostService>> Cells::set_host_services(const std::string& cell,
                                                               const std::vector<spec::HostService>& add,
                                                               const std::vector<std::string>& remove) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  const std::string show = "brig cell inspect " + cell + " (host_services)";
  if (rec->airgapped && !add.empty()) {
    return Error(Errc::invalid, "cell " + cell + " is airgapped: the airgapped profile allows no egress at all",
                 "run it with another profile");
  }
  std::vector<spec::HostService> services;
  for (const auto& e : host_services::declared(*rec)) {
    spec::HostService h;
    h.name = e.name;
    h.port = e.port;
    h.protocol = e.protocol;
    services.push_back(std::move(h));
  }
  for (const auto& name : remove) {
    auto it = std::find_if(services.begin(), services.end(), [&](const auto& h) { return h.name == name; });
    if (it == services.end()) {
      return Error(Errc::not_found, "cell " + cell + " declares no host service " + str::quote(name), show);
    }
    services.erase(it);
  }
  for (const auto& a : add) {
    if (auto p = spec::host_service_problem(a, is_untrusted(*rec))) {
      return Error(Errc::invalid, "cell " + cell + ": host service " + a.name + ": " + p->message,
                   "brig policy set " + cell + " --host-service NAME:PORT[/tcp]");
    }
    auto it = std::find_if(services.begin(), services.end(), [&](const auto& h) { return h.name == a.name; });
    if (it != services.end()) *it = a;
    else services.push_back(a);
  }
  if (services.size() > spec::kMaxHostServices) {
    return Error(Errc::invalid, "cell " + cell + " would have " + std::to_string(services.size()) +
                                    " host services; at most " + std::to_string(spec::kMaxHostServices) + " are allowed",
                 "remove one first: brig policy set " + cell + " --remove-host-service NAME");
  }

  const CellRecord before = *rec;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& h : services) list.push_back({{"name", h.name}, {"port", h.port}, {"protocol", h.protocol}});
  rec->spec["host_services"] = list;
  auto state = ctx_.podman.container_state(cell_container(cell));
  const bool running = state && *state && (*state)->status == "running";
  // Warden's table first (what reaches the host; whether the cell runs is
  // the table's when it has the cell); the record after, the table put back
  // if it cannot be written.
  BRIG_TRY(host_services::put_services(ctx_, *rec, host_services::declared(*rec), running));
  if (auto st = fs::write_atomic(cell_files::record_path(ctx_.paths, cell), cell_files::dump(to_json(*rec), 2) + "\n", 0600);
      !st) {
    (void)host_services::put_services(ctx_, before, host_services::declared(before), running);
    return st.error();
  }
  // What the cell knows of itself: cell.json (its start time kept) and /etc/hosts.
  const std::string json_path = ctx_.paths.cell_state(cell) + "/brig/cell.json";
  std::string started_at = timefmt::now_rfc3339();
  if (auto text = fs::read_file(json_path, 1 << 20)) {
    try {
      started_at = nlohmann::json::parse(*text).value("started_at", started_at);
    } catch (...) {
    }
  }
  BRIG_TRY(fs::write_atomic(json_path, cell_files::dump(cell_json(*rec, started_at), 2) + "\n", 0644));
  if (running) BRIG_TRY(host_services::refresh_hosts(ctx_, *rec));
  ctx_.event("host_services", cell, {{"host_services", list}});
  return services;
}

}  // namespace brig::engine
