// brig run: validate -> plan -> apply. This issue: --dry-run (validate, merge,
// print the resolved spec without touching the system).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#ifndef BRIG_CLIENT_ONLY
#include "brig/engine/engine.h"
#endif
#include "brig/spec/json.h"
#include "brig/spec/validate.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {
namespace {

struct FlagDef {
  const char* names;  // CLI11 spelling: "-m,--memory"
  bool takes_value;
};

// The one table of run's flags: registered with CLI11 and used to split argv.
constexpr FlagDef kRunFlags[] = {
    {"--name", true},   {"-f,--file", true},    {"-d,--detach", false}, {"--rm", false},
    {"-e,--env", true}, {"-m,--memory", true},  {"--cpus", true},       {"--pids-limit", true},
    {"--profile", true}, {"--secret", true},    {"--allow", true},      {"--workspace", true},
    {"--timeout", true}, {"-y,--yes", false},   {"--dry-run", false},   {"--runtime", true},
    {"--keep-workspace", false}, {"-i,--interactive", false}, {"-t,--tty", false}, {"--pool", true},
};
// Root flags that may appear before or after `run`.
constexpr FlagDef kRootFlags[] = {
    {"-q,--quiet", false}, {"-v,--verbose", false}, {"--no-color", false}, {"--format", true},
    {"-h,--help", false},  {"--version", false},
};

// The FlagDef naming `tok` ("--memory", "--memory=1g", "-m"), if any.
const FlagDef* find_flag(std::string_view tok) {
  auto eq = tok.find('=');
  std::string_view name = tok.substr(0, eq);
  auto match = [&](const FlagDef& f) {
    for (const auto& n : str::split(f.names, ',')) {
      if (n == name) return true;
    }
    return false;
  };
  for (const auto& f : kRunFlags)
    if (match(f)) return &f;
  for (const auto& f : kRootFlags)
    if (match(f)) return &f;
  return nullptr;
}

bool is_run_flag(std::string_view tok) {
  const FlagDef* f = find_flag(tok);
  return f && f >= std::begin(kRunFlags) && f < std::end(kRunFlags);
}

bool value_inline(std::string_view tok) { return tok.find('=') != std::string_view::npos; }

struct RunOpts {
  std::string name, file, memory, cpus, pids_limit, profile, workspace, timeout, runtime, pool;
  std::vector<std::string> env, secrets, allow;
  bool detach = false, rm = false, yes = false, dry_run = false, keep_workspace = false;
  bool interactive = false, tty = false;
};

// The flags as a spec layer. A flag that does not parse is a diagnostic in
// `bad`, not an early return, so validation still judges the others.
spec::CellSpec flags_layer(const CLI::App& cmd, const RunOpts& o, const RunTail& tail, spec::Diagnostics& bad) {
  spec::CellSpec s;
  auto given = [&](const char* flag) { return cmd.get_option(flag)->count() > 0; };
  auto set = [&](spec::Field<std::string>& f, const char* flag, const std::string& v) {
    if (given(flag)) f.set(v, spec::Origin::flag(flag));
  };
  set(s.name, "--name", o.name);
  set(s.memory, "--memory", o.memory);
  set(s.cpus, "--cpus", o.cpus);
  set(s.profile, "--profile", o.profile);
  set(s.timeout, "--timeout", o.timeout);
  set(s.runtime, "--runtime", o.runtime);
  if (given("--workspace")) {
    std::string w = o.workspace;
    if (!w.empty() && w.front() != '/') {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd)) w = std::string(cwd) + "/" + w;
    }
    s.workspace.set(w, spec::Origin::flag("--workspace"));
  }
  if (given("--pids-limit")) {
    // Parsed here, not by CLI11, so a bad value reads like every other flag error.
    std::int64_t n = 0;
    const auto& t = o.pids_limit;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
      bad.push_back({spec::Origin::flag("--pids-limit"), "",
                     "must be a whole number, e.g. --pids-limit 4096 (got " + str::quote(t) + ")"});
    } else {
      s.pids_limit.set(n, spec::Origin::flag("--pids-limit"));
    }
  }
  if (!o.env.empty()) {
    spec::StringMap env;
    for (const auto& kv : o.env) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        bad.push_back({spec::Origin::flag("--env"), "",
                       str::quote(kv) + " is not KEY=VALUE; write --env NAME=value (secrets belong in --secret, "
                                        "never in the environment)"});
        continue;
      }
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!env.empty()) s.env.set(std::move(env), spec::Origin::flag("--env"));
  }
  if (!o.secrets.empty()) s.secrets.set(spec::secret_files(o.secrets, spec::Origin::flag("--secret")), spec::Origin::flag("--secret"));
  add_allow_flags(s, o.allow, bad);
  if (tail.image) s.image.set(*tail.image, spec::Origin::flag("IMAGE"));
  if (tail.has_command) s.command.set(tail.command, spec::Origin::flag("CMD"));
  return s;
}

