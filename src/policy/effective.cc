#include "brig/policy/effective.h"

#include <algorithm>
#include <string>

namespace brig::policy {

std::optional<spec::RateLimit> resolve_rate(const spec::PolicyBlock& global, const spec::PolicyBlock* cell,
                                            std::string_view cell_name) {
  if (cell && cell->rate_default) return cell->rate_default;
  if (!cell_name.empty()) {
    if (auto it = global.rate_cells.find(std::string(cell_name)); it != global.rate_cells.end()) return it->second;
  }
  return global.rate_default;
}

spec::PolicyBlock in_force(spec::PolicyBlock block, std::int64_t now) {
  if (now) std::erase_if(block.allow, [&](const spec::AllowEntry& a) { return a.expires && *a.expires <= now; });
  return block;
}

Result<EffectivePolicy> effective(const spec::PolicyBlock& global, const spec::PolicyBlock* cell,
                                  std::string_view cell_name, const Options& opts) {
  Options o = opts;
  o.airgapped = opts.airgapped || (cell && cell->airgapped);
  auto compiled = Policy::compile(global, cell, o);
  if (!compiled) return compiled.error();
  return EffectivePolicy{std::move(*compiled), resolve_rate(global, cell, cell_name)};
}

}  // namespace brig::policy
