// The verbs on a cell that exists: list, status, inspect, stop, kill, start,
// rm, wait, logs, usage (stats), and podman on the terminal.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/cells.h"
#include "brig/engine/secrets.h"
#include "brig/engine/subnets.h"
#include "brig/state/cell_policy.h"
#include "brig/state/ingress_routes.h"
#include "brig/state/secret_injections.h"
#include "cell_files.h"
#include "cell_network.h"
#include "host_services.h"
#include "host_sockets.h"
#include "ingress.h"

namespace brig::engine {
namespace {

namespace stdfs = std::filesystem;

std::string json_string(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// What podman knows of a cell's last run beyond its exit code.
struct RunFacts {
  bool oom_killed = false;
  double duration_s = -1;  // negative: unknown
};

Argv run_facts_args(const std::string& cell) {
  return {"container", "inspect", "--format", "{{.State.OOMKilled}} {{.State.StartedAt.UnixNano}} {{.State.FinishedAt.UnixNano}}",
          cell_container(cell)};
}

// Parses run_facts_args' output ("false 1700000000000000000 1700000003100000000").
// A zero FinishedAt (still running, or podman lost the exit) leaves the
// duration unknown, or, with `podman_exit_code` -1 (podman lost the exit),
// the time since the start.
RunFacts parse_run_facts(const std::string& text, int podman_exit_code) {
  RunFacts f;
  auto parts = str::split(std::string(str::trim(text)), ' ');
  if (parts.size() != 3) return f;
  f.oom_killed = parts[0] == "true";
  try {
    const long long started = std::stoll(parts[1]), finished = std::stoll(parts[2]);
    if (started <= 0) return f;
    if (finished > started) {
      f.duration_s = static_cast<double>(finished - started) / 1e9;
    } else if (podman_exit_code == -1) {
      const long long now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
      if (now > started) f.duration_s = static_cast<double>(now - started) / 1e9;
    }
  } catch (const std::exception&) {
    // not numbers: the duration stays unknown
  }
  return f;
}

bool has_run(const std::string& state) { return state == "exited" || state == "stopped"; }

// podman stats' JSON names (which changed over podman versions) -> brig's.
std::string stat_field(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it == j.end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_null()) return it->dump();
  }
  return "";
}

}  // namespace

Result<std::vector<CellStatus>> Cells::list(bool all) {
  auto out = ctx_.podman.run(cell_ps_args(true));
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
  for (const auto& name : cell_files::cell_names(ctx_.paths)) {
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
      const nlohmann::json& c = it->second;
      st.state = json_string(c, "State");
      st.exit_code = c.contains("ExitCode") && c["ExitCode"].is_number_integer() ? c["ExitCode"].get<int>() : 0;
      if (c.contains("StartedAt") && c["StartedAt"].is_number()) {
        st.started_at = std::to_string(c["StartedAt"].get<long long>());
      }
      if (has_run(st.state) && st.exit_code != 0) {
        // ps gives whole seconds and no OOM flag: enough to tell a timeout.
        double ran = -1;
        if (c.contains("StartedAt") && c["StartedAt"].is_number() && c.contains("ExitedAt") && c["ExitedAt"].is_number()) {
          const double from = c["StartedAt"].get<double>(), to = c["ExitedAt"].get<double>();
          if (from > 0 && to >= from) ran = to - from;
        }
        auto e = classify_exit(st.exit_code, record_timeout_seconds(st.record), ran, false);
        st.exit_code = e.exit_code;
        st.exit_reason = e.reason;
      }
    }
    if (all || st.state == "running") cells.push_back(std::move(st));
  }
  return cells;
}

Result<std::vector<std::string>> Cells::secret_users(const std::string& name, const std::string& verb) {
  auto cells = list(false);
  if (!cells) {
    return Error(cells.error().code(), "cannot tell which running cells use secret " + name + ": " + cells.error().message(),
                 "brig secrets " + verb + " " + name + " --force (if no running cell uses it)");
  }
  std::vector<std::string> users;
  for (const auto& c : *cells) {
    if (c.state == "damaged") {
      return Error(Errc::failed, "cannot tell whether cell " + c.record.name + " uses secret " + name + ": " + c.reason,
                   "brig cell rm " + c.record.name + ", or brig secrets " + verb + " " + name + " --force");
    }
    // Mounted, or injected by warden (which reads its value at each start).
    const auto& r = c.record;
    const bool mounts = std::find(r.secrets.begin(), r.secrets.end(), name) != r.secrets.end();
    const bool injects =
        std::any_of(r.injected.begin(), r.injected.end(), [&](const InjectedSecretRef& i) { return i.name == name; });
    if (mounts || injects) users.push_back(r.name);
  }
  return users;
}

