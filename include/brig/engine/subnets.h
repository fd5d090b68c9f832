// The cell pool 10.60.0.0/16, one /24 per cell, recorded in the subnet map
// warden reads (its format: brig/state/subnet_map.h).
#pragma once

#include <string>

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

// Runs `fn` while holding the state lock (state/system/lock).
using state::with_state_lock;

}  // namespace brig::engine
