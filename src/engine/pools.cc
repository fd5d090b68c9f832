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


// Signals that would end brig mid-claim are held until it is done (a claim
// half made would be a cell under two names).
class HoldSignals {
 public:
  HoldSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~HoldSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  HoldSignals(const HoldSignals&) = delete;
  HoldSignals& operator=(const HoldSignals&) = delete;

 private:
  sigset_t old_;
};



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
  if (s.runtime.has() && *s.runtime != "runsc") return "runtime " + *s.runtime;
  if (s.workspace.has()) return "workspace (every cell of the pool would share it)";
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

std::vector<std::string> claim_argv(const PoolDef& d, const std::vector<std::string>& command) {
  std::vector<std::string> argv = d.image_entrypoint;
  const auto spec_command = d.spec.value("command", std::vector<std::string>{});
  const auto& rest = !command.empty() ? command : !spec_command.empty() ? spec_command : d.image_cmd;
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

nlohmann::json to_json(const PoolDef& d) {
  nlohmann::json j = {{"name", d.name},         {"spec", d.spec},
                      {"size", d.size},         {"created", d.created},
                      {"image_entrypoint", d.image_entrypoint}, {"image_cmd", d.image_cmd}};
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
    d.image_entrypoint = j.value("image_entrypoint", std::vector<std::string>{});
    d.image_cmd = j.value("image_cmd", std::vector<std::string>{});
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

Status Pools::create(PoolDef def, const std::string& brig_binary) {
  if (auto bad = pool_name_problem(def.name)) {
    return Error(Errc::usage, "invalid pool name " + str::quote(def.name) + ": " + *bad, "brig pool create web IMAGE --size 2");
  }
  const std::string image = def.spec.value("image", "");
  auto inspected = ctx_.podman.run({"image", "inspect", "--format", "{{json .Config.Entrypoint}}\n{{json .Config.Cmd}}", image});
  if (!inspected) return inspected.error();
  if (!inspected->success()) {
    return Error(Errc::not_found, "image " + image + " is not here: " + std::string(str::trim(inspected->err)),
                 "brig image pull " + image + " (or build it), then create the pool");
  }
  try {
    auto lines = str::split(std::string(str::trim(inspected->out)), '\n');
    auto list = [](const std::string& text) {
      auto j = nlohmann::json::parse(text);
      return j.is_array() ? j.get<std::vector<std::string>>() : std::vector<std::string>{};
    };
    if (lines.size() != 2) throw std::runtime_error("two lines expected");
    def.image_entrypoint = list(lines[0]);
    def.image_cmd = list(lines[1]);
  } catch (const std::exception& e) {
    return Error(Errc::failed, "podman image inspect " + image + " printed something brig cannot read: " + e.what());
  }
  BRIG_TRY(fs::make_dirs(ctx_.paths.pools_dir(), 0700));
  // Written whole beside it, then linked in: of two creates of one name one
  // wins, and no reader ever sees half a file.
  const std::string path = ctx_.paths.pool(def.name);
  const std::string tmp = path + ".new-" + std::to_string(::getpid());
  BRIG_TRY(fs::write_atomic(tmp, to_json(def).dump(2) + "\n", 0600));
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno == EEXIST) {
    return Error(Errc::exists, "a pool named " + str::quote(def.name) + " already exists",
                 "brig pool rm " + def.name + " first, or pick another name");
  }
  if (linked != 0) return errno_error("creating " + path, link_errno);
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
    PoolStatus st;
    if (def) {
      st.def = std::move(*def);
    } else {
      st.def.name = name;
      st.problem = def.error().message();
    }
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
  // A damaged definition is removed as well (its cells are found by record).
  if (auto def = load(name); !def && def.error().code() != Errc::invalid) return def.error();
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
  // Every pool is emptied even when one cannot be: the first error is returned.
  std::vector<std::string> done;
  std::optional<Error> first;
  auto note = [&](const Status& st) {
    if (!st && !first) first = st.error();
    return st.ok();
  };
  for (const auto& name : fs::list_names(ctx_.paths.pools_dir(), ".json")) {
    if (!note(stop_refiller(name))) continue;
    for (const auto& m : members_of(cells_, ctx_.paths, name)) {
      if (note(drop_member(m.cell))) done.push_back("pool " + name + ": cell " + m.cell);
    }
  }
  if (first) return *first;
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
  while (!stop()) {
    auto def = load(name);
    if (!def && def.error().code() == Errc::not_found) return {};
    if (!def) return def.error();
    int live = 0;
    const std::int64_t now = timefmt::now_seconds();
    for (const auto& m : members_of(cells_, ctx_.paths, name)) {
      // This loop makes one cell at a time: one not ready here is what a
      // failed start or drop (or a killed refiller) left.
      const bool aged = def->max_age_s > 0 && now - m.ready_at >= def->max_age_s;
      if (!m.ready || !daemon::is_process(m.pid, "runsc") || aged) {
        const char* why = !m.ready ? "left half made" : aged ? "max age" : "not running";
        std::fprintf(stderr, "pool %s: dropping %s (%s)\n", name.c_str(), m.cell.c_str(), why);
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
  HoldSignals held;
  std::optional<Claimed> out;
  const Status taken = with_state_lock(paths, [&]() -> Status {
    if (fs::exists(paths.cell_state(name))) {
      return Error(Errc::exists, "a cell named " + str::quote(name) + " already exists",
                   "remove it (brig cell rm " + name + ") or pick another name (--name)");
    }
    for (const auto& m : members_of(cells_, paths, req.pool)) {
      if (!m.ready || !daemon::is_process(m.pid, "runsc")) continue;
      auto rec = cells_.load_record(m.cell);
      if (!rec) continue;
      // Everything that can be refused is decided before anything changes:
      // the cell's policy with the claim's hosts (an airgapped one refuses).
      nlohmann::json doc = nlohmann::json::object();
      if (auto text = state::read_cell_policy(paths, m.cell)) {
        auto parsed = state::parse_cell_policy(*text, paths.cell_policy(m.cell));
        if (!parsed) return parsed.error();
        doc = std::move(*parsed);
      } else if (text.error().code() != Errc::not_found) {
        return text.error();
      }
      if (!req.allow.empty()) {
        state::PolicyEdit edit;
        for (const auto& a : req.allow) edit.allow.push_back({a, {}, {}});
        auto applied = state::apply_policy_edit(doc, name, edit, timefmt::now_seconds());
        if (!applied) return applied.error();
      }
      auto map = read_subnet_map(paths);
      if (!map) return map.error();
      CellRecord r = *rec;
      if (r.workspace == paths.workspace(m.cell)) r.workspace = paths.workspace(name);
      r.network = network_of(r);
      r.name = name;
      r.claimed = true;
      r.spec["name"] = name;

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
      // Its files under the new name, then warden's map last: until the map
      // names the cell, warden keeps the member's (stricter) policy for it.
      auto undo = [&](const Error& e) -> Status {
        (void)state::remove_cell_policy(paths, name);
        (void)fs::write_atomic(cell_files::record_path(paths, name), cell_files::dump(to_json(*rec), 2) + "\n", 0600);
        ::rename(paths.cell_state(name).c_str(), paths.cell_state(m.cell).c_str());
        (void)ctx_.podman.run({"rename", cell_container(name), cell_container(m.cell)});
        return e;
      };
      if (auto st = state::store_cell_policy(paths, name, doc); !st) return undo(st.error());
      if (auto st = fs::write_atomic(cell_files::record_path(paths, name), cell_files::dump(to_json(r), 2) + "\n", 0600);
          !st) {
        return undo(st.error());
      }
      for (auto& [cidr, owner] : *map) {
        if (owner == m.cell) owner = name;
      }
      if (auto st = state::store_subnet_map(paths, *map); !st) return undo(st.error());
      (void)state::remove_cell_policy(paths, m.cell);
      ::unlink(paths.pool_member(name).c_str());
      if (auto st = cell_files::write_cell_json(paths, r); !st) {
        std::fprintf(stderr, "warning: %s\n", st.error().message().c_str());
      }
      out = Claimed{std::move(r), m.cell, m.container_id, m.oci_config};
      return {};
    }
    return {};
  });
  if (!taken) return taken.error();
  if (!out) return out;
  // Warden reloads at once rather than at its next look (a quarter second).
  if (auto w = state::load_warden_runtime(paths); w && daemon::is_process(w->pid, "warden")) {
    ::kill(static_cast<pid_t>(w->pid), SIGHUP);
  }
  ctx_.event("claim", name, {{"pool", req.pool}, {"member", out->member}, {"allow", req.allow}});
  return out;
}

Result<int> Pools::exec(const Claimed& c, const ClaimExec& x) {
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  if (x.argv.empty()) return Error(Errc::usage, "no command to run in " + c.record.name, "brig run --pool POOL -- CMD");
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
  process["args"] = x.argv;
  process["terminal"] = false;
  std::vector<std::string> env = process.value("env", std::vector<std::string>{});
  auto put = [&](const std::string& k, const std::string& v) {
    std::erase_if(env, [&](const std::string& e) { return e.compare(0, k.size() + 1, k + "=") == 0; });
    env.push_back(k + "=" + v);
  };
  // As in a cold cell (cell_files::cell_env): the proxy variables and the
  // name are brig's; the CA variables and everything else the user's.
  for (const auto& [k, v] : x.env) {
    const bool ca = std::find(std::begin(spec::kCellCaBundleEnv), std::end(spec::kCellCaBundleEnv), k) !=
                    std::end(spec::kCellCaBundleEnv);
    if (ca || !spec::brig_sets_env(k)) put(k, v);
  }
  put(std::string(spec::kCellNameEnv), c.record.name);
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
  ctx_.event("start", c.record.name, {{"command", x.argv}});
  auto out = ctx_.runner.run(cmd);
  ::unlink(file.c_str());
  if (!out) return out.error();
  ctx_.event("exit", c.record.name, {{"exit_code", out->exit_code}});
  return out->exit_code;
}

}  // namespace brig::engine
