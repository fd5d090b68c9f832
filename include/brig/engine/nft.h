// brig's nftables tables: cells may reach only warden's proxy port on their
// own network; nothing else leaves, enters or crosses the cell pool.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"

namespace brig::engine::nft {

// The whole ruleset as `nft -f` input (pure; golden-tested). Matches the pool
// 10.60.0.0/16 by address: podman 4.3 cannot name bridge interfaces, and this
// kernel has no `meta ibrname`. Two tables:
//  - bridge brig: switched traffic between a cell and warden on one bridge
//    (never seen by the inet hooks without br_netfilter): only cell -> .2:3128
//    and the replies; every other IPv4 packet from or to the pool is dropped;
//  - inet brig: input to the host from the pool (the bridge gateway answers
//    otherwise) and routed traffic into or out of the pool are dropped.
std::string ruleset();

// Replaces both tables atomically (idempotent).
Status install(proc::Runner& runner);
// Deletes both tables; absent tables are fine.
Status remove(proc::Runner& runner);
// The rules that are missing or changed on the live system; empty when intact.
Result<std::vector<std::string>> check(proc::Runner& runner);

}  // namespace brig::engine::nft
