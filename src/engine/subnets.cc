#include "brig/engine/subnets.h"

#include <set>

namespace brig::engine {

Result<Subnet> allocate_subnet(const Paths& paths, const std::string& cell) {
  Subnet out;
  auto st = with_state_lock(paths, [&]() -> Status {
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    std::set<std::string> used;
    for (const auto& [cidr, owner] : *map) {
      if (owner == cell) return Error(Errc::exists, "cell " + cell + " already holds subnet " + cidr);
      used.insert(cidr);
    }
    for (int i = 1; i <= 254; ++i) {
      Subnet s{i};
      if (used.count(s.cidr())) continue;
      (*map)[s.cidr()] = cell;
      BRIG_TRY(state::store_subnet_map(paths, *map));
      out = s;
      return {};
    }
    return Error(Errc::failed, "the cell pool 10.60.0.0/16 is full (254 cells)",
                 "remove cells you no longer need: brig system prune --cells");
  });
  if (!st) return st.error();
  return out;
}

Status release_subnet(const Paths& paths, const std::string& cell) {
  return with_state_lock(paths, [&]() -> Status {
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    const auto erased = std::erase_if(*map, [&](const auto& entry) { return entry.second == cell; });
    return erased ? state::store_subnet_map(paths, *map) : Status{};
  });
}

}  // namespace brig::engine
