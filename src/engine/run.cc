// brig run: validate (the host checks) -> plan (plan_cell, pure) -> apply the
// plan step by step with rollback -> start; and preflight, which runs the same
// host checks without changing anything.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/cells.h"
#include "brig/engine/plan.h"
#include "brig/engine/secrets.h"
#include "brig/engine/subnets.h"
#include "brig/state/cell_policy.h"
#include "brig/state/ingress_routes.h"
#include "brig/state/secret_injections.h"
#include "cell_files.h"
#include "cell_network.h"
#include "diagnosis.h"
#include "host_checks.h"
#include "host_services.h"
#include "host_sockets.h"
#include "ingress.h"
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

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A podman run that failed before its container existed (image unknown,
// name in use, bad limits): nothing ran, and the run is undone.
Error create_failure(const std::string& podman_err) {
  const std::string why(str::trim(podman_err));
  return Error(Errc::failed, "podman could not create the cell" + (why.empty() ? std::string() : ": " + why),
               "check the image and limits with: brig cell preflight, or brig run --dry-run");
}

}  // namespace

Result<int> Cells::run(const spec::Resolved& resolved, const RunOptions& opts) {
  const spec::CellSpec& s = resolved.spec;
  // --- validate against the host: everything that can be checked before any change ---
  BRIG_TRY(check_concrete(s));
  const std::string name = s.name.has() ? *s.name : generate_cell_name();
  auto cfg = load_host_config(ctx_.paths);
  auto checks = check_host(ctx_, resolved, cfg, name, true);
  for (auto& c : checks) {
    if (c.failure) return std::move(*c.failure);
  }
  std::vector<HostSocketRef> sockets;  // as checked: what the cell mounts
  std::string image_id;                // a pinned image, as checked
  for (const auto& c : checks) {
    if (!c.warning.empty()) std::fprintf(stderr, "warning: %s\n", c.warning.c_str());
    if (!c.image_id.empty()) image_id = c.image_id;
    if (!c.socket) continue;
    sockets.push_back(*c.socket);
    if (!opts.quiet) std::fprintf(stderr, "note: %s\n", host_socket_note(*c.socket).c_str());
  }
  // Injected secrets: a placeholder each, fresh for this cell and run.
  std::map<std::string, std::string> placeholders;
  for (const auto& sec : s.secrets.has() ? *s.secrets : spec::SecretList{}) {
    if (!sec.injected()) continue;
    auto ph = new_placeholder(sec.name);
    if (!ph) return ph.error();
    placeholders[sec.name] = *ph;
    if (!opts.quiet) {
      std::fprintf(stderr, "note: secret %s is injected by warden for %s; the cell sees a placeholder in $%s\n",
                   sec.name.c_str(), str::join(sec.hosts, ", ").c_str(), sec.env.c_str());
    }
  }

  // --- apply: the plan, step by step, each applied step undone if a later one fails ---
  Rollback rb;
  auto fail = [&](const Error& e) -> Result<int> {
    Rollback::Report r = rb.run();
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& f : r.failed) failed.push_back({{"step", f.step}, {"error", f.error.message()}});
    ctx_.event("rollback", name, {{"error", e.message()}, {"undone", r.undone}, {"undo_failed", failed}});
    return with_rollback(e, r);
  };
  const std::string state = ctx_.paths.cell_state(name);
  BRIG_TRY(fs::make_dirs(ctx_.paths.state_dir(), 0755));
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

  // A spare network when one is ready (made and attached to warden: nothing
  // to make), else a subnet of its own and its network made below.
  auto spare = take_spare(ctx_.paths, name, now_ms());
  if (!spare) return fail(spare.error());
  auto subnet = *spare ? Result<Subnet>((*spare)->subnet) : allocate_subnet(ctx_.paths, name);
  if (!subnet) return fail(subnet.error());
  rb.add("subnet", [this, name]() -> Status {
    auto st = release_subnet(ctx_.paths, name);
    if (!st) return st.error().with_fix("brig system prune --subnets");
    return {};
  });
  // A spare is not handed back on failure: it is removed, as a made one is.
  const std::string spare_network = *spare ? (*spare)->network : std::string();
  if (*spare) rb.add("network", [this, spare_network] { return teardown_network(ctx_.podman, spare_network); });

  auto planned =
      plan_cell(resolved,
                HostFacts{ctx_.paths, *cfg, name, *subnet, timefmt::now_rfc3339(), placeholders, sockets, image_id, opts.pool,
                          opts.idle || !opts.pool.empty()},
                opts.stdio);
  if (!planned) return fail(planned.error());
  const RunPlan& plan = *planned;
  // Shared by every cell (not undone): the runsc shim, where this runsc needs it.
  if (!plan.container.oci_runtime.empty()) {
    if (auto st = write_runsc_shim(ctx_.paths, *cfg); !st) return fail(st.error());
  }

  // The network (podman, ~200 ms) and the files (each an fsync'ed atomic
  // write) do not depend on each other: both are built at once, then joined.
  // Each side's undo is registered before anything can fail past the join.
  std::atomic<bool> net_created{false};
  auto net = *spare ? std::future<Status>()
                    : std::async(std::launch::async, [&]() -> Status { return make_network(plan, net_created); });
  auto files = stage_files(plan, rb);
  Status net_st = net.valid() ? net.get() : Status{};
  if (net_created) rb.add("network", [this, &plan] { return teardown_network(ctx_.podman, plan.network); });
  if (!net_st) return fail(net_st.error());
  if (!files) return fail(files.error());

  // One podman process makes and starts the cell (podman run: a podman
  // startup less than create, then start). BRIG_FAIL_AT=create fails before
  // the container's undo is registered, =start after, as when they were two.
  if (auto st = injected_failure("create"); !st) return fail(st.error());
  // The history in the order things happen: create, start, exit (stop, rm).
  nlohmann::json created_with = {{"image", plan.record.image}, {"subnet", plan.record.subnet.cidr()}, {"runtime", plan.record.runtime}};
  // Uninspected paths out are recorded where they exist (invariant 8).
  if (!plan.record.host_sockets.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& h : plan.record.host_sockets) names.push_back(h.name);
    created_with["host_sockets"] = names;
  }
  ctx_.event("create", name, created_with);
  // Before the run: podman run can fail once the container exists (it is
  // then created, not started); a container never made is already gone.
  // Only a container this run made is removed, by the ID podman wrote
  // (--cidfile): another's holding the name stays.
  rb.add("container", [this, name]() -> Status {
    auto id = fs::read_file(cell_files::container_id_path(ctx_.paths, name), 256);
    const std::string cid = id ? std::string(str::trim(*id)) : std::string();
    if (cid.empty()) return {};
    const std::string fix = "podman rm --force " + cid;
    auto out = ctx_.podman.run({"rm", "--force", cid});
    if (!out) return out.error().with_fix(fix);
    if (!out->success() && !is_gone(out->err)) {
      return Error(Errc::failed, "removing container " + cell_container(name) + ": " + std::string(str::trim(out->err)),
                   fix);
    }
    return {};
  });
  if (auto st = injected_failure("start"); !st) return fail(st.error());
  if (!ingress::routes(plan.record).empty()) {
    rb.add("ingress", [this, name]() -> Status { return state::remove_ingress_cell(ctx_.paths, name); });
  }
  if (!host_services::declared(plan.record).empty()) {
    rb.add("host services", [this, name]() -> Status { return host_services::withdraw(ctx_, name); });
    if (!opts.quiet) {
      for (const auto& n : host_services::notes(plan.record)) std::fprintf(stderr, "note: %s\n", n.c_str());
    }
  }

  auto rc = start_cell(plan.record, opts.detach ? plan.run_detached : plan.run_attached, opts.detach, true);
  if (!rc) return fail(rc.error());
  rb.commit();
  if (!opts.detach && opts.rm) {
    auto kept = remove(name, opts.keep_workspace);
    if (!kept) return kept.error();
    if (!kept->empty()) std::fprintf(stderr, "workspace of %s kept in %s\n", name.c_str(), kept->c_str());
  }
  if (opts.detach && opts.rm) {
    // A reaper outlives us, waits for the exit, removes the cell.
    if (opts.reaper_binary.empty()) return Error(Errc::invalid, "run -d --rm without a reaper binary: a bug in brig");
    proc::Command reaper;
    reaper.argv = reaper_args(opts.reaper_binary, name, opts.keep_workspace);
    BRIG_TRY(ctx_.runner.spawn_detached(reaper));
    if (opts.keep_workspace && plan.record.workspace == ctx_.paths.workspace(name)) {
      std::fprintf(stderr, "when %s exits, its workspace is kept in %s/workspaces/ (brig cell events %s names it)\n",
                   name.c_str(), ctx_.paths.home().c_str(), name.c_str());
    }
  }
  return rc;
}

