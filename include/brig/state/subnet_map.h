// $BRIG_HOME/state/system/subnet-map.json: which cell holds which subnet,
// {"10.60.3.0/24": "cell"}. The engine writes it (allocation and release under
// the state lock), warden reads it to tell cells apart by source address, and
// `brig system doctor|prune` read it. This file is the format's one owner:
// every writer and reader goes through it, so both sides validate alike.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

using SubnetMap = std::map<std::string, std::string>;  // CIDR -> cell

inline constexpr std::size_t kMaxSubnetMapBytes = 1u << 20;

// "ADDR/PREFIX" with an IPv4 (prefix 0-32) or IPv6 (0-128) address.
bool valid_cidr(std::string_view text);
// Cell names become file names (logs, policies), so never a path: 1-63
// lowercase letters, digits and '-', starting with a letter or digit (the
// pattern spec::valid_cell_name checks; reserved names are refused by spec
// when a cell is made, not here).
bool valid_cell_name(std::string_view name);

// Pure. Errc::invalid, each message starting with `source`, when the text is
// not a JSON object of strings, a key is not a CIDR, or a value is not a cell name.
Result<SubnetMap> parse_subnet_map(std::string_view text, const std::string& source);
// Pure. The same checks, then pretty-printed JSON with a final newline.
Result<std::string> serialize_subnet_map(const SubnetMap& map);

// The map on disk; an absent file is an empty map. The errors of
// parse_subnet_map, with a fix.
Result<SubnetMap> load_subnet_map(const Paths& paths);
// Writes the map atomically. REQUIRES: the state lock (state/lock.h) is held.
Status store_subnet_map(const Paths& paths, const SubnetMap& map);

}  // namespace brig::state
