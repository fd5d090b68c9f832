// brig system ... — host lifecycle over the engine.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/vm/thin_client.h"
#include "brig/engine/engine.h"
#include "brig/state/events.h"
#include "brig/warden/config.h"
#include "brig/warden/host_relay.h"
#include "brig/warden/warden.h"
#include "context.h"

namespace brig::cli {

std::string self_binary() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/usr/local/bin/brig";
  return std::string(buf, static_cast<std::size_t>(n));
}

int print_checks(const Context& ctx, const std::vector<engine::Check>& checks) {
  int failed = 0;
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : checks) {
    const char* tag = c.level == engine::Check::Level::ok ? "OK" : c.level == engine::Check::Level::warn ? "WARN" : "FAIL";
    if (c.level == engine::Check::Level::fail) ++failed;
    if (ctx.json()) {
      arr.push_back({{"level", str::to_lower(tag)}, {"check", c.name}, {"detail", c.detail}, {"fix", c.fix}});
      continue;
    }
    std::printf("[%s]%s %-12s %s\n", tag, std::string(5 - std::string(tag).size(), ' ').c_str(), c.name.c_str(),
                c.detail.c_str());
    if (c.level != engine::Check::Level::ok && !c.fix.empty()) std::printf("        fix: %s\n", c.fix.c_str());
  }
  if (ctx.json()) std::cout << arr.dump(2) << "\n";
  return failed ? 1 : 0;
}