Status Cells::release_network(const std::string& cell, const std::string& network, bool may_keep) {
  auto cfg = load_host_config(ctx_.paths);
  const int keep = may_keep && cfg ? cfg->spare_networks : 0;
  auto fate = keep_as_spare(ctx_.paths, cell, network, now_ms(), keep);
  if (!fate) return fate.error();
  if (*fate == NetworkRelease::kept) return {};
  if (*fate == NetworkRelease::remove) BRIG_TRY(teardown_network(ctx_.podman, network));
  return release_subnet(ctx_.paths, cell);
}

Status Cells::fill_spares() {
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  const auto keep = static_cast<std::size_t>(std::max(cfg->spare_networks, 0));
  auto spares = list_spares(ctx_.paths);
  if (!spares) return spares.error();
  CellRecord rec;  // what connect_warden needs of a cell: its network and subnet
  // Dropped from the list first (under the lock: a run may have taken it
  // since the list was read), then removed.
  auto drop = [&](const std::string& network) -> Status {
    auto listed = drop_spare(ctx_.paths, network);
    if (!listed) return listed.error();
    return *listed ? teardown_network(ctx_.podman, network) : Status{};
  };
  for (std::size_t i = 0; i < spares->size(); ++i) {
    const SpareNetwork& s = (*spares)[i];
    rec.network = s.network;
    rec.subnet = s.subnet;
    // One being made when a run died, gone from podman, or more than the
    // setting keeps: removed.
    if (i >= keep || s.since_ms == kSpareBeingMade || !ctx_.podman.network_exists(s.network)) {
      BRIG_TRY(drop(s.network));
      continue;
    }
    // Warden restarted lost its attachments (a running one says "already");
    // a spare that cannot be made whole again (warden on it, IPv6 off on its
    // bridge) is removed, never handed out.
    auto whole = connect_warden(ctx_.podman, rec);
    if (whole) whole = ensure_bridge_ipv6_off(ctx_.podman, ctx_.proc_sys, s.network);
    if (!whole) {
      BRIG_TRY(drop(s.network));
      return whole.error();
    }
  }
  spares = list_spares(ctx_.paths);
  if (!spares) return spares.error();
  for (auto n = spares->size(); n < keep; ++n) {
    auto subnet = reserve_spare(ctx_.paths);
    if (!subnet) return subnet.error();
    rec.network = subnet_network(*subnet);
    rec.subnet = *subnet;
    auto made = [&]() -> Status {
      auto out = ctx_.podman.run(network_create_args(rec.network, rec.subnet, "spare"));
      if (!out) return out.error();
      if (!out->success()) {
        return Error(Errc::failed, "creating network " + rec.network + ": " + std::string(str::trim(out->err)));
      }
      BRIG_TRY(connect_warden(ctx_.podman, rec));
      return ensure_bridge_ipv6_off(ctx_.podman, ctx_.proc_sys, rec.network);
    }();
    if (!made) {
      (void)drop(rec.network);
      return made.error();
    }
    BRIG_TRY(ready_spare(ctx_.paths, rec.network, now_ms()));
  }
  return {};
}