void print_text(const spec::Resolved& r) {
  const auto j = spec::to_json(r.spec);
  std::printf("cell spec is valid (profile %s%s)\n", r.spec.profile->c_str(),
              r.untrusted && *r.spec.profile != "untrusted" ? ", treated as untrusted" : "");
  // One line per field: value, then where it came from.
  auto origin_of = [&](const std::string& key) -> std::string {
#define BRIG_ORIGIN(f) \
  if (key == #f) return r.spec.f.origin.str();
    BRIG_CELL_SPEC_FIELDS(BRIG_ORIGIN)
#undef BRIG_ORIGIN
    return "";
  };
  if (!r.spec.name.has()) std::printf("  %-16s %-40s\n", "name", "(generated at start)");
  for (const auto& key : spec::field_names()) {
    if (!j.contains(key)) continue;
    const auto& v = j[key];
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    std::printf("  %-16s %-40s %s\n", key.c_str(), text.c_str(), origin_of(key).c_str());
  }
}

#ifndef BRIG_CLIENT_ONLY
// brig run --pool P: claims a ready cell of pool P and runs the command in it;
// a flag a running cell cannot take (limits, mounts, secrets, image, ...) or
// an empty pool makes it a cold start of the pool's spec, said in a note.
Result<int> run_from_pool(const CLI::App& cmd, Context& ctx, const RunOpts& o, const RunTail& tail) {
  static proc::PosixRunner runner;
  engine::Engine e(runner, ctx.paths);
  auto given = [&](const char* flag) { return cmd.get_option(flag)->count() > 0; };
  if (tail.image) {
    return Error(Errc::usage, "with --pool the image is the pool's: give the command after --",
                 "brig run --pool " + o.pool + " -- " + *tail.image + (tail.command.empty() ? "" : " ..."));
  }
  if (given("--file")) return Error(Errc::usage, "--file and --pool together: the pool's spec is its file", "drop one of them");
  if (o.dry_run) return Error(Errc::unavailable, "--dry-run with --pool: not supported yet", "brig pool list");
  if (o.tty) {
    return Error(Errc::unavailable, "-t with --pool: not supported yet (a claim runs without a terminal)",
                 "drop -t, or claim with -d and then: brig cell exec -it CELL sh");
  }
  if (o.detach && (tail.has_command || o.rm || !o.env.empty())) {
    return Error(Errc::unavailable, "-d with a command, --rm or --env and --pool: not supported yet (a claimed cell waits)",
                 "claim with -d (and --name, --allow), then: brig cell exec CELL -- CMD");
  }
  auto def = e.pools().load(o.pool);
  if (!def) return def.error();
  // The pool's spec with the flags over it, validated as any run's is.
  spec::Diagnostics bad;
  spec::CellSpec flags = flags_layer(cmd, o, tail, bad);
  auto resolved = load_spec_text(ctx.paths, def->spec.dump(2), ctx.paths.pool(o.pool), flags, bad);
  if (!resolved) return resolved.error();
  // What a claim can apply to a running cell: its name, the command's env,
  // more allowed hosts. Anything else needs a cell made for it.
  std::vector<std::string> cold_flags;
  for (const char* f : {"--memory", "--cpus", "--pids-limit", "--profile", "--secret", "--workspace", "--timeout",
                        "--runtime"}) {
    if (given(f)) cold_flags.push_back(f);
  }
  const auto argv = engine::claim_argv(*def, tail.command);
  if (!o.detach && argv.empty()) {
    return Error(Errc::usage, "pool " + o.pool + "'s image and spec have no command and none was given",
                 "brig run --pool " + o.pool + " -- CMD");
  }
  std::optional<engine::Claimed> claimed;
  if (cold_flags.empty()) {
    auto c = e.pools().claim({o.pool, o.name, o.allow});
    if (!c) return c.error();
    claimed = std::move(*c);
    if (!claimed && !ctx.quiet) std::fprintf(stderr, "note: pool %s has no ready cell; starting a cold one\n", o.pool.c_str());
  } else if (!ctx.quiet) {
    std::fprintf(stderr, "note: %s changes what pool %s's cells were made with; starting a cold cell\n",
                 str::join(cold_flags, ", ").c_str(), o.pool.c_str());
  }
  const bool interactive = o.interactive || (!o.detach && !::isatty(0));
  if (!claimed) {
    if (!resolved->spec.name.has()) resolved->spec.name.set(engine::generate_cell_name(), spec::Origin::builtin());
    engine::Stdio stdio{interactive, false};
    engine::RunOptions ro{o.detach, o.rm, o.keep_workspace, self_binary(), stdio, ctx.quiet};
    ro.idle = o.detach;  // as a claimed cell: it waits for brig cell exec
    return e.run(*resolved, ro);
  }
  const std::string& name = claimed->record.name;
  if (o.detach) {
    std::printf("%s\n", name.c_str());
    return 0;
  }
  engine::ClaimExec x;
  x.argv = argv;
  if (flags.env.has()) x.env = *flags.env;
  x.interactive = interactive;
  auto rc = e.pools().exec(*claimed, x);
  // The command was the cell's work: it ends with it, as brig run's does
  // (SIGTERM: the idle init exits 0).
  if (o.rm) {
    auto kept = e.remove(name, o.keep_workspace);
    if (!kept) std::fprintf(stderr, "warning: %s\n", kept.error().message().c_str());
    else if (!kept->empty()) std::fprintf(stderr, "workspace of %s kept in %s\n", name.c_str(), kept->c_str());
  } else if (auto st = e.stop(name, 1); !st) {
    std::fprintf(stderr, "warning: %s\n", st.error().message().c_str());
  }
  return rc;
}
#endif

}  // namespace

