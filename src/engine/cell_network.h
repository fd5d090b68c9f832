// A cell's network on the host: warden attached to it, IPv6 off on its
// bridge, and its removal. Shared by Cells (run, start, rm) and System (up,
// prune).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/podman_client.h"
#include "brig/engine/record.h"

namespace brig::engine {

// podman's complaint about something that is not there (already removed).
bool is_gone(const std::string& err);

// Attaches warden to the cell's network at the cell's warden address ("already
// attached" is success).
Status connect_warden(const Podman& podman, const CellRecord& rec);

// Warden detached, the network removed ("no such network" is success).
Status teardown_network(const Podman& podman, const std::string& network);
// The containers on `network` but warden and `own` (podman ps --all); an
// error when podman cannot say.
Result<std::vector<std::string>> others_on(const Podman& podman, const std::string& network, const std::string& own = "");

// Switches IPv6 off on the bridge of `network` (the nft tables filter IPv4
// only): a security control, so any doubt is an error. `proc_sys` is the
// kernel's /proc/sys.
Status ensure_bridge_ipv6_off(const Podman& podman, const std::string& proc_sys, const std::string& network);

// The addresses of a resolv.conf's `nameserver` lines, in order.
std::vector<std::string> resolvers_of(std::string_view resolv_conf);

// What is wrong with a running cell's resolver, read from podman's
// `ResolvConfPath` for it: every nameserver must be `warden_ip`, and there
// must be one. nullopt when it is right.
std::optional<std::string> resolver_problem(const std::string& resolv_conf_path, const std::string& warden_ip);

}  // namespace brig::engine