Status Cells::remove_spares() {
  auto spares = list_spares(ctx_.paths);
  if (!spares) return spares.error();
  if (spares->empty()) return {};
  // One podman call for all (no container is on a spare but warden).
  Argv rm = {"network", "rm", "--force"};
  for (const auto& s : *spares) rm.push_back(s.network);
  auto out = ctx_.podman.run(rm);
  if (!out) return out.error();
  if (!out->success() && !is_gone(out->err)) {
    return Error(Errc::failed, "removing spare networks: " + std::string(str::trim(out->err)), "brig system prune --subnets");
  }
  for (const auto& s : *spares) {
    if (auto st = drop_spare(ctx_.paths, s.network); !st) return st.error();
  }
  return {};
}

std::vector<std::string> reaper_args(const std::string& brig, const std::string& cell, bool keep_workspace) {
  return {brig, "cell", "rm", "--wait", keep_workspace ? "--keep-workspace" : "--force", cell};
}

Status Cells::make_network(const RunPlan& plan, std::atomic<bool>& created) {
  auto out = ctx_.podman.run(plan.network_create);
  // A network of this subnet's name that no cell or spare holds (the subnet
  // was free) is debris of a crash: removed, then made again, unless a
  // container but warden is on it (that stays; brig system prune --cells).
  if (out && !out->success() && out->err.find("already exists") != std::string::npos && is_subnet_network(plan.network)) {
    auto on = others_on(ctx_.podman, plan.network);
    if (!on) return on.error();
    if (!on->empty()) {
      const std::string& c = on->front();
      return Error(Errc::failed, "network " + plan.network + " exists with container " + c + " on it, and no cell holds it",
                   "podman rm --force " + c + " (if it is not yours to keep), then run again");
    }
    BRIG_TRY(teardown_network(ctx_.podman, plan.network));
    out = ctx_.podman.run(plan.network_create);
  }
  if (!out) return out.error();
  if (!out->success()) {
    return Error(Errc::failed, "creating network " + plan.network + ": " + std::string(str::trim(out->err)));
  }
  created = true;
  BRIG_TRY(injected_failure("network"));
  BRIG_TRY(connect_warden(ctx_.podman, plan.record));
  BRIG_TRY(injected_failure("connect"));
  BRIG_TRY(ensure_bridge_ipv6_off(ctx_.podman, ctx_.proc_sys, plan.network));
  return {};
}

