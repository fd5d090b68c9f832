// Warm pools (pools.h): the definition file, the members, the refiller's
// loop, and claims.
#include "brig/engine/pools.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <random>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/host.h"
#include "brig/engine/subnets.h"
#include "brig/spec/json.h"
#include "brig/spec/validate.h"
#include "brig/state/cell_policy.h"
#include "brig/state/warden_runtime.h"
#include "cell_files.h"
#include "daemon.h"

namespace brig::engine {
namespace {

namespace stdfs = std::filesystem;

daemon::Spec refiller(const Paths& paths, const std::string& pool) {
  daemon::Spec d;
  d.what = "the refiller of pool " + pool;
  d.verb = " pool refill ";
  d.pidfile = paths.pool_pidfile(pool);
  d.log = paths.pool_log(pool);
  d.event = "pool_refill";
  d.grace_ms = 15000;  // a member being made is finished, not left half made
  return d;
}

// A member as its ready mark (pool-member.json) describes it.
struct Member {
  std::string cell;
  bool ready = false;
  std::string container_id, oci_config;
  long pid = 0;          // the sandbox's host pid
  std::int64_t ready_at = 0;
};

bool alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

Member read_member(const Paths& paths, const std::string& cell) {
  Member m;
  m.cell = cell;
  auto text = fs::read_file(paths.pool_member(cell), 1 << 16);
  if (!text) return m;
  try {
    auto j = nlohmann::json::parse(*text);
    m.container_id = j.at("id").get<std::string>();
    m.oci_config = j.at("oci_config").get<std::string>();
    m.pid = j.at("pid").get<long>();
    m.ready_at = j.at("ready_at").get<std::int64_t>();
    m.ready = true;
  } catch (const std::exception&) {
    // a damaged mark: not ready; the refiller drops it
  }
  return m;
}

std::string random_suffix() {
  std::random_device rd;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06x", rd() & 0xffffff);
  return buf;
}

}  // namespace

std::optional<std::string> pool_name_problem(const std::string& name) {
  if (auto bad = spec::check_cell_name(name)) return bad;
  if (name.size() > 40) return "a pool name has at most 40 characters (its cells are named <pool>-<6 hex>)";
  return std::nullopt;
}

std::string pool_spec_problem(const spec::CellSpec& s) {
  if (s.timeout.has()) return "timeout";
  if (s.ingress.has() && !s.ingress->empty()) return "ingress";
  if (s.host_services.has() && !s.host_services->empty()) return "host_services";
  if (s.host_sockets.has() && !s.host_sockets->empty()) return "host_sockets";
  if (s.secrets.has()) {
    for (const auto& sec : *s.secrets) {
      if (sec.injected()) return "secrets injected by warden (env and hosts)";
    }
  }
  return "";
}

nlohmann::json to_json(const PoolDef& d) {
  nlohmann::json j = {{"name", d.name}, {"spec", d.spec}, {"size", d.size}, {"created", d.created}};
  if (d.max_age_s > 0) j["max_age_s"] = d.max_age_s;
  return j;
}

Result<PoolDef> pool_from_json(const nlohmann::json& j, const std::string& source) {
  try {
    PoolDef d;
    d.name = j.at("name").get<std::string>();
    d.spec = j.at("spec");
    d.size = j.at("size").get<int>();
    d.max_age_s = j.value("max_age_s", 0L);
    d.created = j.value("created", "");
    if (!d.spec.is_object() || d.size < 0 || d.size > kMaxPoolSize || d.max_age_s < 0) {
      throw std::runtime_error("spec, size or max_age_s out of range");
    }
    return d;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, source + " is damaged: " + e.what(), "brig pool rm NAME, then create it again");
  }
}

Result<PoolDef> Pools::load(const std::string& name) {
  if (auto bad = pool_name_problem(name)) {
    return Error(Errc::usage, "invalid pool name " + str::quote(name) + ": " + *bad, "list pools with: brig pool list");
  }
  const std::string path = ctx_.paths.pool(name);
  if (!fs::exists(path)) {
    return Error(Errc::not_found, "no pool named " + str::quote(name), "list pools with: brig pool list");
  }
  auto text = fs::read_file(path, 1 << 20);
  if (!text) return text.error();
  try {
    return pool_from_json(nlohmann::json::parse(*text), path);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, path + " is not JSON: " + e.what(), "brig pool rm " + name + ", then create it again");
  }
}

