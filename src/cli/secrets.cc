// brig secrets add|list|rm.
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/engine.h"
#include "brig/engine/secrets.h"
#include "context.h"

namespace brig::cli {
namespace {

// The running cells that mount secret `name`, from the one owner of that
// question (fails closed: when brig cannot tell, the error). None when brig is
// not initialised (no cell runs) or the secret does not exist (none mounts it).
Result<std::vector<std::string>> running_users(Context& ctx, const std::string& name, const std::string& verb) {
  if (!fs::exists(ctx.paths.config_json()) || !fs::exists(ctx.paths.secret(name))) return std::vector<std::string>{};
  static proc::PosixRunner runner;
  engine::Engine e(runner, ctx.paths);
  return e.secret_users(name, verb);
}

// Reads fd 0 to its end, stopping past engine::kSecretMaxBytes (secret_add
// then refuses the value rather than storing a truncated one).
Result<std::string> read_stdin() {
  std::string value;
  char buf[4096];
  while (value.size() <= engine::kSecretMaxBytes) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading stdin", errno);
    if (n == 0) break;
    value.append(buf, static_cast<std::size_t>(n));
  }
  return value;
}

// One line from the terminal, for a y/N question.
std::string read_answer() {
  std::string line;
  char c = 0;
  while (::read(0, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// The terminal's modes while echo is off, put back also when a signal ends brig.
struct termios g_saved {};
volatile std::sig_atomic_t g_echo_off = 0;

void restore_terminal(int sig) {
  if (g_echo_off) ::tcsetattr(0, TCSAFLUSH, &g_saved);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The value typed or pasted at the terminal, not echoed, up to Ctrl-D; the
// newline of the Enter that ends the last line is not part of it.
Result<std::string> read_hidden(const std::string& name) {
  struct termios t {};
  if (::tcgetattr(0, &t) == 0) {
    g_saved = t;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, restore_terminal);
    g_echo_off = 1;
    if (::tcsetattr(0, TCSAFLUSH, &t) != 0) g_echo_off = 0;
  }
  std::fprintf(stderr, "value of secret %s (not shown; end with Enter, then Ctrl-D): ", name.c_str());
  std::fflush(stderr);
  auto value = read_stdin();
  if (g_echo_off) {
    ::tcsetattr(0, TCSAFLUSH, &g_saved);
    g_echo_off = 0;
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, SIG_DFL);
  std::fprintf(stderr, "\n");
  if (value && !value->empty() && value->back() == '\n') value->pop_back();
  return value;
}

}  // namespace

void add_secrets(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("secrets", "secrets, mounted in cells as files under /run/secrets");
  static std::string name, source;
  static bool force = false;

  auto* add = n->add_subcommand("add", "store a secret from stdin (-) or a file: brig secrets add NAME [-|FILE]");
  add->add_option("NAME", name, "secret name")->required();
  add->add_option("SOURCE", source, "- for stdin (default) or a file");
  add->add_flag("--force", force, "replace it even while running cells use it");
  on_run(add, ctx, [&ctx]() -> Result<int> {
    const bool from_stdin = source.empty() || source == "-";
    // Asked before the value is read: nobody types a value only to see it refused.
    std::vector<std::string> users;
    if (!force) {
      auto u = running_users(ctx, name, "add");
      if (!u) return u.error();
      users = std::move(*u);
    }
    if (!users.empty() && !force && ::isatty(0) && ::isatty(2)) {
      std::fprintf(stderr, "secret %s is used by running cell(s): %s; replace it? [y/N] ", name.c_str(),
                   str::join(users, ", ").c_str());
      std::fflush(stderr);
      const std::string answer = read_answer();
      force = answer == "y" || answer == "Y" || answer == "yes";
    }
    BRIG_TRY(engine::secret_unused(name, users, force,
                                   "brig secrets add " + name + (from_stdin ? "" : " " + source) + " --force"));
    std::string value;
    if (from_stdin) {
      // A terminal: hidden, without the last Enter. A pipe: byte for byte.
      auto v = ::isatty(0) ? read_hidden(name) : read_stdin();
      if (!v) return v.error();
      value = std::move(*v);
    } else {
      auto v = fs::read_file(source, engine::kSecretMaxBytes);
      if (!v) return v.error().with_fix("give a readable file of at most 1 MiB, or - for stdin");
      value = std::move(*v);
    }
    BRIG_TRY(engine::secret_add(ctx.paths, name, value));
    if (!ctx.quiet) std::printf("stored secret %s (%zu byte%s): a cell mounts it with --secret %s, or has warden inject it (secrets: in its spec)\n", name.c_str(), value.size(), value.size() == 1 ? "" : "s", name.c_str());
    return 0;
  });

  auto* list = n->add_subcommand("list", "list secret names and sizes (never values)");
  on_run(list, ctx, [&ctx]() -> Result<int> {
    auto l = engine::secret_list(ctx.paths);
    if (!l) return l.error();
    if (ctx.json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& s : *l) arr.push_back({{"name", s.name}, {"size", s.size}});
      std::cout << arr.dump(2) << "\n";
      return 0;
    }
    for (const auto& s : *l) std::printf("%-32s %8llu byte%s\n", s.name.c_str(), static_cast<unsigned long long>(s.size), s.size == 1 ? "" : "s");
    if (l->empty() && !ctx.quiet) std::fprintf(stderr, "no secrets (brig secrets add NAME - < FILE)\n");
    return 0;
  });

  auto* rm = n->add_subcommand("rm", "remove a secret (refused while a running cell uses it)");
  rm->add_option("NAME", name, "secret name")->required();
  rm->add_flag("--force", force, "remove even while running cells use it");
  on_run(rm, ctx, [&ctx]() -> Result<int> {
    std::vector<std::string> users;
    if (!force) {
      auto u = running_users(ctx, name, "rm");
      if (!u) return u.error();
      users = std::move(*u);
    }
    BRIG_TRY(engine::secret_rm(ctx.paths, name, users, force));
    if (!ctx.quiet) std::printf("removed secret %s\n", name.c_str());
    return 0;
  });
}

}  // namespace brig::cli
