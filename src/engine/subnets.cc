#include "brig/engine/subnets.h"

#include <nlohmann/json.hpp>
#include <set>

#include "brig/core/fs.h"

namespace brig::engine {

Status with_state_lock(const Paths& paths, const std::function<Status()>& fn) {
  BRIG_TRY(fs::make_dirs(paths.system_state(), 0755));
  auto lock = fs::FileLock::acquire(paths.system_state() + "/lock");
  if (!lock) return lock.error().context("locking brig's state");
  return fn();
}

Result<SubnetMap> read_subnet_map(const Paths& paths) {
  if (!fs::exists(paths.subnet_map())) return SubnetMap{};
  auto text = fs::read_file(paths.subnet_map(), 1 << 20);
  if (!text) return text.error();
  try {
    return nlohmann::json::parse(*text).get<SubnetMap>();
  } catch (const std::exception& e) {
    return Error(Errc::invalid, paths.subnet_map() + " is not a JSON object of strings: " + e.what(),
                 "brig system prune --subnets rewrites it from the cells that exist");
  }
}

namespace {

Status write_map(const Paths& paths, const SubnetMap& m) {
  return fs::write_atomic(paths.subnet_map(), nlohmann::json(m).dump(2) + "\n", 0644);
}

}  // namespace

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
      BRIG_TRY(write_map(paths, *map));
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
    bool changed = false;
    for (auto it = map->begin(); it != map->end();) {
      if (it->second == cell) {
        it = map->erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    return changed ? write_map(paths, *map) : Status{};
  });
}

}  // namespace brig::engine