namespace {

// warden.yaml checked before anything starts; the files it names.
Result<std::vector<std::string>> warden_files(const Context& ctx) {
  warden::Config wc;
  if (auto st = warden::load_config_file(ctx.paths.warden_yaml(), wc); !st) return st.error();
  std::vector<std::string> files;
  if (!wc.upstream_ca.empty()) files.push_back(wc.upstream_ca);
  return files;
}

Status system_up(const Context& ctx, engine::Engine& e) {
  auto files = warden_files(ctx);
  if (!files) return files.error();
  // From the Mac (through its VM), host services are the Mac's.
  const bool mac = vm::forwarded_from_mac(std::getenv(vm::kForwardedEnv));
  BRIG_TRY(e.up(self_binary(), *files, mac ? engine::kHostFromMacVm : engine::kHostLoopback));
  // Ingress beyond loopback is the user's choice; say it every time (doctor too).
  if (auto cfg = engine::load_host_config(ctx.paths)) {
    if (auto w = engine::ingress_exposure_warning(*cfg)) {
      std::fprintf(stderr, "warning: %s\nfix: brig config set ingress_publish 127.0.0.1:8443 (then brig system up)\n",
                   w->c_str());
    }
  }
  return {};
}

// The events in `text` (whole lines) as `brig system events` prints them:
// JSONL as stored with --format json, one readable line each otherwise.
void print_events(const Context& ctx, std::string_view text) {
  if (ctx.json()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  for (const auto& line : str::split(text, '\n')) {
    if (line.empty()) continue;
    auto e = state::parse_event(line);
    std::printf("%s\n", e ? state::format_event(*e).c_str() : ("(not an event) " + line).c_str());
  }
}

// Prints what is appended to the events file after its first `from` bytes.
void follow_events(const Context& ctx, std::size_t from) {
  for (;;) {
    auto text = state::read_events(ctx.paths);
    if (text && text->size() > from) {
      // Only whole lines: a line being written is printed next time.
      const std::size_t end = text->rfind('\n');
      if (end != std::string::npos && end + 1 > from) {
        print_events(ctx, std::string_view(*text).substr(from, end + 1 - from));
        std::fflush(stdout);
        from = end + 1;
      }
    } else if (text && text->size() < from) {
      from = 0;  // rotated
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

// After down or restart: which cells down stopped, and how to start each again.
void print_stopped(const Context& ctx, const std::vector<std::string>& stopped) {
  if (ctx.quiet || stopped.empty()) return;
  std::printf("stopped %zu cell%s: %s\n", stopped.size(), stopped.size() == 1 ? "" : "s", str::join(stopped, ", ").c_str());
  for (const auto& c : stopped) std::printf("  start again: brig cell start %s\n", c.c_str());
}

std::string duration_text(const std::optional<double>& s) {
  if (!s) return "-";
  char buf[32];
  if (*s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", *s);
  } else if (*s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(*s) / 60, static_cast<int>(*s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(*s) / 3600, static_cast<int>(*s) % 3600 / 60);
  }
  return buf;
}

// How a past cell ended, in one word: the reason where known, else the exit code.
std::string outcome_text(const state::PastCell& c) {
  if (!c.reason.empty()) return c.reason;
  if (c.exit_code) return std::to_string(*c.exit_code);
  return c.removed.empty() ? "-" : "?";
}

void print_history(const Context& ctx, const std::vector<state::PastCell>& cells) {
  if (ctx.json()) {
    nlohmann::json arr = nlohmann::json::array();
    auto opt = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
    for (const auto& c : cells) {
      arr.push_back({{"name", c.name},
                     {"image", opt(c.image)},
                     {"created", opt(c.created)},
                     {"ended", opt(c.ended)},
                     {"exit_code", c.exit_code ? nlohmann::json(*c.exit_code) : nlohmann::json(nullptr)},
                     {"reason", opt(c.reason)},
                     {"duration_s", c.duration_s ? nlohmann::json(*c.duration_s) : nlohmann::json(nullptr)},
                     {"removed", opt(c.removed)}});
    }
    std::cout << arr.dump(2) << "\n";
    return;
  }
  if (cells.empty()) {
    if (!ctx.quiet) std::printf("no cells yet (brig run records them)\n");
    return;
  }
  std::printf("%-24s %-32s %-12s %-9s %-20s %s\n", "NAME", "IMAGE", "EXIT", "DURATION", "CREATED", "REMOVED");
  for (const auto& c : cells) {
    std::printf("%-24s %-32s %-12s %-9s %-20s %s\n", c.name.c_str(), c.image.empty() ? "-" : c.image.c_str(),
                outcome_text(c).c_str(), duration_text(c.duration_s).c_str(), c.created.empty() ? "-" : c.created.c_str(),
                c.removed.empty() ? "-" : c.removed.c_str());
  }
}

}  // namespace

void add_system(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("system", "set up, start, stop and check brig on this host");
  static proc::PosixRunner runner;
  auto engine = [&ctx]() { return engine::Engine(runner, ctx.paths); };

  static bool accept_weaker = false;
  auto* init = n->add_subcommand("init", "create $BRIG_HOME, the CA and default policy; probe the host");
  init->add_flag("--accept-weaker-network", accept_weaker,
                 "where gVisor's netstack does not work, run cells with runsc network=host");
  on_run(init, ctx, [&ctx, engine]() -> Result<int> {
    auto e = engine();
    bool accept = accept_weaker;
    auto cfg = e.init(accept);
    if (!cfg) return cfg.error();
    if (cfg->runsc_network.empty() && !cfg->runsc.empty() && ::isatty(0) && ::isatty(1)) {
      std::printf("gVisor's own network stack does not work on this host (runsc %s).\n"
                  "Cells can still run with runsc network=host: gVisor still intercepts every syscall,\n"
                  "but the cell's packets go through the kernel's stack in the cell's own network namespace.\n"
                  "Accept this weaker network mode? [y/N] ",
                  cfg->runsc_version.c_str());
      std::fflush(stdout);
      std::string answer;
      std::getline(std::cin, answer);
      if (answer == "y" || answer == "Y" || answer == "yes") cfg = e.init(true);
      if (!cfg) return cfg.error();
    }
    BRIG_TRY(warden::ensure_ca(ctx.paths.ca_dir()));
    e.event("init", "", {{"runsc_network", cfg->runsc_network}});
    if (ctx.quiet) return 0;
    std::printf("initialised %s\n", ctx.paths.home().c_str());
    std::printf("  podman         %s\n", cfg->podman.empty() ? "MISSING" : cfg->podman.c_str());
    std::printf("  runsc          %s %s\n", cfg->runsc.empty() ? "MISSING" : cfg->runsc.c_str(), cfg->runsc_version.c_str());
    std::printf("  runsc network  %s\n", cfg->runsc_network.empty()
                                              ? "NOT USABLE (gVisor netstack fails here; rerun with --accept-weaker-network)"
                                              : cfg->runsc_network.c_str());
    std::printf("  cgroup         %s\n", cfg->cgroup.c_str());
    std::printf("  rlimits        %s\n", cfg->cap_sys_resource ? "podman defaults" : ("--ulimit " + str::join(cfg->ulimits, " --ulimit ")).c_str());
    std::printf("  CA             %s\n", ctx.paths.ca_cert().c_str());
    std::printf("next: brig system up\n");
    return 0;
  });

  auto* up = n->add_subcommand("up", "start warden and install brig's nftables table");
  on_run(up, ctx, [&ctx, engine]() -> Result<int> {
    auto e = engine();
    BRIG_TRY(system_up(ctx, e));
    if (!ctx.quiet) std::printf("brig is up: warden healthy, nftables tables installed\n");
    return 0;
  });
  auto* down = n->add_subcommand("down", "stop every cell, then warden, then remove the nftables table");
  on_run(down, ctx, [&ctx, engine]() -> Result<int> {
    auto e = engine();
    auto stopped = e.down();
    if (!stopped) return stopped.error();
    if (!ctx.quiet) std::printf("brig is down: cells stopped, warden and the host relay stopped, nftables tables removed\n");
    print_stopped(ctx, *stopped);
    return 0;
  });
  auto* restart = n->add_subcommand("restart", "down, then up (running cells are stopped; start them again after)");
  on_run(restart, ctx, [&ctx, engine]() -> Result<int> {
    auto e = engine();
    auto stopped = e.down();
    if (!stopped) return stopped.error();
    if (auto st = system_up(ctx, e); !st) {
      print_stopped(ctx, *stopped);
      return st.error();
    }
    if (!ctx.quiet) std::printf("brig restarted\n");
    print_stopped(ctx, *stopped);
    return 0;
  });

  static bool quick = false;
  auto* doctor = n->add_subcommand("doctor", "check the host and brig's state, one line per check");
  doctor->add_flag("--quick", quick, "local checks only (no podman calls); < 1 s");
  on_run(doctor, ctx, [&ctx, engine]() -> Result<int> { return print_checks(ctx, engine().doctor(quick)); });

  auto* verify = n->add_subcommand("verify", "check the security invariants on the live system");
  on_run(verify, ctx, [&ctx, engine]() -> Result<int> {
    auto v = engine().verify();
    if (!v) return v.error();
    if (ctx.json()) {
      std::cout << nlohmann::json{{"violations", *v}}.dump(2) << "\n";
    } else {
      for (const auto& line : *v) std::printf("VIOLATION: %s\n", line.c_str());
      if (v->empty()) std::printf("all invariants hold\n");
    }
    return v->empty() ? 0 : 1;
  });

  static engine::PruneOptions prune_opts;
  auto* prune = n->add_subcommand("prune", "remove stopped cells, orphan state, networks and subnets");
  prune->add_flag("--cells", prune_opts.cells, "stopped cells, orphan state directories and networks");
  prune->add_flag("--logs", prune_opts.logs, "logs of removed cells");
  prune->add_flag("--subnets", prune_opts.subnets, "subnet allocations of cells that no longer exist");
  prune->add_flag("--dry-run", prune_opts.dry_run, "print what would be removed");
  on_run(prune, ctx, [&ctx, engine]() -> Result<int> {
    auto report = engine().prune(prune_opts);
    if (!report) return report.error();
    for (const auto& d : report->removed) std::printf("%s%s\n", prune_opts.dry_run ? "would remove " : "removed ", d.c_str());
    for (const auto& k : report->kept) {
      std::printf("%s cell %s: %s\n", prune_opts.dry_run ? "would keep" : "kept", k.cell.c_str(), k.reason.c_str());
      std::printf("  fix: %s\n", k.fix.c_str());
    }
    if (report->removed.empty() && report->kept.empty() && !ctx.quiet) std::printf("nothing to prune\n");
    return 0;
  });

  auto* stats = n->add_subcommand("stats", "per-cell request, block and byte figures from warden");
  on_run(stats, ctx, [&ctx]() -> Result<int> { return warden_stats(ctx); });

  static bool follow = false;
  auto* events = n->add_subcommand("events", "lifecycle events, one line each (--format json: JSONL as stored)");
  events->add_flag("-f,--follow", follow, "keep printing new events");
  on_run(events, ctx, [&ctx]() -> Result<int> {
    auto text = state::read_events(ctx.paths);
    if (!text) return text.error();
    print_events(ctx, *text);
    if (text->empty() && !ctx.quiet && !follow) std::fprintf(stderr, "no events yet (brig run records some)\n");
    if (follow) follow_events(ctx, text->size());
    return 0;
  });
  auto* history = n->add_subcommand("history", "past cells and how they ended: image, exit code, duration, removal");
  on_run(history, ctx, [&ctx]() -> Result<int> {
    auto text = state::read_events(ctx.paths);
    if (!text) return text.error();
    print_history(ctx, state::cell_history(*text));
    return 0;
  });

  // Run by `brig system up`, not by people: hidden from help (group "").
  static warden::HostRelayConfig relay;
  static std::string relay_owner;
  auto* host_relay = n->add_subcommand("host-relay", "relay warden's connections to declared host services");
  host_relay->group("");
  host_relay->add_option("--socket", relay.socket, "the unix socket to listen on")->required();
  host_relay->add_option("--owner", relay_owner, "UID:GID to give the socket to (when run as root)");
  host_relay->add_option("--target", relay.target, "where the services listen (default 127.0.0.1)");
  host_relay->add_option("--pidfile", relay.pidfile, "written once listening, removed on exit");
  on_run(host_relay, ctx, [&ctx]() -> Result<int> {
    relay.home = ctx.paths.home();
    if (!relay_owner.empty()) BRIG_TRY(warden::parse_relay_owner(relay_owner, relay));
    BRIG_TRY(warden::serve_host_relay(relay));
    return 0;
  });
}

}  // namespace brig::cli