namespace {

// The members of `pool` (its cells not yet claimed), oldest ready first.
std::vector<Member> members_of(Cells& cells, const Paths& paths, const std::string& pool) {
  std::vector<Member> out;
  for (const auto& cell : cell_files::cell_names(paths)) {
    auto rec = cells.load_record(cell);
    if (!rec || rec->pool != pool || rec->claimed) continue;
    out.push_back(read_member(paths, cell));
  }
  std::stable_sort(out.begin(), out.end(), [](const Member& a, const Member& b) {
    if (a.ready != b.ready) return a.ready;
    return a.ready_at < b.ready_at;
  });
  return out;
}

}  // namespace

Status Pools::create(const PoolDef& def, const std::string& brig_binary) {
  if (auto bad = pool_name_problem(def.name)) {
    return Error(Errc::usage, "invalid pool name " + str::quote(def.name) + ": " + *bad, "brig pool create web IMAGE --size 2");
  }
  BRIG_TRY(fs::make_dirs(ctx_.paths.pools_dir(), 0700));
  const std::string path = ctx_.paths.pool(def.name);
  // O_EXCL: of two creates of one name, one wins.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    return Error(Errc::exists, "a pool named " + str::quote(def.name) + " already exists",
                 "brig pool rm " + def.name + " first, or pick another name");
  }
  if (fd < 0) return errno_error("creating " + path, errno);
  ::close(fd);
  if (auto st = fs::write_atomic(path, to_json(def).dump(2) + "\n", 0600); !st) {
    ::unlink(path.c_str());
    return st;
  }
  ctx_.event("pool_create", "", {{"pool", def.name}, {"size", def.size}});
  if (auto st = start_refiller(def.name, brig_binary); !st) {
    ::unlink(path.c_str());
    return st;
  }
  return {};
}

Result<std::vector<PoolStatus>> Pools::list() {
  std::vector<PoolStatus> out;
  std::map<std::string, std::size_t> index;
  for (const auto& name : fs::list_names(ctx_.paths.pools_dir(), ".json")) {
    auto def = load(name);
    if (!def) return def.error();
    PoolStatus st;
    st.def = std::move(*def);
    st.refilling = daemon::pid(refiller(ctx_.paths, name)) > 0;
    index[name] = out.size();
    out.push_back(std::move(st));
  }
  for (const auto& cell : cell_files::cell_names(ctx_.paths)) {
    auto rec = cells_.load_record(cell);
    if (!rec || rec->pool.empty() || !index.count(rec->pool)) continue;
    PoolStatus& st = out[index[rec->pool]];
    if (rec->claimed) {
      ++st.claimed;
    } else if (read_member(ctx_.paths, cell).ready) {
      ++st.ready;
    } else {
      ++st.starting;
    }
  }
  return out;
}

Status Pools::remove(const std::string& name) {
  BRIG_TRY(load(name));
  BRIG_TRY(stop_refiller(name));
  for (const auto& m : members_of(cells_, ctx_.paths, name)) BRIG_TRY(drop_member(m.cell));
  if (::unlink(ctx_.paths.pool(name).c_str()) != 0 && errno != ENOENT) {
    return errno_error("removing " + ctx_.paths.pool(name), errno);
  }
  ctx_.event("pool_rm", "", {{"pool", name}});
  return {};
}

Status Pools::start_refiller(const std::string& name, const std::string& brig_binary) {
  const auto d = refiller(ctx_.paths, name);
  BRIG_TRY(fs::make_dirs(ctx_.paths.run_dir() + "/pools", 0700));
  return daemon::start(ctx_, d, {brig_binary, "pool", "refill", "--pidfile", d.pidfile, name}, brig_binary, {},
                       {{"pool", name}});
}

Status Pools::stop_refiller(const std::string& name) { return daemon::stop(ctx_, refiller(ctx_.paths, name)); }

Status Pools::start_refillers(const std::string& brig_binary) {
  for (const auto& name : fs::list_names(ctx_.paths.pools_dir(), ".json")) BRIG_TRY(start_refiller(name, brig_binary));
  return {};
}

Result<std::vector<std::string>> Pools::stop_all() {
  std::vector<std::string> done;
  for (const auto& name : fs::list_names(ctx_.paths.pools_dir(), ".json")) {
    BRIG_TRY(stop_refiller(name));
    for (const auto& m : members_of(cells_, ctx_.paths, name)) {
      BRIG_TRY(drop_member(m.cell));
      done.push_back("pool " + name + ": cell " + m.cell);
    }
  }
  return done;
}

Status Pools::drop_member(const std::string& cell) {
  // Unmarked under the state lock, so no claim takes it from here on (one
  // that took it already has renamed it: then there is nothing to drop).
  bool ours = false;
  const Status unmarked = with_state_lock(ctx_.paths, [&]() -> Status {
    auto rec = cells_.load_record(cell);
    ours = rec && !rec->pool.empty() && !rec->claimed;
    if (ours) ::unlink(ctx_.paths.pool_member(cell).c_str());
    return {};
  });
  if (!unmarked) return unmarked.error();
  if (!ours) return {};
  BRIG_TRY(cells_.remove(cell, false));
  return {};
}