Result<CellStatus> Cells::status(const std::string& cell) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  CellStatus st;
  st.record = std::move(*rec);
  auto state = ctx_.podman.container_state(cell_container(cell));
  if (!state) return state.error();
  if (!*state) {
    st.state = "missing";
    return st;
  }
  st.state = (*state)->status;
  st.exit_code = (*state)->exit_code;
  if (has_run(st.state) && st.exit_code != 0) {
    auto e = exit_of(st.record, st.exit_code);
    st.exit_code = e.exit_code;
    st.exit_reason = e.reason;
  }
  return st;
}

CellExit Cells::exit_of(const CellRecord& rec, int podman_exit_code, double measured_s) {
  RunFacts f;
  auto out = ctx_.podman.run(run_facts_args(rec.name));
  if (out && out->success()) f = parse_run_facts(out->out, podman_exit_code);
  return classify_exit(podman_exit_code, record_timeout_seconds(rec), std::max(f.duration_s, measured_s), f.oom_killed);
}

Result<nlohmann::json> Cells::inspect(const std::string& cell) {
  auto st = status(cell);
  if (!st) return st.error();
  const CellRecord& r = st->record;
  nlohmann::json mounts = nlohmann::json::array();
  mounts.push_back({{"source", r.workspace}, {"target", r.workspace_mount}, {"mode", "rw"}});
  mounts.push_back({{"source", ctx_.paths.cell_state(cell) + "/brig"}, {"target", "/run/brig"}, {"mode", "ro"}});
  for (const auto& s : r.secrets) mounts.push_back({{"source", ctx_.paths.secret(s)}, {"target", "/run/secrets/" + s}, {"mode", "ro"}});
  // Host sockets: the mount (its checked real path), and what the cell sees.
  nlohmann::json sockets = nlohmann::json::array();
  for (const auto& h : r.host_sockets) {
    const char* mode = h.read_only ? "ro" : "rw";
    mounts.push_back({{"source", h.source}, {"target", h.mount_point}, {"mode", mode}});
    sockets.push_back({{"name", h.name}, {"mount_point", h.mount_point}, {"mode", mode}});
  }
  // Injected secrets: the variable and the hosts (never the value, nor the placeholder).
  nlohmann::json injected = nlohmann::json::array();
  for (const auto& i : r.injected) {
    injected.push_back({{"name", i.name}, {"env", i.env}, {"hosts", i.hosts}, {"allow_plaintext", i.allow_plaintext}});
  }
  // An exit code only once it has one; the reason where brig knows it.
  const bool exited = has_run(st->state);
  const std::string why = describe_exit(CellExit{st->exit_code, st->exit_reason, st->exit_code, -1}, r);
  // Where its ingress routes answer (docs/reference/ingress.md).
  nlohmann::json routes = nlohmann::json::array();
  if (auto declared = ingress::routes(r); !declared.empty()) {
    auto cfg = load_host_config(ctx_.paths);
    for (const auto& u : ingress::urls(cfg ? *cfg : HostConfig{}, r.name, declared)) {
      routes.push_back({{"name", u.name}, {"port", u.port}, {"path_prefix", u.path_prefix}, {"url", u.url}});
    }
  }
  return nlohmann::json{{"name", r.name},
                        {"state", st->state},
                        {"exit_code", exited ? nlohmann::json(st->exit_code) : nlohmann::json(nullptr)},
                        {"exit_reason", exited && !st->exit_reason.empty() ? nlohmann::json(st->exit_reason) : nlohmann::json(nullptr)},
                        {"exit_detail", exited && !why.empty() ? nlohmann::json(why) : nlohmann::json(nullptr)},
                        {"image", r.image},
                        {"runtime", r.runtime},
                        {"network_mode", r.runtime == "runsc" ? "runsc/" + r.runsc_network : r.runtime},
                        {"network", network_of(r)},
                        {"subnet", r.subnet.cidr()},
                        {"address", r.subnet.cell_ip()},
                        {"warden", r.subnet.warden_ip() + ":" + std::to_string(kProxyPort)},
                        {"created", r.created},
                        {"mounts", mounts},
                        {"secrets", r.secrets},
                        {"injected_secrets", injected},
                        {"host_sockets", sockets},
                        {"airgapped", r.airgapped},
                        {"ingress", routes},
                        {"spec", r.spec}};
}

