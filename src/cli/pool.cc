// brig pool create|list|rm, and the refiller `brig pool refill` that create
// and system up start (engine/pools.h).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/engine.h"
#include "brig/spec/json.h"
#include "brig/spec/validate.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_term(int) { g_stop = true; }

std::string age_text(long s) {
  if (s <= 0) return "-";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

void add_pool(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("pool", "warm pools: cells started ahead, claimed by brig run --pool");
  static proc::PosixRunner runner;

  static std::string c_name, c_image, c_file, c_max_age;
  static int c_size = 0;
  auto* create = n->add_subcommand("create", "make a pool of ready cells: brig pool create NAME (IMAGE | -f FILE) --size N");
  create->add_option("NAME", c_name, "pool name")->required();
  create->add_option("IMAGE", c_image, "image of its cells (or image: in --file)");
  create->add_option("-f,--file", c_file, "cell spec YAML its cells are made from");
  create->add_option("--size", c_size, "how many ready cells it keeps (1-64)")->required();
  create->add_option("--max-age", c_max_age, "replace a cell that waited this long, e.g. 1h (default: never)");
  on_run(create, ctx, [&ctx]() -> Result<int> {
    if (c_size < 1 || c_size > engine::kMaxPoolSize) {
      return Error(Errc::usage, "--size must be 1 to " + std::to_string(engine::kMaxPoolSize) + " (got " + std::to_string(c_size) + ")",
                   "brig pool create " + c_name + " IMAGE --size 2");
    }
    engine::PoolDef def;
    def.name = c_name;
    def.size = c_size;
    if (!c_max_age.empty()) {
      auto secs = spec::parse_duration(c_max_age);
      if (!secs || *secs == 0) {
        return Error(Errc::usage, "invalid --max-age " + str::quote(c_max_age) + "; give a duration such as 30m or 2h",
                     "brig pool create " + c_name + " IMAGE --size " + std::to_string(c_size) + " --max-age 1h");
      }
      def.max_age_s = static_cast<long>(*secs);
    }
    if (auto bad = engine::pool_name_problem(c_name)) {
      return Error(Errc::usage, "invalid pool name " + str::quote(c_name) + ": " + *bad, "brig pool create web IMAGE --size 2");
    }
    spec::CellSpec flags;
    if (!c_image.empty()) flags.image.set(c_image, spec::Origin::flag("IMAGE"));
    auto resolved = load_spec(ctx.paths, c_file.empty() ? std::nullopt : std::optional(c_file), flags);
    if (!resolved) return resolved.error();
    if (!resolved->spec.image.has()) {
      return Error(Errc::usage, "no image given", "brig pool create " + c_name + " IMAGE --size N, or image: in --file");
    }
    if (resolved->spec.name.has()) {
      return Error(Errc::usage, "a pool's spec cannot name its cells (name: " + *resolved->spec.name + ")",
                   "drop name: from the file; claims name cells: brig run --pool " + c_name + " --name NAME");
    }
    if (auto field = engine::pool_spec_problem(resolved->spec); !field.empty()) {
      return Error(Errc::unavailable, "a pool's cells with " + field + ": not supported yet",
                   "drop it from the spec, or start such cells with brig run");
    }
    def.spec = spec::to_json(resolved->spec);
    def.created = timefmt::now_rfc3339();
    engine::Engine e(runner, ctx.paths);
    BRIG_TRY(e.pools().create(def, self_binary()));
    if (!ctx.quiet) {
      std::printf("pool %s: filling to %d ready cell%s (brig pool list)\n", c_name.c_str(), c_size, c_size == 1 ? "" : "s");
    }
    return 0;
  });

  auto* list = n->add_subcommand("list", "pools with their ready, starting and claimed cells");
  list->alias("ls");
  on_run(list, ctx, [&ctx]() -> Result<int> {
    engine::Engine e(runner, ctx.paths);
    auto pools = e.pools().list();
    if (!pools) return pools.error();
    if (ctx.json()) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& p : *pools) {
        if (!p.problem.empty()) {
          out.push_back({{"name", p.def.name}, {"damaged", p.problem}});
          continue;
        }
        out.push_back({{"name", p.def.name},
                       {"image", p.def.spec.value("image", "")},
                       {"size", p.def.size},
                       {"ready", p.ready},
                       {"starting", p.starting},
                       {"claimed", p.claimed},
                       {"max_age_s", p.def.max_age_s},
                       {"refilling", p.refilling},
                       {"created", p.def.created}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-20s %-36s %5s %6s %9s %8s %8s\n", "NAME", "IMAGE", "SIZE", "READY", "STARTING", "CLAIMED", "MAX-AGE");
    for (const auto& p : *pools) {
      if (!p.problem.empty()) {
        std::printf("%-20s damaged: %s (fix: brig pool rm %s)\n", p.def.name.c_str(), p.problem.c_str(), p.def.name.c_str());
        continue;
      }
      std::printf("%-20s %-36s %5d %6d %9d %8d %8s%s\n", p.def.name.c_str(), p.def.spec.value("image", "").c_str(),
                  p.def.size, p.ready, p.starting, p.claimed, age_text(p.def.max_age_s).c_str(),
                  p.refilling ? "" : "  (not refilling: brig system up)");
    }
    return 0;
  });

  static std::string rm_name;
  auto* rm = n->add_subcommand("rm", "remove a pool and its waiting cells (claimed cells stay)");
  rm->add_option("NAME", rm_name, "pool name")->required();
  on_run(rm, ctx, [&ctx]() -> Result<int> {
    engine::Engine e(runner, ctx.paths);
    BRIG_TRY(e.pools().remove(rm_name));
    if (!ctx.quiet) std::printf("removed pool %s\n", rm_name.c_str());
    return 0;
  });

  // What `pool create` and `system up` start detached; not for people.
  static std::string r_name, r_pidfile;
  auto* refill = n->add_subcommand("refill", "keep a pool full (started by brig; runs until SIGTERM)");
  refill->group("");
  refill->add_option("NAME", r_name, "pool name")->required();
  refill->add_option("--pidfile", r_pidfile, "written at start, removed on exit")->required();
  on_run(refill, ctx, [&ctx]() -> Result<int> {
    engine::Engine e(runner, ctx.paths);
    auto def = e.pools().load(r_name);
    if (!def) return def.error();
    auto resolved = load_spec_text(ctx.paths, def->spec.dump(2), ctx.paths.pool(r_name));
    if (!resolved) return resolved.error();
    std::signal(SIGTERM, on_term);
    std::signal(SIGINT, on_term);
    BRIG_TRY(fs::write_atomic(r_pidfile, std::to_string(::getpid()) + "\n", 0644));
    auto st = e.pools().refill(r_name, *resolved, [] { return g_stop.load(); });
    ::unlink(r_pidfile.c_str());
    if (!st) return st.error();
    return 0;
  });
}

}  // namespace brig::cli