RunTail& run_tail() {
  static RunTail tail;
  return tail;
}

Result<std::vector<std::string>> split_run_tail(const std::vector<std::string>& args, RunTail& tail) {
  // Find the `run` noun: the first token that is not a root flag (or its value).
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const auto& t = args[i];
    if (t.size() > 1 && t[0] == '-') {
      const FlagDef* f = find_flag(t);
      if (f && f->takes_value && !value_inline(t)) ++i;
      continue;
    }
    break;
  }
  if (i + 1 < args.size() && args[i] == "cell" && args[i + 1] == "exec") {
    // cell exec [-it] CELL CMD...: as with run, everything after CELL is the
    // command ("--" before it is optional), so `exec c1 sh -c '...'` works.
    std::vector<std::string> head(args.begin(), args.begin() + static_cast<long>(i) + 2);
    std::size_t j = i + 2;
    for (; j < args.size() && args[j] != "--" && args[j].size() > 1 && args[j][0] == '-'; ++j) {
      head.push_back(args[j]);
      const FlagDef* f = find_flag(args[j]);
      if (f && f->takes_value && !value_inline(args[j]) && j + 1 < args.size()) head.push_back(args[++j]);
    }
    if (j < args.size() && args[j] != "--") head.push_back(args[j++]);  // CELL
    if (j < args.size() && args[j] == "--") ++j;
    if (j < args.size()) {
      tail.has_command = true;
      tail.command.assign(args.begin() + static_cast<long>(j), args.end());
    }
    return head;
  }
  if (i >= args.size() || args[i] != "run") {
    // Other verbs (cell exec CELL -- CMD...): everything after "--" is the
    // command, untouched by CLI11.
    auto dd = std::find(args.begin(), args.end(), "--");
    if (dd == args.end()) return args;
    tail.has_command = true;
    tail.command.assign(dd + 1, args.end());
    return std::vector<std::string>(args.begin(), dd);
  }

  std::vector<std::string> head(args.begin(), args.begin() + static_cast<long>(i) + 1);
  for (++i; i < args.size(); ++i) {
    const auto& t = args[i];
    if (t == "--") {
      tail.has_command = true;
      tail.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      return head;
    }
    if (t.size() > 1 && t[0] == '-') {
      head.push_back(t);
      const FlagDef* f = find_flag(t);
      if (f && f->takes_value && !value_inline(t) && i + 1 < args.size()) head.push_back(args[++i]);
      continue;
    }
    break;  // the image
  }
  if (i >= args.size()) return head;
  tail.image = args[i];
  for (++i; i < args.size(); ++i) {
    const auto& t = args[i];
    if (t == "--") {
      tail.has_command = true;
      tail.command.insert(tail.command.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    // Long brig flags are refused anywhere before "--"; short ones ("-m", "-d")
    // are common in commands (python -m, tail -f), so only where the command's
    // own name should be.
    const bool first = tail.command.empty();
    if (t.size() > 1 && t[0] == '-' && is_run_flag(t) && (t[1] == '-' || first)) {
      const std::string flag = t.substr(0, t.find('='));
      return Error(Errc::usage,
                   "brig flag " + str::quote(flag) + " comes after the image " + str::quote(*tail.image) +
                       "; move it before the image",
                   "brig run " + flag + " ... " + *tail.image + " ...   (or, to pass it to the command: brig run " +
                       *tail.image + " -- CMD " + flag + ")");
    }
    tail.has_command = true;
    tail.command.push_back(t);
  }
  return head;
}

RunArgs scan_run_args(const std::vector<std::string>& args) {
  RunArgs r;
  RunTail tail;
  auto head = split_run_tail(args, tail);
  if (!head) return r;
  for (size_t i = 0; i < head->size(); ++i) {
    const std::string& t = (*head)[i];
    const FlagDef* f = t.size() > 1 && t[0] == '-' ? find_flag(t) : nullptr;
    if (!f && t.size() > 2 && t[0] == '-' && t[1] != '-' &&
        t.find_first_not_of("ditqv", 1) == std::string::npos) {
      // Short flags run together ("-dit"): CLI11 reads each one.
      if (t.find('d') != std::string::npos) r.detach = true;
      continue;
    }
    if (!f) continue;
    const std::string_view names = f->names;
    std::optional<std::string> value;
    if (f->takes_value) {
      if (value_inline(t)) value = t.substr(t.find('=') + 1);
      else if (i + 1 < head->size()) value = (*head)[++i];
    }
    if (names == "--name") r.name = value;
    else if (names == "-f,--file") r.file = value;
    else if (names == "-d,--detach") r.detach = true;
    else if (names == "--rm") r.rm = true;
    else if (names == "--dry-run") r.dry_run = true;
  }
  return r;
}

void add_run(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand("run", "start a cell: brig run [flags] [IMAGE] [-- CMD...]");
  cmd->footer(
      "Flags go before IMAGE; everything after IMAGE (or after --) is the cell's command.\n"
      "Precedence: flag > --file yaml > profile > defaults. Secrets are mounted at /run/secrets/<name>\n"
      "(or, with env and hosts in the file's secrets:, injected by warden behind a placeholder).\n"
      "policy.tls_passthrough hosts must also be allowed.");
  static RunOpts o;
  cmd->add_option("--name", o.name, "cell name ([a-z0-9][a-z0-9-]{0,62})");
  cmd->add_option("-f,--file", o.file, "cell spec YAML");
  cmd->add_flag("-d,--detach", o.detach, "return once the cell runs");
  cmd->add_flag("--rm", o.rm, "remove the cell when it exits");
  cmd->add_option("-e,--env", o.env, "environment variable KEY=VALUE (repeatable; never secrets)");
  cmd->add_option("-m,--memory", o.memory, "memory limit, e.g. 2g");
  cmd->add_option("--cpus", o.cpus, "CPU limit, e.g. 2 or 0.5");
  cmd->add_option("--pids-limit", o.pids_limit, "process/thread limit (>= 1000 under gVisor)");
  cmd->add_option("--profile", o.profile, "untrusted | supervised | dev | airgapped | a file in $BRIG_HOME/profiles");
  cmd->add_option("--secret", o.secrets, "mount secret NAME at /run/secrets/NAME (repeatable)");
  cmd->add_option("--allow", o.allow, "allow egress to DOMAIN[:PORT] (repeatable)");
  cmd->add_option("--workspace", o.workspace, "host directory mounted at the workspace mount point");
  cmd->add_option("--timeout", o.timeout, "stop the cell after a duration, e.g. 2h");
  cmd->add_option("--runtime", o.runtime, "runsc (default) or, knowingly, runc");
  // SPEC §3 lists --yes for run, but run never asks a question today: the
  // flag is refused rather than accepted and ignored.
  cmd->add_flag("-y,--yes", o.yes, "not supported yet: brig run never asks a question");
  cmd->add_flag("--keep-workspace", o.keep_workspace, "with --rm: keep the workspace");
  cmd->add_flag("--dry-run", o.dry_run, "validate and print the resolved spec; touch nothing");
  cmd->add_flag("-i,--interactive", o.interactive,
                "forward stdin to the cell (done anyway when stdin is a pipe or a file)");
  cmd->add_flag("-t,--tty", o.tty, "give the cell a terminal (stdin must be one)");
  cmd->add_option("--pool", o.pool, "claim a ready cell of this warm pool (brig pool create): brig run --pool P -- CMD");

  on_run(cmd, ctx, [cmd, &ctx]() -> Result<int> {
    if (o.yes) {
      return Error(Errc::usage, "--yes: not supported yet (brig run never asks a question today)",
                   "run the same command without -y/--yes");
    }
    if (o.keep_workspace && !o.rm) {
      return Error(Errc::usage, "--keep-workspace only applies with --rm (without --rm the cell and its workspace stay)",
                   "add --rm, or drop --keep-workspace (later: brig cell rm --keep-workspace CELL)");
    }
    const RunTail& tail = run_tail();
#ifndef BRIG_CLIENT_ONLY
    if (!o.pool.empty()) return run_from_pool(*cmd, ctx, o, tail);
#endif
    spec::Diagnostics bad_flags;
    const auto flags = flags_layer(*cmd, o, tail, bad_flags);
    auto resolved = load_spec(ctx.paths, o.file.empty() ? std::nullopt : std::optional(o.file), flags, bad_flags);
    if (!resolved) return resolved.error();
    if (!o.dry_run) {
#ifdef BRIG_CLIENT_ONLY
      return Error(Errc::unavailable, "'brig run' runs cells in the VM, not in the client-only build",
                   "unset BRIG_PLATFORM so brig forwards it to the VM");
#else
      static proc::PosixRunner runner;
      engine::Engine e(runner, ctx.paths);
      if (!resolved->spec.name.has()) resolved->spec.name.set(engine::generate_cell_name(), spec::Origin::builtin());
      const bool stdin_tty = ::isatty(0);
      if (o.tty && !stdin_tty && !o.detach) {
        return Error(Errc::usage, "-t gives the cell a terminal, but stdin here is not one (a pipe or a file)",
                     "drop -t (piped input is forwarded without it)");
      }
      // As docker: -i forwards stdin; brig also does when stdin is piped
      // (agents feed cells that way), never for a detached cell.
      engine::Stdio stdio{o.interactive || (!o.detach && !stdin_tty), o.tty};
      auto rc = e.run(*resolved, engine::RunOptions{o.detach, o.rm, o.keep_workspace, self_binary(), stdio, ctx.quiet});
      return rc;
#endif
    }
    if (ctx.json()) {
      std::cout << spec::to_json(resolved->spec).dump(2) << "\n";
    } else {
      print_text(*resolved);
    }
    return 0;
  });
}

}  // namespace brig::cli
