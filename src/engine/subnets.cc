#include "brig/engine/subnets.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "brig/core/fs.h"

namespace brig::engine {
namespace {

std::string spares_path(const Paths& paths) { return paths.system_state() + "/spare-networks.json"; }

// The spares file; its one reader and writer. REQUIRES for store: the lock.
Result<std::vector<SpareNetwork>> load_spares(const Paths& paths) {
  const std::string path = spares_path(paths);
  std::vector<SpareNetwork> out;
  if (!fs::exists(path)) return out;
  auto text = fs::read_file(path, 1 << 20);
  if (!text) return text.error();
  const Error damaged(Errc::invalid, path + " is damaged", "rm " + path + " && brig system prune --cells");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return damaged;
  for (const auto& [network, e] : j.items()) {
    if (!is_subnet_network(network) || !e.is_object() || !e.contains("subnet") || !e["subnet"].is_number_integer() ||
        !e.contains("since_ms") || !e["since_ms"].is_number_integer()) {
      return damaged;
    }
    SpareNetwork s{network, Subnet{e["subnet"].get<int>()}, e["since_ms"].get<std::int64_t>()};
    if (subnet_network(s.subnet) != network) return damaged;
    out.push_back(std::move(s));
  }
  return out;
}

Status store_spares(const Paths& paths, const std::vector<SpareNetwork>& spares) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& s : spares) j[s.network] = {{"subnet", s.subnet.index}, {"since_ms", s.since_ms}};
  BRIG_TRY(fs::make_dirs(paths.system_state(), 0755));
  return fs::write_atomic(spares_path(paths), j.dump(2) + "\n", 0644);
}

// The lowest /24 neither a cell nor a spare holds.
Result<Subnet> free_subnet(const SubnetMap& map, const std::vector<SpareNetwork>& spares) {
  std::set<int> used;
  for (const auto& s : spares) used.insert(s.subnet.index);
  for (int i = 1; i <= 254; ++i) {
    Subnet s{i};
    if (!used.count(i) && !map.count(s.cidr())) return s;
  }
  return Error(Errc::failed, "the cell pool 10.60.0.0/16 is full (254 cells)",
               "remove cells you no longer need: brig system prune --cells");
}

}  // namespace

Result<Subnet> allocate_subnet(const Paths& paths, const std::string& cell) {
  Subnet out;
  auto st = with_state_lock(paths, [&]() -> Status {
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    for (const auto& [cidr, owner] : *map) {
      if (owner == cell) return Error(Errc::exists, "cell " + cell + " already holds subnet " + cidr);
    }
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    auto s = free_subnet(*map, *spares);
    if (!s) return s.error();
    (*map)[s->cidr()] = cell;
    BRIG_TRY(state::store_subnet_map(paths, *map));
    out = *s;
    return {};
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

Result<std::vector<SpareNetwork>> list_spares(const Paths& paths) { return load_spares(paths); }

Result<std::optional<SpareNetwork>> take_spare(const Paths& paths, const std::string& cell, std::int64_t now_ms) {
  std::optional<SpareNetwork> out;
  auto st = with_state_lock(paths, [&]() -> Status {
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    for (const auto& [cidr, owner] : *map) {
      if (owner == cell) return Error(Errc::exists, "cell " + cell + " already holds subnet " + cidr);
    }
    auto best = spares->end();
    for (auto it = spares->begin(); it != spares->end(); ++it) {
      if (it->since_ms == kSpareBeingMade || now_ms - it->since_ms < kSpareQuietMs) continue;
      if (map->count(it->subnet.cidr())) continue;  // never both (a damaged pair): left to prune
      if (best == spares->end() || it->since_ms < best->since_ms) best = it;
    }
    if (best == spares->end()) return {};
    out = *best;
    spares->erase(best);
    // The spare is gone from its file before the map names the cell: a crash
    // between leaves the network to prune, never one subnet held twice.
    BRIG_TRY(store_spares(paths, *spares));
    (*map)[out->subnet.cidr()] = cell;
    return state::store_subnet_map(paths, *map);
  });
  if (!st) return st.error();
  return out;
}

std::optional<Subnet> subnet_of_cidr(const std::string& cidr) {
  for (int i = 1; i <= 254; ++i) {
    if (Subnet{i}.cidr() == cidr) return Subnet{i};
  }
  return std::nullopt;
}


Result<NetworkRelease> keep_as_spare(const Paths& paths, const std::string& cell, const std::string& network,
                                     std::int64_t now_ms, int keep) {
  NetworkRelease out = NetworkRelease::remove;
  auto st = with_state_lock(paths, [&]() -> Status {
    if (!is_subnet_network(network)) return {};  // a network named after its cell: its own
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    auto it = std::find_if(map->begin(), map->end(), [&](const auto& e) { return e.second == cell; });
    const Subnet subnet{std::stoi(network.substr(9))};
    if (it == map->end() || it->first != subnet.cidr()) {
      out = NetworkRelease::leave;
      return {};
    }
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    if (static_cast<int>(spares->size()) >= keep) return {};
    // The map first: warden forgets the cell before its network is handed on.
    map->erase(it);
    BRIG_TRY(state::store_subnet_map(paths, *map));
    spares->push_back({network, subnet, now_ms});
    BRIG_TRY(store_spares(paths, *spares));
    out = NetworkRelease::kept;
    return {};
  });
  if (!st) return st.error();
  return out;
}

Result<std::optional<Subnet>> held_subnet(const Paths& paths, const std::string& cell) {
  auto map = read_subnet_map(paths);
  if (!map) return map.error();
  for (const auto& [cidr, owner] : *map) {
    if (owner == cell) return subnet_of_cidr(cidr);
  }
  return std::optional<Subnet>{};
}

Result<Subnet> reserve_spare(const Paths& paths) {
  Subnet out;
  auto st = with_state_lock(paths, [&]() -> Status {
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    auto map = read_subnet_map(paths);
    if (!map) return map.error();
    auto s = free_subnet(*map, *spares);
    if (!s) return s.error();
    spares->push_back({subnet_network(*s), *s, kSpareBeingMade});
    BRIG_TRY(store_spares(paths, *spares));
    out = *s;
    return {};
  });
  if (!st) return st.error();
  return out;
}

Status ready_spare(const Paths& paths, const std::string& network, std::int64_t now_ms) {
  return with_state_lock(paths, [&]() -> Status {
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    for (auto& s : *spares) {
      if (s.network == network) s.since_ms = now_ms;
    }
    return store_spares(paths, *spares);
  });
}

Result<bool> drop_spare(const Paths& paths, const std::string& network) {
  bool listed = false;
  auto st = with_state_lock(paths, [&]() -> Status {
    auto spares = load_spares(paths);
    if (!spares) return spares.error();
    listed = std::erase_if(*spares, [&](const SpareNetwork& s) { return s.network == network; }) > 0;
    return listed ? store_spares(paths, *spares) : Status{};
  });
  if (!st) return st.error();
  return listed;
}

}  // namespace brig::engine
