// brig secrets add|list|rm.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/engine/engine.h"
#include "brig/engine/secrets.h"
#include "context.h"

namespace brig::cli {

void add_secrets(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("secrets", "secrets, mounted in cells as files under /run/secrets");
  static std::string name, source;
  static bool force = false;

  auto* add = n->add_subcommand("add", "store a secret from stdin (-) or a file: brig secrets add NAME [-|FILE]");
  add->add_option("NAME", name, "secret name")->required();
  add->add_option("SOURCE", source, "- for stdin (default) or a file");
  on_run(add, ctx, [&ctx]() -> Result<int> {
    std::string value;
    if (source.empty() || source == "-") {
      if (::isatty(0)) std::fprintf(stderr, "reading the value of %s from stdin (end with Ctrl-D)\n", name.c_str());
      value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      auto v = fs::read_file(source, 1 << 20);
      if (!v) return v.error().with_fix("give a readable file of at most 1 MiB, or - for stdin");
      value = std::move(*v);
    }
    BRIG_TRY(engine::secret_add(ctx.paths, name, value));
    if (!ctx.quiet) std::printf("stored secret %s (%zu byte%s); cells get it with --secret %s\n", name.c_str(), value.size(), value.size() == 1 ? "" : "s", name.c_str());
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
    static proc::PosixRunner runner;
    engine::Engine e(runner, ctx.paths);
    // Fails closed: a secret is kept when brig cannot tell who mounts it.
    if (!force && fs::exists(ctx.paths.config_json()) && fs::exists(ctx.paths.secret(name))) {
      auto u = e.secret_users(name);
      if (!u) return u.error();
      users = std::move(*u);
    }
    BRIG_TRY(engine::secret_rm(ctx.paths, name, users, force));
    if (!ctx.quiet) std::printf("removed secret %s\n", name.c_str());
    return 0;
  });
}

}  // namespace brig::cli
