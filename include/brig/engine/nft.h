// brig's nftables tables: a cell may reach only warden on its own network
// (the proxy, DNS, transparent HTTP and HTTPS); anything else it sends is
// refused at once, and nothing enters or crosses the cell pool.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"

namespace brig::engine::nft {

// The whole ruleset as `nft -f` input (pure; golden-tested). Matches the pool
// 10.60.0.0/16 by address: podman 4.3 cannot name bridge interfaces, and this
// kernel has no `meta ibrname`. Two tables:
//  - bridge brig, hook prerouting: frames a cell bridge receives (without
//    br_netfilter the inet hooks never see switched traffic). Only cell ->
//    .2 on tcp 3128, 53, 80, 443 and udp 53, warden -> cell tcp (ingress and
//    answers) and udp from port 53, and the cell's TCP answers pass; every
//    other IPv4 packet from the pool is rejected (TCP reset, else ICMP port
//    unreachable), and one into it dropped. Prerouting because the kernel
//    allows reject in a bridge chain only at prerouting and input;
//  - inet brig: input to the host from the pool (the bridge gateway answers
//    otherwise) and routed traffic out of the pool are rejected the same way;
//    routed traffic into the pool is dropped.
std::string ruleset();

// Replaces both tables atomically (idempotent).
Status install(proc::Runner& runner);
// Deletes both tables; absent tables are fine.
Status remove(proc::Runner& runner);
// The rules that are missing or changed on the live system; empty when intact.
Result<std::vector<std::string>> check(proc::Runner& runner);

}  // namespace brig::engine::nft