Status Pools::make_member(const std::string& pool, const spec::Resolved& resolved) {
  spec::Resolved r = resolved;
  const std::string cell = pool + "-" + random_suffix();
  r.spec.name.set(cell, spec::Origin::builtin());
  RunOptions o;
  o.detach = true;
  o.quiet = true;
  o.pool = pool;
  auto rc = cells_.run(r, o);
  if (!rc) return rc.error();
  if (*rc != 0) return Error(Errc::failed, "pool " + pool + ": cell " + cell + " exited right after starting");
  auto out = ctx_.podman.run({"container", "inspect", "--format", "{{.Id}} {{.State.Pid}} {{.OCIConfigPath}}",
                              cell_container(cell)});
  auto fields = out && out->success() ? str::split(std::string(str::trim(out->out)), ' ') : std::vector<std::string>{};
  if (fields.size() != 3 || std::atol(fields[1].c_str()) <= 0) {
    (void)drop_member(cell);
    return Error(Errc::failed, "pool " + pool + ": podman does not tell cell " + cell + "'s sandbox");
  }
  nlohmann::json mark = {{"pool", pool},
                         {"id", fields[0]},
                         {"pid", std::atol(fields[1].c_str())},
                         {"oci_config", fields[2]},
                         {"ready_at", timefmt::now_seconds()}};
  return fs::write_atomic(ctx_.paths.pool_member(cell), mark.dump() + "\n", 0600);
}

Status Pools::refill(const std::string& name, const spec::Resolved& resolved, const std::function<bool()>& stop) {
  auto pause = [&](int ms) {
    for (int i = 0; i < ms / 100 && !stop(); ++i) ctx_.clock.sleep_for(std::chrono::milliseconds(100));
  };
  // What a refiller that was killed left half made goes first.
  for (const auto& m : members_of(cells_, ctx_.paths, name)) {
    if (!m.ready) BRIG_TRY(drop_member(m.cell));
  }
  while (!stop()) {
    auto def = load(name);
    if (!def && def.error().code() == Errc::not_found) return {};
    if (!def) return def.error();
    int live = 0;
    const std::int64_t now = timefmt::now_seconds();
    for (const auto& m : members_of(cells_, ctx_.paths, name)) {
      const bool aged = def->max_age_s > 0 && now - m.ready_at >= def->max_age_s;
      if (m.ready && (!alive(m.pid) || aged)) {
        std::fprintf(stderr, "pool %s: dropping %s (%s)\n", name.c_str(), m.cell.c_str(), aged ? "max age" : "not running");
        if (auto st = drop_member(m.cell); !st) std::fprintf(stderr, "pool %s: %s\n", name.c_str(), st.error().message().c_str());
        continue;
      }
      ++live;
    }
    if (live >= def->size) {
      pause(500);
      continue;
    }
    if (auto st = make_member(name, resolved); !st) {
      std::fprintf(stderr, "pool %s: %s\n", name.c_str(), st.error().message().c_str());
      pause(5000);  // a broken image or a full machine: not a hot loop
    }
  }
  return {};
}