Status Cells::stop(const std::string& cell, int timeout_seconds) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  // Warden answers 503 for it from before it stops (not a connection to a
  // cell going away) until it starts again; put back if it does not stop.
  std::optional<state::IngressCell> routed;
  if (!ingress::routes(*rec).empty()) {
    auto table = state::load_ingress_routes(ctx_.paths);
    if (table && table->count(cell)) routed = table->at(cell);
    BRIG_TRY(state::stop_ingress_cell(ctx_.paths, cell));
  }
  auto out = ctx_.podman.run({"stop", "--time", std::to_string(timeout_seconds), cell_container(cell)});
  if (!out || (!out->success() && out->err.find("no such container") == std::string::npos)) {
    if (routed) (void)state::put_ingress_cell(ctx_.paths, cell, *routed);
    if (!out) return out.error();
    return Error(Errc::failed, "stopping " + cell + ": " + std::string(str::trim(out->err)));
  }
  if (!host_services::declared(*rec).empty()) BRIG_TRY(host_services::publish(ctx_, *rec, false));
  ctx_.event("stop", cell);
  return {};
}

Status Cells::kill(const std::string& cell, const std::string& signal) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  auto out = ctx_.podman.run({"kill", "--signal", signal, cell_container(cell)});
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "killing " + cell + ": " + std::string(str::trim(out->err)));
  if (!ingress::routes(*rec).empty()) {
    // SIGKILL ends it; another signal only if the cell chose to exit on it.
    bool ended = signal == "KILL" || signal == "SIGKILL" || signal == "9";
    if (!ended) {
      auto st = ctx_.podman.container_state(cell_container(cell));
      ended = st && (!*st || (*st)->status != "running");
    }
    if (ended) BRIG_TRY(state::stop_ingress_cell(ctx_.paths, cell));
  }
  if (!host_services::declared(*rec).empty()) {
    auto st = ctx_.podman.container_state(cell_container(cell));
    if (st && (!*st || (*st)->status != "running")) BRIG_TRY(host_services::publish(ctx_, *rec, false));
  }
  ctx_.event("kill", cell, {{"signal", signal}});
  return {};
}

