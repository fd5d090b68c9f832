// The cell pool 10.60.0.0/16, one /24 per cell, recorded in the subnet map
// warden reads (its format: brig/state/subnet_map.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/podman.h"
#include "brig/state/lock.h"
#include "brig/state/subnet_map.h"

namespace brig::engine {

using SubnetMap = state::SubnetMap;  // CIDR -> cell

// The map on disk (absent: empty); Errc::invalid with a fix when damaged.
inline Result<SubnetMap> read_subnet_map(const Paths& paths) { return state::load_subnet_map(paths); }

// Takes the lowest free /24 (10.60.1.0 .. 10.60.254.0) for `cell` under the
// state lock. Errc::exists when the cell already holds one; Errc::failed when
// the pool is full.
Result<Subnet> allocate_subnet(const Paths& paths, const std::string& cell);

// Drops every entry of `cell` (under the lock); absent is fine.
Status release_subnet(const Paths& paths, const std::string& cell);

// Spare cell networks: made ahead by `system up`, or kept when a cell is
// removed, each attached to warden already, so a cell taking one skips the
// network's create and warden's connect (~200 ms) and its removal skips their
// undoing (~350 ms). A spare's subnet is in no cell's entry of the map (warden
// admits nothing from it) and is never allocated; its network is named after
// the subnet (subnet_network), never after a cell.
// state/system/spare-networks.json: {"brig_net_7": {"subnet": 7, "since_ms": N}}.
struct SpareNetwork {
  std::string network;
  Subnet subnet;
  std::int64_t since_ms = 0;  // when it became free; kSpareBeingMade while made
};
inline constexpr std::int64_t kSpareQuietMs = 1000;           // free this long before it is handed out
inline constexpr std::int64_t kSpareBeingMade = INT64_MAX;    // reserved, not made yet

// The spares on record (absent file: none); Errc::invalid with a fix when damaged.
Result<std::vector<SpareNetwork>> list_spares(const Paths& paths);
// Under the lock: the longest-free spare free for kSpareQuietMs moves to
// `cell` (its subnet into the map, the cell's); nullopt when there is none.
Result<std::optional<SpareNetwork>> take_spare(const Paths& paths, const std::string& cell, std::int64_t now_ms);
// What becomes of a removed cell's network (keep_as_spare).
enum class NetworkRelease {
  kept,    // a spare from now; the cell's subnet left the map
  remove,  // the cell's own, not kept: the caller removes it, then release_subnet
  leave,   // the map does not give its subnet to the cell (never did, or another cell
           // or a spare has it now): the caller leaves it and only release_subnet
};
// Under the lock: when `network` is the network of the subnet the map gives
// `cell`, and fewer than `keep` (the spare_networks setting) are kept, it
// becomes a spare; else nothing changes.
Result<NetworkRelease> keep_as_spare(const Paths& paths, const std::string& cell, const std::string& network,
                                     std::int64_t now_ms, int keep);
// The pool's subnet "10.60.N.0/24" names, if it is one.
std::optional<Subnet> subnet_of_cidr(const std::string& cidr);
// The subnet the map gives `cell`, if any.
Result<std::optional<Subnet>> held_subnet(const Paths& paths, const std::string& cell);
// Reserves the lowest free subnet for a spare about to be made (never handed
// out until ready_spare); drop_spare forgets one (absent is fine).
Result<Subnet> reserve_spare(const Paths& paths);
Status ready_spare(const Paths& paths, const std::string& network, std::int64_t now_ms);
// Whether it was listed (a run may have taken it since it was read).
Result<bool> drop_spare(const Paths& paths, const std::string& network);

// Runs `fn` while holding the state lock (state/system/lock).
using state::with_state_lock;

}  // namespace brig::engine
