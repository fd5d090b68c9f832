// brig's nftables tables: a cell may reach only warden on its own network
// (the proxy, DNS, transparent HTTP and HTTPS); anything else it sends is
// refused at once, and nothing enters or crosses the cell pool. The host
// holds two tables; warden's network namespace one of its own.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/proc/command.h"

namespace brig::engine::nft {

// The host's ruleset as `nft -f` input (pure; golden-tested). Matches the
// pool 10.60.0.0/16 by address: podman 4.3 cannot name bridge interfaces, and
// this kernel has no `meta ibrname` (nor reject in the bridge family). Two tables:
//  - bridge brig: switched frames between a cell and warden (without
//    br_netfilter the inet hooks never see them): a cell's TCP and UDP to
//    warden's address on its network, warden's TCP, DNS answers and ICMP
//    errors back; every other IPv4 packet from or to the pool is dropped;
//  - inet brig: input to the host from the pool (the bridge gateway answers
//    otherwise) and routed traffic out of the pool are refused at once (TCP
//    reset, else ICMP port unreachable); routed traffic into it is dropped.
std::string ruleset();
// A cell admitted to warden's listener for one of its tcp host services.
struct TcpGrant {
  std::string address;  // the cell's IPv4 address
  int port = 0;
  bool operator==(const TcpGrant&) const = default;
};

// Warden's own table (`inet brig_warden`, inside its network namespace): a
// cell may open connections to the proxy port, DNS (UDP and TCP), the
// transparent HTTP and HTTPS ports, and the ports of its own tcp host
// services (the set host_tcp of address . port, `grants`) only; anything else
// it sends warden is refused at once. Answers to warden's own connections pass.
std::string warden_ruleset(const std::vector<TcpGrant>& grants);
// The set host_tcp made exactly `grants`, atomically (`nft -f` input).
std::string host_tcp_update(const std::vector<TcpGrant>& grants);

// Replaces the host's tables atomically (idempotent).
Status install(proc::Runner& runner);
// Replaces warden's table inside the network namespace of process
// `warden_pid` (nsenter; the table goes when the namespace does).
Status install_in_warden(proc::Runner& runner, long warden_pid, const std::vector<TcpGrant>& grants);
// Replaces the elements of warden's set host_tcp (the table stays).
Status set_host_tcp(proc::Runner& runner, long warden_pid, const std::vector<TcpGrant>& grants);
// The elements of warden's set host_tcp as they are live.
Result<std::vector<TcpGrant>> live_host_tcp(proc::Runner& runner, long warden_pid);
// Pure: the elements in `nft -j list set ...` output.
Result<std::vector<TcpGrant>> parse_host_tcp_json(const std::string& text);
// Deletes the host's tables; absent tables are fine.
Status remove(proc::Runner& runner);
// The rules that are missing or changed on the live system; empty when intact.
Result<std::vector<std::string>> check(proc::Runner& runner);
Result<std::vector<std::string>> check_in_warden(proc::Runner& runner, long warden_pid);

}  // namespace brig::engine::nft