Result<bool> Cells::start(const std::string& cell) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  if (!rec->pool.empty()) {
    // Its container was made for the pool member it was (mounts by that
    // name), and a member is never started by hand.
    return Error(Errc::invalid,
                 "cell " + cell + (rec->claimed ? " was claimed from" : " belongs to") + " warm pool " + rec->pool +
                     " and cannot be started again",
                 rec->claimed ? "brig cell rm " + cell + ", then brig run --pool " + rec->pool
                              : "brig pool list (its refiller replaces it)");
  }
  // podman start on a running container succeeds and does nothing: say so
  // rather than "started".
  auto running = ctx_.podman.run({"container", "inspect", "--format", "{{.State.Running}}", cell_container(cell)});
  if (running && running->success() && str::trim(running->out) == "true") return false;
  // Its ingress token, before anything changes (start_cell reads it again).
  if (!ingress::routes(*rec).empty()) BRIG_TRY(ingress::read_token(ctx_.paths, cell));
  // A secret removed since the run: podman would fail on the missing mount
  // source in words that blame the command.
  auto gone = [&](const std::string& verb, const std::string& sec) {
    return Error(Errc::not_found, "cell " + cell + " " + verb + " secret " + str::quote(sec) + ", which no longer exists",
                 "brig secrets add " + sec + " - < FILE, then brig cell start " + cell);
  };
  for (const auto& sec : rec->secrets) {
    if (!fs::exists(ctx_.paths.secret(sec))) return gone("mounts", sec);
  }
  // Injected secrets: warden's file gets their values as they are now (the
  // placeholders stay: the container's env was fixed at create).
  std::vector<state::InjectedSecret> injections;
  for (const auto& i : rec->injected) {
    auto value = injectable_value(ctx_.paths, i.name);
    if (!value && value.error().code() == Errc::not_found) return gone("injects", i.name);
    if (!value) return value.error();
    injections.push_back({i.name, i.env, i.placeholder, std::move(*value), i.hosts, i.allow_plaintext});
  }
  // Its host sockets, on the real files, before anything changes: the
  // container mounts the paths `brig run` checked.
  BRIG_TRY(recheck_host_sockets(*rec, ctx_.paths.home()));
  // The network and warden's attachment may be gone after `system down`.
  const std::string network = network_of(*rec);
  if (!ctx_.podman.network_exists(network)) {
    auto out = ctx_.podman.run(network_create_args(network, rec->subnet, cell));
    if (!out || !out->success()) return Error(Errc::failed, "recreating network " + network);
  }
  BRIG_TRY(connect_warden(ctx_.podman, *rec));
  BRIG_TRY(ensure_bridge_ipv6_off(ctx_.podman, ctx_.proc_sys, network));
  BRIG_TRY(fs::make_dirs(ctx_.paths.cell_state(cell) + "/brig", 0755));
  BRIG_TRY(cell_files::write_cell_json(ctx_.paths, *rec));
  if (cell_files::trusts_warden_ca(*rec)) BRIG_TRY(cell_files::write_ca_bundle(ctx_.paths, cell));
  BRIG_TRY(state::store_secret_injections(ctx_.paths, cell, injections));
  auto rc = start_cell(*rec, cell_start_args(cell, cell_runtime(*rec)), true, false);
  if (!rc) return rc.error();
  if (*rc != 0) return Error(Errc::failed, "cell " + cell + " exited right after starting", "brig cell logs " + cell);
  // podman wrote /etc/hosts from the create-time names: make it name the
  // host services as they are now (policy set may have changed them).
  if (rec->spec.contains("host_services")) BRIG_TRY(host_services::refresh_hosts(ctx_, *rec));
  return true;
}

Result<std::string> Cells::remove(const std::string& cell, bool keep_workspace) {
  auto rec = load_record(cell);
  const bool damaged = !rec && rec.error().code() == Errc::invalid;
  if (damaged) {
    // A damaged record: everything of a cell is found by its name but a
    // --workspace of the user's own, which then stays where it is.
    CellRecord by_name;
    by_name.name = cell;
    by_name.workspace = ctx_.paths.workspace(cell);
    // Its network is its subnet's (a cell made before spares: named after it).
    auto held = held_subnet(ctx_.paths, cell);
    if (held && *held) by_name.network = subnet_network(**held);
    rec = std::move(by_name);
  }
  if (!rec) return rec.error();
  // How its last run ended goes into the rm event, for `brig system history`.
  nlohmann::json ended = nlohmann::json::object();
  if (seen_exit_ && seen_exit_->first == cell) {
    ended = exit_json(seen_exit_->second);
  } else if (!damaged) {
    auto state = ctx_.podman.container_state(cell_container(cell));
    if (state && *state && has_run((*state)->status)) ended = exit_json(exit_of(*rec, (*state)->exit_code));
  }
  auto out = ctx_.podman.run({"rm", "--force", "--time", "0", cell_container(cell)});
  if (!out) return out.error();
  // The values warden injected for it go with it.
  BRIG_TRY(state::remove_secret_injections(ctx_.paths, cell));
  // Its routes go before its subnet: warden never routes to an address a later cell may get.
  if (damaged || !ingress::routes(*rec).empty()) BRIG_TRY(state::remove_ingress_cell(ctx_.paths, cell));
  BRIG_TRY(host_services::withdraw(ctx_, cell));
  // Kept as a spare only once its cell's container is surely gone.
  BRIG_TRY(release_network(cell, network_of(*rec), out->success() || is_gone(out->err)));
  (void)state::remove_cell_policy(ctx_.paths, cell);  // a policy without its cell is harmless
  const std::string state = ctx_.paths.cell_state(cell);
  std::string kept;
  std::error_code ec;
  if (keep_workspace && rec->workspace == ctx_.paths.workspace(cell) && fs::exists(rec->workspace)) {
    // A kept workspace leaves the cell's state, so the name is free again and
    // prune never mistakes it for debris.
    BRIG_TRY(fs::make_dirs(ctx_.paths.home() + "/workspaces", 0755));
    kept = ctx_.paths.home() + "/workspaces/" + cell;
    if (fs::exists(kept)) kept += "-" + timefmt::now_rfc3339();
    if (::rename(rec->workspace.c_str(), kept.c_str()) != 0) return errno_error("keeping the workspace in " + kept, errno);
  }
  stdfs::remove_all(state, ec);  // a user's own --workspace directory lives elsewhere and stays
  if (ec) return Error(Errc::io, "removing " + state + ": " + ec.message());
  ended["kept_workspace"] = kept;
  ctx_.event("rm", cell, ended);
  return kept;
}