Status Cells::stage_files(const RunPlan& plan, Rollback& rb) {
  const std::string& name = plan.record.name;
  BRIG_TRY(state::store_cell_policy(ctx_.paths, name, plan.policy));
  rb.add("policy", [this, name]() -> Status { return state::remove_cell_policy(ctx_.paths, name); });

  // Warden's file of the values it injects, read from the stored secrets now
  // (the plan holds placeholders only).
  if (!plan.record.injected.empty()) {
    std::vector<state::InjectedSecret> injections;
    for (const auto& i : plan.record.injected) {
      auto value = injectable_value(ctx_.paths, i.name);
      if (!value) return value.error();
      injections.push_back({i.name, i.env, i.placeholder, std::move(*value), i.hosts, i.allow_plaintext});
    }
    rb.add("secrets", [this, name]() -> Status { return state::remove_secret_injections(ctx_.paths, name); });
    BRIG_TRY(state::store_secret_injections(ctx_.paths, name, injections));
    BRIG_TRY(injected_failure("secrets"));
  }

  // What the cell sees of brig: /run/brig (cell.json, CA bundle); all inside
  // state/<cell>, which the "state" step removes.
  BRIG_TRY(fs::make_dirs(plan.state_dir + "/brig", 0755));
  if (plan.trust_ca) BRIG_TRY(cell_files::write_ca_bundle(ctx_.paths, name));
  const std::string& ws = plan.record.workspace;
  if (plan.make_workspace) {
    BRIG_TRY(fs::make_dirs(ws, 0755));
  } else if (!fs::exists(ws)) {
    return Error(Errc::not_found, "workspace " + ws + " does not exist", "mkdir -p " + ws);
  }
  for (const auto& f : plan.files) BRIG_TRY(fs::write_atomic(f.path, f.content, f.mode));
  BRIG_TRY(cell_files::write_seccomp_profile(ctx_.paths));
  return {};
}

