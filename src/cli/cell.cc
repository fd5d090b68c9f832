// brig cell ... — verbs on cells, over the engine.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/cell_verbs.h"
#include "brig/engine/engine.h"
#include "brig/engine/workspace.h"
#include "brig/state/events.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {

void add_cell_network(CLI::App* noun, Context& ctx);

namespace {

proc::PosixRunner& runner() {
  static proc::PosixRunner r;
  return r;
}

std::string age(const std::string& rfc3339) {
  std::tm tm{};
  if (!::strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return "?";
  long s = static_cast<long>(std::time(nullptr) - ::timegm(&tm));
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

struct CellArgs {
  std::string cell;
  std::vector<std::string> rest;
  std::string format = "table", signal = "SIGKILL", output, src, dst, path;
  int time = 10, tail = -1;  // tail < 0: every line
  bool all = false, wait = false, follow = false, interactive = false, tty = false, keep_workspace = false, force = false;
};

CellArgs& args() {
  static CellArgs a;
  return a;
}

CLI::App* verb(CLI::App* n, const char* name, const char* help, bool takes_cell = true) {
  auto* v = n->add_subcommand(name, help);
  if (takes_cell) v->add_option("CELL", args().cell, "cell name")->required();
  return v;
}

// Asks `question` y/N on the terminal and returns the reply.
std::string ask(const std::string& question) {
  std::printf("%s [y/N] ", question.c_str());
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) std::printf("\n");  // EOF: no answer, and the cursor off the question
  return answer;
}


// A spec value on one line: strings as they are, lists joined with ", ",
// objects as "key: value; ...".
std::string spec_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : v) parts.push_back(spec_text(e));
    return parts.empty() ? "(none)" : str::join(parts, ", ");
  }
  if (v.is_object()) {
    std::vector<std::string> parts;
    for (auto it = v.begin(); it != v.end(); ++it) parts.push_back(it.key() + ": " + spec_text(it.value()));
    return parts.empty() ? "(none)" : str::join(parts, "; ");
  }
  return v.dump();
}

// `brig cell inspect` in text: the cell, how it ended, its mounts, then the
// resolved spec (the limits, profile, command and policy first).
void print_inspect(const nlohmann::json& j) {
  auto field = [&](const char* label, const nlohmann::json& v) {
    if (!v.is_null()) std::printf("%-16s %s\n", label, spec_text(v).c_str());
  };
  for (const char* k : {"name", "state"}) field(k, j[k]);
  if (!j["exit_code"].is_null()) {
    const std::string detail = j["exit_detail"].is_string() ? " (" + j["exit_detail"].get<std::string>() + ")" : "";
    std::printf("%-16s %d%s\n", "exit code", j["exit_code"].get<int>(), detail.c_str());
  }
  for (const char* k : {"image", "runtime", "network_mode", "network", "address", "warden", "created"}) field(k, j[k]);
  if (j.contains("ingress") && j["ingress"].is_array()) {
    for (const auto& r : j["ingress"]) {
      std::printf("%-16s %s (route %s -> port %d)\n", "ingress", r["url"].get<std::string>().c_str(),
                  r["name"].get<std::string>().c_str(), r["port"].get<int>());
    }
  }
  for (const auto& m : j["mounts"]) {
    std::printf("%-16s %s -> %s (%s)\n", "mount", m["source"].get<std::string>().c_str(),
                m["target"].get<std::string>().c_str(), m["mode"].get<std::string>().c_str());
  }
  for (const auto& h : j.value("host_sockets", nlohmann::json::array())) {
    std::printf("%-16s %s at %s (%s; bypasses warden)\n", "host socket", h["name"].get<std::string>().c_str(),
                h["mount_point"].get<std::string>().c_str(), h["mode"].get<std::string>().c_str());
  }
  // "llm-key -> $OPENAI_API_KEY for api.openai.com, *.anthropic.com"
  for (const auto& i : j.value("injected_secrets", nlohmann::json::array())) {
    std::printf("%-16s %s -> $%s for %s%s\n", "secret", i["name"].get<std::string>().c_str(),
                i["env"].get<std::string>().c_str(), str::join(i["hosts"].get<std::vector<std::string>>(), ", ").c_str(),
                i.value("allow_plaintext", false) ? " (plain HTTP too)" : "");
  }
  const nlohmann::json& spec = j["spec"];
  if (!spec.is_object()) return;
  std::printf("spec:\n");
  static const std::vector<std::string> first = {"profile", "command", "memory", "cpus", "pids_limit", "timeout", "policy"};
  auto line = [&](const std::string& k) {
    if (!spec.contains(k)) return;
    // The command exactly (its arguments may hold spaces and commas).
    const std::string v = k == "command" ? spec[k].dump() : spec_text(spec[k]);
    std::printf("  %-14s %s\n", k.c_str(), v.c_str());
  };
  for (const auto& k : first) line(k);
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (std::find(first.begin(), first.end(), it.key()) == first.end() && it.key() != "name" && it.key() != "image") {
      line(it.key());
    }
  }
}

}  // namespace

