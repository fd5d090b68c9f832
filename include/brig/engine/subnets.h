// The cell pool 10.60.0.0/16, one /24 per cell, recorded in the subnet map
// warden reads ($BRIG_HOME/state/system/subnet-map.json: {"10.60.3.0/24": "cell"}).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/podman.h"

namespace brig::engine {

using SubnetMap = std::map<std::string, std::string>;  // CIDR -> cell

Result<SubnetMap> read_subnet_map(const Paths& paths);

// Takes the lowest free /24 (10.60.1.0 .. 10.60.254.0) for `cell` under the
// state lock. Errc::exists when the cell already holds one; Errc::failed when
// the pool is full.
Result<Subnet> allocate_subnet(const Paths& paths, const std::string& cell);

// Drops every entry of `cell` (under the lock); absent is fine.
Status release_subnet(const Paths& paths, const std::string& cell);

// Runs `fn` while holding the state lock (state/system/lock).
Status with_state_lock(const Paths& paths, const std::function<Status()>& fn);

}  // namespace brig::engine