Result<std::optional<Claimed>> Pools::claim(const ClaimRequest& req) {
  BRIG_TRY(load(req.pool));
  const std::string name = req.name.empty() ? generate_cell_name() : req.name;
  if (auto bad = spec::check_cell_name(name)) {
    return Error(Errc::usage, "invalid cell name " + str::quote(name) + ": " + *bad, "--name my-cell");
  }
  const Paths& paths = ctx_.paths;
  std::optional<Claimed> out;
  const Status taken = with_state_lock(paths, [&]() -> Status {
    if (fs::exists(paths.cell_state(name))) {
      return Error(Errc::exists, "a cell named " + str::quote(name) + " already exists",
                   "remove it (brig cell rm " + name + ") or pick another name (--name)");
    }
    for (const auto& m : members_of(cells_, paths, req.pool)) {
      if (!m.ready || !alive(m.pid)) continue;
      auto rec = cells_.load_record(m.cell);
      if (!rec) continue;
      // The container first: podman refuses a name in use, and nothing else has changed yet.
      auto renamed = ctx_.podman.run({"rename", cell_container(m.cell), cell_container(name)});
      if (!renamed) return renamed.error();
      if (!renamed->success()) {
        return Error(Errc::exists, "cannot name the cell " + name + ": " + std::string(str::trim(renamed->err)),
                     "pick another name (--name)");
      }
      if (::renameat2(AT_FDCWD, paths.cell_state(m.cell).c_str(), AT_FDCWD, paths.cell_state(name).c_str(),
                      RENAME_NOREPLACE) != 0) {
        const int err = errno;
        (void)ctx_.podman.run({"rename", cell_container(name), cell_container(m.cell)});
        return errno_error("renaming " + paths.cell_state(m.cell), err);
      }
      // From here on the member is the new cell: warden's map, its policy, its record.
      auto map = read_subnet_map(paths);
      if (!map) return map.error();
      for (auto& [cidr, owner] : *map) {
        if (owner == m.cell) owner = name;
      }
      BRIG_TRY(state::store_subnet_map(paths, *map));
      nlohmann::json doc = nlohmann::json::object();
      if (auto text = state::read_cell_policy(paths, m.cell)) {
        auto parsed = state::parse_cell_policy(*text, paths.cell_policy(m.cell));
        if (!parsed) return parsed.error();
        doc = std::move(*parsed);
      }
      if (!req.allow.empty()) {
        state::PolicyEdit edit;
        for (const auto& a : req.allow) edit.allow.push_back({a, {}, {}});
        auto applied = state::apply_policy_edit(doc, name, edit, timefmt::now_seconds());
        if (!applied) return applied.error();
      }
      BRIG_TRY(state::store_cell_policy(paths, name, doc));
      (void)state::remove_cell_policy(paths, m.cell);
      CellRecord& r = *rec;
      if (r.workspace == paths.workspace(m.cell)) r.workspace = paths.workspace(name);
      r.network = network_of(r);
      r.name = name;
      r.claimed = true;
      r.spec["name"] = name;
      BRIG_TRY(fs::write_atomic(cell_files::record_path(paths, name), cell_files::dump(to_json(r), 2) + "\n", 0600));
      BRIG_TRY(cell_files::write_cell_json(paths, r));
      ::unlink(paths.pool_member(name).c_str());
      out = Claimed{std::move(r), m.cell, m.container_id, m.oci_config};
      return {};
    }
    return {};
  });
  if (!taken) return taken.error();
  if (!out) return out;
  // Warden reloads at once rather than at its next look (a quarter second).
  if (auto w = state::load_warden_runtime(paths); w && w->pid > 0) ::kill(static_cast<pid_t>(w->pid), SIGHUP);
  ctx_.event("claim", name, {{"pool", req.pool}, {"member", out->member}, {"allow", req.allow}});
  return out;
}

Result<int> Pools::exec(const Claimed& c, const ClaimExec& x) {
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  if (x.command.empty()) return Error(Errc::usage, "no command to run in " + c.record.name, "brig run --pool POOL -- CMD");
  // The cell's own process as podman made it (user, capabilities,
  // no_new_privs, rlimits, cwd, env), running the command instead.
  auto text = fs::read_file(c.oci_config, 4 << 20);
  if (!text) return text.error().context("cell " + c.record.name);
  nlohmann::json process;
  try {
    process = nlohmann::json::parse(*text).at("process");
  } catch (const std::exception& e) {
    return Error(Errc::failed, c.oci_config + " is not an OCI config: " + e.what(), "brig cell rm " + c.record.name);
  }
  process["args"] = x.command;
  process["terminal"] = false;
  std::vector<std::string> env = process.value("env", std::vector<std::string>{});
  for (const auto& [k, v] : x.env) {
    std::erase_if(env, [&](const std::string& e) { return e.compare(0, k.size() + 1, k + "=") == 0; });
    env.push_back(k + "=" + v);
  }
  process["env"] = env;
  const std::string file = ctx_.paths.cell_state(c.record.name) + "/exec-" + std::to_string(::getpid()) + ".json";
  BRIG_TRY(fs::write_atomic(file, process.dump(), 0600));
  proc::Command cmd;
  cmd.argv = {cfg->runsc, "--root", kRunscRoot};
  const auto flags = runtime_flags(cell_runtime(c.record));
  for (std::size_t i = 1; i < flags.size(); i += 2) cmd.argv.push_back("--" + flags[i]);
  cmd.argv.insert(cmd.argv.end(), {"exec", "--process", file, c.container_id});
  cmd.inherit_stdio = true;
  if (!x.interactive) cmd.stdin_file = "/dev/null";
  ctx_.event("start", c.record.name, {{"command", x.command}});
  auto out = ctx_.runner.run(cmd);
  ::unlink(file.c_str());
  if (!out) return out.error();
  ctx_.event("exit", c.record.name, {{"exit_code", out->exit_code}});
  return out->exit_code;
}

}  // namespace brig::engine