Result<int> Cells::start_cell(const CellRecord& rec, const Argv& start, bool detach, bool creates) {
  // A cell with ingress: its token is read before it starts (a missing one
  // stops the start), its route goes into warden's table as it starts.
  std::optional<ingress::Token> token;
  HostConfig cfg;
  if (!ingress::routes(rec).empty()) {
    auto t = ingress::read_token(ctx_.paths, rec.name);
    if (!t) return t.error();
    token = *t;
    if (auto c = load_host_config(ctx_.paths)) cfg = *c;
  }
  ctx_.event("start", rec.name);
  // Its host services are reachable from its start (warden, the relay and
  // warden's nftables set read the table), and not once it has exited.
  const bool services = !host_services::declared(rec).empty();
  if (services) BRIG_TRY(host_services::publish(ctx_, rec, true));
  auto services_stopped = [&] {
    if (!services) return;
    if (auto st = host_services::publish(ctx_, rec, false); !st) std::fprintf(stderr, "warning: %s\n", st.error().message().c_str());
  };
  if (!detach) {
    // podman's and runsc's words for a cell that could not start are held
    // back: brig says it (start_failure) and the run is undone.
    proc::Command c;
    c.argv = start;
    c.hold_stderr_lines = start_failure_prefixes();
    // What the run's checks leave to podman run, said in their words (refused_create).
    if (creates) {
      c.hold_stderr_lines.push_back("Error: creating container storage: the container name \"" + cell_container(rec.name) + "\"");
      c.hold_stderr_lines.push_back("Error: " + rec.image + ": image not known");
    }
    if (token) {
      // Not made yet, so podman has no address to tell: the one it is made with.
      BRIG_TRY(state::put_ingress_cell(ctx_.paths, rec.name,
                                       ingress::entry(rec, *token, ingress::cell_address(ctx_.podman, rec, false))));
      std::fputs(ingress::describe(cfg, rec).c_str(), stderr);
    }
    const auto t0 = ctx_.clock.now();
    auto out = ctx_.podman.attach(c);
    services_stopped();
    if (token) {
      // The cell has exited: warden answers 503 until it starts again.
      if (auto st = state::stop_ingress_cell(ctx_.paths, rec.name); !st) {
        std::fprintf(stderr, "warning: %s\n", st.error().message().c_str());
      }
    }
    if (!out) return out.error();
    // podman's own words on a container it could not make went to the
    // terminal as they came (only start_failure_prefixes are held back).
    if (out->exit_code == 125 && creates && !made_container(rec.name)) return refused_create(rec, out->err);
    // podman start --attach says 125 for a cell the runtime could not start;
    // podman run says 126 (or 127), as docker does.
    const bool podman_failed = out->exit_code >= 125 && out->exit_code <= 127;
    if (podman_failed && !out->err.empty() && never_started(rec.name)) return start_failure(out->err, rec);
    std::fputs(out->err.c_str(), stderr);
    const double ran = std::chrono::duration<double>(ctx_.clock.now() - t0).count();
    // podman ends a timed-out cell with 255 and no word: say what happened,
    // and exit 124 as timeout(1) does.
    const CellExit e = exit_of(rec, out->exit_code, ran);
    seen_exit_ = std::pair(rec.name, e);
    ctx_.event("exit", rec.name, exit_json(e));
    if (const std::string why = describe_exit(e, rec); !why.empty()) {
      std::fprintf(stderr, "cell %s %s\n", rec.name.c_str(), why.c_str());
    }
    return e.exit_code;
  }
  auto out = ctx_.podman.run(start);
  if (!out || !out->success()) services_stopped();
  if (!out) return out.error();
  if (!out->success()) {
    if (out->exit_code == 125 && creates && !made_container(rec.name)) return refused_create(rec, out->err);
    return start_failure(out->err, rec);
  }
  if (token) {
    BRIG_TRY(state::put_ingress_cell(ctx_.paths, rec.name,
                                     ingress::entry(rec, *token, ingress::cell_address(ctx_.podman, rec, true))));
  }
  // A cell that dies within ~1.5 s of a detached start usually has a reason
  // worth printing now rather than leaving the user to find it (a pool
  // member runs brig's idle init: its pool checks it).
  for (int i = 0; i < (rec.pool.empty() ? 15 : 0); ++i) {
    ctx_.clock.sleep_for(std::chrono::milliseconds(100));
    auto st = status(rec.name);
    if (!st) break;
    if (st->state == "running") continue;
    if (token) BRIG_TRY(state::stop_ingress_cell(ctx_.paths, rec.name));
    services_stopped();
    auto logs_text = logs(rec.name, 20);
    std::string text = logs_text ? *logs_text : std::string();
    std::fprintf(stderr, "cell %s exited within 1.5 s (exit code %d); its last output:\n%s", rec.name.c_str(),
                 st->exit_code, text.c_str());
    std::fprintf(stderr, "%s", diagnose(text, st->exit_code, rec).c_str());
    return st->exit_code == 0 ? 0 : st->exit_code;
  }
  std::printf("%s\n", rec.name.c_str());
  if (token) {
    std::fflush(stdout);  // the name first: $(brig run -d ...) captures only it
    std::fputs(ingress::describe(cfg, rec).c_str(), stderr);
  }
  return 0;
}

Error Cells::refused_create(const CellRecord& rec, const std::string& podman_err) const {
  // What the run's checks leave to podman run (host_checks.h), in their words.
  if (podman_err.find("is already in use") != std::string::npos) return name_taken(rec.name);
  if (podman_err.find("image not known") != std::string::npos) return image_missing(rec.image);
  return create_failure(podman_err);
}

bool Cells::made_container(const std::string& cell) const {
  return fs::exists(cell_files::container_id_path(ctx_.paths, cell));
}

bool Cells::never_started(const std::string& cell) const {
  auto st = ctx_.podman.container_state(cell_container(cell));
  if (!st || !*st) return false;
  const std::string& s = (*st)->status;
  return s == "created" || s == "initialized" || s == "configured";
}

std::vector<Check> Cells::preflight(const spec::Resolved& resolved) {
  const auto& s = resolved.spec;
  std::vector<Check> checks;
  for (auto& c : check_host(ctx_, resolved, load_host_config(ctx_.paths), s.name.has() ? *s.name : std::string(), false)) {
    if (c.failure) {
      checks.push_back({Check::Level::fail, c.name, c.failure->message(), c.failure->fix()});
    } else if (!c.warning.empty()) {
      checks.push_back({Check::Level::warn, c.name, c.warning, ""});
    } else {
      checks.push_back({Check::Level::ok, c.name, c.detail, ""});
    }
  }
  return checks;
}

}  // namespace brig::engine
