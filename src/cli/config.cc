// brig config get|set|list: the settings in $BRIG_HOME/config.json.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/engine/host.h"
#include "context.h"

namespace brig::cli {

void add_config(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("config", "brig's settings in $BRIG_HOME/config.json");
  static std::string key, value;
  std::string keys_help = "Settable keys:\n";
  for (const auto& [k, form] : engine::settable_keys()) keys_help += "  " + k + ": " + form + "\n";
  auto* get = n->add_subcommand("get", "print one setting: brig config get KEY");
  get->add_option("KEY", key,
                  "a setting: runsc_network, ops_port, warden_threads, spare_networks, ulimits, ingress_publish, ingress_domain, "
                  "ingress_cert, ingress_key, ingress_max_body, cgroup, runsc_version")
      ->required();
  get->footer("Example: brig config get runsc_network\nEvery setting and its value: brig config list");
  on_run(get, ctx, [&ctx]() -> Result<int> {
    auto cfg = engine::load_host_config(ctx.paths);
    if (!cfg) return cfg.error();
    for (const auto& [k, v] : engine::config_items(*cfg)) {
      if (k == key) {
        std::printf("%s\n", v.c_str());
        return 0;
      }
    }
    return Error(Errc::not_found, "no setting named " + key, "brig config list");
  });
  auto* set = n->add_subcommand("set", "change a setting: brig config set KEY VALUE (checked before it is saved)");
  set->add_option("KEY", key,
                  "runsc_network, ops_port, warden_threads, spare_networks, ulimits, ingress_publish, ingress_domain, ingress_cert, "
                  "ingress_key or ingress_max_body")
      ->required();
  set->add_option("VALUE", value, "the new value (see below)")->required();
  set->footer(keys_help + "Example: brig config set ulimits nofile=4096:4096\nbrig system doctor checks the saved values.");
  on_run(set, ctx, [&ctx]() -> Result<int> {
    auto cfg = engine::load_host_config(ctx.paths);
    if (!cfg) return cfg.error();
    BRIG_TRY(engine::config_set(*cfg, key, value));
    BRIG_TRY(engine::save_host_config(ctx.paths, *cfg));
    const auto items = engine::config_items(*cfg);  // the value as stored (a domain canonical, a size in bytes)
    auto stored = std::find_if(items.begin(), items.end(), [](const auto& kv) { return kv.first == key; });
    if (!ctx.quiet) std::printf("%s = %s\n", key.c_str(), stored == items.end() ? value.c_str() : stored->second.c_str());
    // ingress_cert and ingress_key are set one at a time: say what is missing.
    if (auto pair = engine::check_setting(*cfg, "ingress_tls"); !pair) {
      std::fprintf(stderr, "note: %s\nnext: %s\n", pair.error().message().c_str(), pair.error().fix().c_str());
    }
    if (key.rfind("ingress_", 0) == 0 && !ctx.quiet) {
      std::fprintf(stderr, "warden uses it once restarted: brig system up (running cells stay up)\n");
    }
    return 0;
  });
  auto* list = n->add_subcommand("list", "print every setting and its value (--format json: one object)");
  on_run(list, ctx, [&ctx]() -> Result<int> {
    auto cfg = engine::load_host_config(ctx.paths);
    if (!cfg) return cfg.error();
    if (ctx.json()) {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : engine::config_items(*cfg)) j[k] = v;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& [k, v] : engine::config_items(*cfg)) std::printf("%-16s %s\n", k.c_str(), v.c_str());
    return 0;
  });
}

}  // namespace brig::cli