void add_cell(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("cell", "manage cells: list, inspect, logs, exec, stop, rm, ...");
  auto eng = [&ctx]() { return engine::Engine(runner(), ctx.paths); };
  CellArgs& a = args();

  auto* list = verb(n, "list", "list cells (running; --all for every state)", false);
  list->add_flag("-a,--all", a.all, "include stopped cells");
  list->add_option("--format", a.format, "table | wide | json")->check(CLI::IsMember({"table", "wide", "json", "text"}));
  on_run(list, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto cells = eng().list(a.all);
    if (!cells) return cells.error();
    if (a.format == "json" || ctx.json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : *cells) {
        arr.push_back(engine::cell_status_json(c));
      }
      std::cout << arr.dump(2) << "\n";
      return 0;
    }
    if (cells->empty()) {
      if (!ctx.quiet) std::printf(a.all ? "no cells\n" : "no running cells (--all shows stopped ones)\n");
      return 0;
    }
    const bool wide = a.format == "wide";
    std::printf("%-24s %-10s %-36s %-8s %-16s %-6s%s\n", "NAME", "STATE", "IMAGE", "RUNTIME", "NETWORK", "AGE",
                wide ? "  ADDRESS       SECRETS" : "");
    for (const auto& c : *cells) {
      if (c.state == "damaged") {
        std::printf("%-24s %-10s %s (fix: brig cell rm %s)\n", c.record.name.c_str(), c.state.c_str(), c.reason.c_str(),
                    c.record.name.c_str());
        continue;
      }
      std::printf("%-24s %-10s %-36s %-8s %-16s %-6s", c.record.name.c_str(), c.state.c_str(), c.record.image.c_str(),
                  c.record.runtime.c_str(), engine::network_mode(c.record).c_str(), age(c.record.created).c_str());
      if (wide) {
        std::vector<std::string> secrets = c.record.secrets;
        for (const auto& i : c.record.injected) secrets.push_back(i.name);
        std::printf("  %-13s %s", c.record.subnet.cell_ip().c_str(), str::join(secrets, ",").c_str());
      }
      // A warm pool's member waits to be claimed (brig run --pool).
      if (!c.record.pool.empty() && !c.record.claimed) std::printf("  [pool %s]", c.record.pool.c_str());
      std::printf("\n");
    }
    return 0;
  });

  auto* inspect = verb(n, "inspect", "show a cell's configuration and state");
  on_run(inspect, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto j = eng().inspect(a.cell);
    if (!j) return j.error();
    if (ctx.json()) {
      std::cout << j->dump(2) << "\n";
      return 0;
    }
    print_inspect(*j);
    return 0;
  });

  auto* logs = verb(n, "logs", "print a cell's output");
  logs->add_flag("-f,--follow", a.follow, "keep streaming");
  logs->add_option("--tail", a.tail, "only the last N lines (0: none, then new ones with -f)")->check(CLI::NonNegativeNumber);
  on_run(logs, ctx, [eng, &a]() -> Result<int> {
    auto e = eng();
    if (a.follow) return engine::follow_logs(e, a.cell, a.tail);
    auto out = engine::read_logs(e, a.cell, a.tail);
    if (!out) return out.error();
    std::fwrite(out->text.data(), 1, out->text.size(), stdout);
    if (out->text.empty() && a.tail != 0) {
      std::fprintf(stderr, "no output yet from %s (state %s); follow it with: brig cell logs -f %s\n", a.cell.c_str(),
                   out->state.c_str(), a.cell.c_str());
    }
    return 0;
  });

  auto* exec = verb(n, "exec", "run a command in a cell: brig cell exec [-it] CELL -- CMD...");
  exec->add_flag("-i,--interactive", a.interactive, "keep stdin open");
  exec->add_flag("-t,--tty", a.tty, "allocate a terminal");
  exec->add_option("CMD", a.rest, "command and arguments (after --)");
  on_run(exec, ctx, [eng, &a]() -> Result<int> {
    if (run_tail().has_command) a.rest = run_tail().command;
    auto e = eng();
    // Piped input reaches the command without -i (agents feed it that way).
    return engine::exec_in_cell(e, a.cell, a.interactive || !::isatty(0), a.tty, a.rest);
  });

  auto* shell = verb(n, "shell", "open a shell in a cell (bash if the image has it, else sh)");
  on_run(shell, ctx, [eng, &a]() -> Result<int> {
    auto e = eng();
    return engine::shell_in_cell(e, a.cell, ::isatty(0));
  });

  auto* stop = verb(n, "stop", "stop a cell");
  stop->add_option("--time", a.time, "seconds to wait before SIGKILL (default 10)");
  on_run(stop, ctx, [&ctx, eng, &a]() -> Result<int> {
    BRIG_TRY(eng().stop(a.cell, a.time));
    if (!ctx.quiet) std::printf("stopped %s\n", a.cell.c_str());
    return 0;
  });
  auto* kill = verb(n, "kill", "send a signal to a cell (default SIGKILL)");
  kill->add_option("--signal", a.signal, "signal name or number");
  on_run(kill, ctx, [eng, &a]() -> Result<int> {
    BRIG_TRY(eng().kill(a.cell, a.signal));
    return 0;
  });
  auto* start = verb(n, "start", "start a stopped cell (refreshes /run/brig: cell.json and the CA bundle)");
  on_run(start, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto started = eng().start(a.cell);
    if (!started) return started.error();
    // (A start prints the cell's name, as a detached run does.)
    if (!ctx.quiet && !*started) std::printf("%s is already running\n", a.cell.c_str());
    return 0;
  });
  auto* restart = verb(n, "restart", "stop, then start a cell");
  on_run(restart, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto e = eng();
    BRIG_TRY(e.stop(a.cell));
    BRIG_TRY(e.start(a.cell));  // prints the cell's name, as docker does
    return 0;
  });

  auto* rm = verb(n, "rm", "remove a cell, its network and its workspace");
  rm->add_flag("--keep-workspace", a.keep_workspace, "keep state/<cell>/workspace");
  rm->add_flag("--force", a.force, "delete a workspace that holds files without asking");
  rm->add_flag("--wait", a.wait, "wait for the cell to exit first (what run -d --rm uses)");
  on_run(rm, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto e = eng();
    if (a.wait) BRIG_TRY(e.wait(a.cell));
    auto st = e.status(a.cell);
    if (!st) return st.error();
    engine::WorkspaceRemoval in;
    in.cell = a.cell;
    in.keep_workspace = a.keep_workspace;
    in.force = a.force;
    in.tty = ::isatty(0);
    using Action = engine::WorkspaceDecision::Action;
    auto d = engine::decide_workspace_removal(in, st->record.workspace, ctx.paths.workspace(a.cell));
    if (d.action == Action::ask) {
      in.answer = ask(d.message);
      d = engine::decide_workspace_removal(in, st->record.workspace, ctx.paths.workspace(a.cell));
    }
    if (d.action == Action::refuse) return Error(Errc::usage, d.message, d.fix);
    if (d.action == Action::abort) return Error(Errc::failed, d.message, d.fix);
    auto kept = e.remove(a.cell, d.action == Action::keep);
    if (!kept) return kept.error();
    if (!ctx.quiet) std::printf("removed %s%s\n", a.cell.c_str(), kept->empty() ? "" : (" (workspace kept in " + *kept + ")").c_str());
    return 0;
  });

  auto* wait = verb(n, "wait", "wait for a cell to exit and print its exit code");
  on_run(wait, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto e = eng();
    auto ended = e.wait(a.cell);
    if (!ended) return ended.error();
    std::printf("%d\n", ended->exit_code);
    auto rec = e.load_record(a.cell);
    const std::string why = rec ? engine::describe_exit(*ended, *rec) : std::string();
    if (!why.empty() && !ctx.quiet) std::fprintf(stderr, "cell %s %s\n", a.cell.c_str(), why.c_str());
    return 0;
  });

  auto* cp = n->add_subcommand("cp", "copy files between a cell and the host: brig cell cp CELL:PATH DEST | SRC CELL:PATH");
  cp->add_option("SRC", a.src, "what to copy: CELL:PATH (a path inside the cell) or a host path")->required();
  cp->add_option("DST", a.dst, "where to: a host path, or CELL:PATH when SRC is on the host")->required();
  cp->footer(
      "Exactly one side names a cell as CELL:PATH; the other is a path on the host.\n"
      "  brig cell cp agent:/work/out.txt ./out.txt     copy a file out of cell agent\n"
      "  brig cell cp ./input.csv agent:/work/          copy a host file into cell agent");
  on_run(cp, ctx, [eng, &a]() -> Result<int> {
    auto e = eng();
    return engine::copy_files(e, a.src, a.dst);
  });

  auto* read = verb(n, "read", "print a workspace file safely (no symlinks, no ..)");
  read->add_option("PATH", a.path, "path inside the workspace")->required();
  on_run(read, ctx, [eng, &a]() -> Result<int> {
    auto st = eng().status(a.cell);
    if (!st) return st.error();
    auto fd = engine::open_in_workspace(st->record.workspace, a.path, st->record.workspace_mount, a.cell);
    if (!fd) return fd.error();
    BRIG_TRY(engine::copy_to_stdout(fd->get()));
    return 0;
  });

  auto* stats = verb(n, "stats", "CPU, memory, pids of a cell");
  on_run(stats, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto u = eng().cells().usage(a.cell);
    if (!u) return u.error();
    if (ctx.json()) {
      std::cout << nlohmann::json{{"cell", u->cell}, {"cpu_percent", u->cpu_percent}, {"memory_usage", u->memory_usage},
                                  {"memory_percent", u->memory_percent}, {"net_io", u->net_io}, {"block_io", u->block_io},
                                  {"pids", u->pids}}.dump(2)
                << "\n";
      return 0;
    }
    std::printf("%-24s %-8s %-22s %-7s %-22s %-22s %s\n", "CELL", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET IO",
                "BLOCK IO", "PIDS");
    std::printf("%-24s %-8s %-22s %-7s %-22s %-22s %s\n", u->cell.c_str(), u->cpu_percent.c_str(), u->memory_usage.c_str(),
                u->memory_percent.c_str(), u->net_io.c_str(), u->block_io.c_str(), u->pids.c_str());
    return 0;
  });
  auto* top = verb(n, "top", "processes of a cell");
  on_run(top, ctx, [eng, &a]() -> Result<int> {
    auto e = eng();
    return engine::cell_top(e, a.cell);
  });
  auto* diff = verb(n, "diff", "files changed in a cell's filesystem");
  on_run(diff, ctx, [eng, &a]() -> Result<int> {
    auto e = eng();
    return engine::cell_diff(e, a.cell);
  });
  add_cell_network(n, ctx);

  auto* events = verb(n, "events", "lifecycle events of a cell");
  on_run(events, ctx, [&ctx, &a]() -> Result<int> {
    const auto lines = engine::cell_events(ctx.paths, a.cell);
    for (const auto& line : lines) {
      auto ev = state::parse_event(line);  // cell_events kept only lines that parse
      std::printf("%s\n", ctx.json() || !ev ? line.c_str() : state::format_event(*ev).c_str());
    }
    if (lines.empty() && !ctx.quiet) std::fprintf(stderr, "no events for %s\n", a.cell.c_str());
    return 0;
  });

  auto* preflight = verb(n, "preflight", "check every host-side requirement of a cell spec at once", false);
  preflight->add_option("FILE", a.path, "cell spec YAML")->required();
  on_run(preflight, ctx, [&ctx, eng, &a]() -> Result<int> {
    auto resolved = load_spec(ctx.paths, a.path, spec::CellSpec{});
    if (!resolved) {
      return print_checks(ctx, {{engine::Check::Level::fail, "spec", resolved.error().message(), "fix the spec file"}});
    }
    return print_checks(ctx, eng().preflight(*resolved));
  });

  auto* exp = verb(n, "export", "export a cell's workspace as a tar stream");
  exp->add_option("-o,--output", a.output, "file to write (default stdout, which must not be a terminal)");
  on_run(exp, ctx, [eng, &a]() -> Result<int> {
    if (a.output.empty() && ::isatty(STDOUT_FILENO)) {
      return Error(Errc::usage, "refusing to write a tar stream to a terminal; use -o FILE or redirect",
                   "brig cell export " + a.cell + " -o " + a.cell + ".tar");
    }
    auto e = eng();
    return engine::export_workspace(e, a.cell, a.output);
  });
}

}  // namespace brig::cli
