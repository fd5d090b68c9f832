// Root of the CLI: global flags, the noun tree, error reporting, exit codes.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "brig/cli/app.h"
#include "brig/core/log.h"
#include "brig/core/strings.h"
#include "brig/vm/thin_client.h"
#include "context.h"

namespace brig::cli {
namespace {

constexpr const char* kCheatSheet = R"(brig — run untrusted code in gVisor cells whose only way out is warden

Cells
  brig run [IMAGE] [-- CMD...]        start a cell (--file cell.yaml, --dry-run to check)
  brig cell list|inspect|logs|exec|shell|stop|start|rm ...
  brig cell network CELL              what the cell reached and what was blocked

Policy
  brig policy validate FILE           check a policy file
  brig policy test [--method M] URL   would warden allow this request?
  brig policy show|set|rm             view and change egress rules

System
  brig system init|up|down|doctor|verify|prune
  brig warden serve|status|stats|health
  brig secrets add|list|rm            secrets are files, never environment variables
  brig image build|pull|list|rm|verify   build from a directory, pin and check digests
  brig config get|set|list
  brig api serve                      the REST API on a unix socket (system up starts it)
  brig vm create|start|stop|status|shell|delete   (macOS)

Run 'brig COMMAND --help' for details. Docs: docs/reference/cli.md
)";

bool stderr_color(const Context& ctx) {
  return log::color_enabled({log::Verbosity::normal, !ctx.no_color});
}

void print_error(const Context& ctx, const Error& e) {
  const bool color = stderr_color(ctx);
  const char* red = color ? "\033[31m" : "";
  const char* reset = color ? "\033[0m" : "";
  for (const auto& line : str::split(e.message(), '\n')) {
    std::fprintf(stderr, "%serror:%s %s\n", red, reset, line.c_str());
  }
  if (!e.fix().empty()) std::fprintf(stderr, "fix: %s\n", e.fix().c_str());
}

// The deepest subcommand the user named.
CLI::App* deepest(CLI::App* app) {
  for (auto* sub : app->get_subcommands()) return deepest(sub);
  return app;
}

std::vector<std::string> option_names(const CLI::App* app) {
  std::vector<std::string> names;
  for (const auto* o : app->get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  if (app->get_parent()) {
    auto more = option_names(app->get_parent());
    names.insert(names.end(), more.begin(), more.end());
  }
  return names;
}

// Turns leftover arguments into a one-line usage error with a suggestion.
Error leftover_error(CLI::App* at, const std::string& arg) {
  const std::string where = command_path(at);
  if (arg.size() > 1 && arg[0] == '-') {
    std::string name = arg.substr(0, arg.find('='));
    std::string msg = "unknown flag " + str::quote(name) + " for '" + where + "'";
    if (auto s = str::closest(name, option_names(at))) msg += "; did you mean '" + *s + "'?";
    return Error(Errc::usage, msg, "see '" + where + " --help'");
  }
  std::vector<std::string> subs;
  for (const auto* s : at->get_subcommands([](const CLI::App*) { return true; })) subs.push_back(s->get_name());
  if (!subs.empty()) {
    std::string msg = "unknown command " + str::quote(arg) + " for '" + where + "'";
    if (auto s = str::closest(arg, subs)) msg += "; did you mean '" + *s + "'?";
    return Error(Errc::usage, msg, "see '" + where + " --help'");
  }
  return Error(Errc::usage, "unexpected argument " + str::quote(arg) + " for '" + where + "'",
               "see '" + where + " --help'");
}

void allow_extras_everywhere(CLI::App* app) {
  app->allow_extras();
  for (auto* s : app->get_subcommands([](const CLI::App*) { return true; })) allow_extras_everywhere(s);
}

int run_main(int argc, char** argv) {
  Context ctx;
  if (auto st = vm::check_platform_env(std::getenv("BRIG_PLATFORM")); !st) {
    print_error(ctx, st.error());
    return st.error().exit_code();
  }
  // macOS thin client: all but `vm`, `config`, `--version` and help run in
  // the VM, before any parsing here (the Linux brig there parses them).
  if (vm::current_platform() == vm::Platform::darwin) {
    std::vector<std::string> all(argv + 1, argv + argc);
    if (vm::must_forward(all)) {
      auto rc = forward_to_vm(all, ctx.paths);
      if (rc) return *rc;
      print_error(ctx, rc.error());
      return rc.error().exit_code();
    }
  }
  CLI::App root{"brig — run untrusted code in gVisor cells whose only way out is warden", "brig"};
  root.fallthrough();
  root.set_version_flag("--version", std::string("brig ") + BRIG_VERSION, "print the version and exit");
  root.add_flag("-q,--quiet", ctx.quiet, "print errors only");
  root.add_flag("-v,--verbose", ctx.verbose, "print debug logs");
  root.add_flag("--no-color", ctx.no_color, "no colors (also: NO_COLOR=1)");
  root.add_option("--format", ctx.format, "output format where a command prints data")
      ->check(CLI::IsMember({"text", "json"}));

  add_run(root, ctx);
  add_cell(root, ctx);
  add_image(root, ctx);
  add_system(root, ctx);
  add_policy(root, ctx);
  add_secrets(root, ctx);
  add_config(root, ctx);
  add_vm(root, ctx);
  add_warden(root, ctx);
  add_api(root, ctx);
  add_pool(root, ctx);
  allow_extras_everywhere(&root);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto split = split_run_tail(args, run_tail());
  if (!split) {
    print_error(ctx, split.error());
    return split.error().exit_code();
  }
  std::vector<std::string> cli_args = std::move(*split);
  std::reverse(cli_args.begin(), cli_args.end());  // CLI11 takes them reversed

  try {
    root.parse(cli_args);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::Success& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    Error err(Errc::usage, msg, "see 'brig --help'");
    print_error(ctx, err);
    return 2;
  }

  log::setup({ctx.quiet ? log::Verbosity::quiet : ctx.verbose ? log::Verbosity::verbose : log::Verbosity::normal,
              !ctx.no_color});
  spdlog::debug("brig {}: BRIG_HOME {}", BRIG_VERSION, ctx.paths.home());

  CLI::App* at = deepest(&root);
  auto rest = root.remaining(true);
  // CLI11 lists the "--" that ends the flags (`vm shell -- CMD`) among them.
  rest.erase(std::remove(rest.begin(), rest.end(), "--"), rest.end());
  if (!rest.empty()) {
    auto err = leftover_error(at, rest.front());
    print_error(ctx, err);
    return err.exit_code();
  }
  if (at == &root) {
    std::fputs(kCheatSheet, stdout);
    return 0;
  }
  if (!ctx.action) {
    // A noun without a verb: show what it offers.
    std::cout << at->help();
    return 0;
  }
  auto rc = ctx.action();
  if (!rc) {
    print_error(ctx, rc.error());
    return rc.error().exit_code();
  }
  return *rc;
}

}  // namespace

std::string command_path(const CLI::App* app) {
  std::vector<std::string> parts;
  for (const CLI::App* a = app; a; a = a->get_parent()) parts.insert(parts.begin(), a->get_name());
  return str::join(parts, " ");
}

void on_run(CLI::App* verb, Context& ctx, std::function<Result<int>()> fn) {
  verb->callback([&ctx, fn = std::move(fn)] { ctx.action = fn; });
}

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal error: %s\n", e.what());
    return 1;
  }
}

}  // namespace brig::cli

namespace brig::cli {

}  // namespace brig::cli