Result<CellExit> Cells::wait(const std::string& cell) {
  auto rec = load_record(cell);
  if (!rec) return rec.error();
  auto out = ctx_.podman.run({"wait", cell_container(cell)}, std::chrono::hours(24 * 365));
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "waiting for " + cell + ": " + std::string(str::trim(out->err)));
  return exit_of(*rec, std::atoi(std::string(str::trim(out->out)).c_str()));
}

Result<CellUsage> Cells::usage(const std::string& cell) {
  auto st = status(cell);
  if (!st) return st.error();
  if (st->state != "running") return Error(Errc::failed, "cell " + cell + " is " + st->state, "brig cell start " + cell);
  auto out = ctx_.podman.run(cell_stats_args(cell));
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "podman stats " + cell + ": " + std::string(str::trim(out->err)));
  try {
    auto j = nlohmann::json::parse(out->out);
    if (!j.is_array() || j.empty() || !j[0].is_object()) throw std::runtime_error("no row for the cell");
    const auto& r = j[0];
    return CellUsage{cell,
                     stat_field(r, {"cpu_percent", "CPU"}),
                     stat_field(r, {"mem_usage", "MemUsage"}),
                     stat_field(r, {"mem_percent", "MemPerc"}),
                     stat_field(r, {"net_io", "netio", "NetIO"}),
                     stat_field(r, {"block_io", "blocki", "BlockIO"}),
                     stat_field(r, {"pids", "PIDs", "PIDS"})};
  } catch (const std::exception& e) {
    return Error(Errc::failed, std::string("podman stats printed something brig cannot read: ") + e.what());
  }
}

Result<std::string> Cells::logs(const std::string& cell, int tail) {
  std::vector<std::string> a = {"logs"};
  if (tail > 0) a.insert(a.end(), {"--tail", std::to_string(tail)});
  a.push_back(cell_container(cell));
  auto out = ctx_.podman.run(a);
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "reading logs of " + cell + ": " + std::string(str::trim(out->err)));
  return out->out + out->err;
}

Result<int> Cells::attach_podman(const std::vector<std::string>& args) {
  proc::Command c;
  c.argv = {"podman"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  return on_terminal(c);
}

Result<int> Cells::on_terminal(proc::Command c) { return ctx_.podman.on_terminal(std::move(c)); }

std::string network_mode(const CellRecord& r) {
  return r.runtime == "runsc" ? "runsc/" + r.runsc_network : r.runtime + " (WEAKER)";
}

nlohmann::json cell_status_json(const CellStatus& c) {
  if (c.state == "damaged") return {{"name", c.record.name}, {"state", c.state}, {"reason", c.reason}};
  // An exit code only once the cell has one (not while it runs).
  const bool exited = c.state == "exited" || c.state == "stopped";
  nlohmann::json row = {{"name", c.record.name}, {"state", c.state}, {"image", c.record.image},
                        {"runtime", c.record.runtime}, {"network_mode", network_mode(c.record)},
                        {"address", c.record.subnet.cell_ip()}, {"created", c.record.created},
                        {"exit_code", exited ? nlohmann::json(c.exit_code) : nlohmann::json(nullptr)}};
  if (exited && !c.exit_reason.empty()) row["exit_reason"] = c.exit_reason;
  if (!c.record.pool.empty()) {
    row["pool"] = c.record.pool;
    row["claimed"] = c.record.claimed;
  }
  return row;
}

}  // namespace brig::engine
