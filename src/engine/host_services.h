// A cell's host services on the engine's side (the spec's host_services;
// docs/reference/warden.md "Host services"): the table warden and the host relay read
// (state/host_services.h), the set of warden's nftables table that admits a
// cell to the listeners of its tcp services (nft.h), the names in the cell's
// /etc/hosts, and `brig policy set --host-service` live. Not part of the
// engine's interface.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "brig/engine/context.h"
#include "brig/engine/nft.h"
#include "brig/engine/record.h"
#include "brig/spec/cell_spec.h"
#include "brig/state/host_services.h"

namespace brig::engine::host_services {

// What the cell declares (its record's resolved spec).
std::vector<state::HostServiceEntry> declared(const CellRecord& rec);
// "<name>.host.brig" for each declared service.
std::vector<std::string> host_names(const std::vector<state::HostServiceEntry>& services);
// The tcp services of the running cells in `table`: what warden admits.
std::vector<nft::TcpGrant> tcp_grants(const state::HostServiceTable& table);

// Marks the cell's entry in the table running or not — made from its
// declared services when it has none (none when it declares none; the
// table's services are otherwise the live ones) — and, when a tcp service
// comes or goes, replaces warden's set of grants (skipped while warden or
// its table is not there: `system up` installs them).
Status publish(EngineContext& ctx, const CellRecord& rec, bool running);
// Sets the cell's services in the table (`policy set --host-service`): the
// entry keeps whether it runs, or takes `running_if_new`; no services, no entry.
Status put_services(EngineContext& ctx, const CellRecord& rec, const std::vector<state::HostServiceEntry>& services,
                    bool running_if_new);
// Removes the cell's entry and its grants.
Status withdraw(EngineContext& ctx, const std::string& cell);

// The pid of warden's container, 0 when it is not running.
long warden_pid(const Podman& podman);

// The lines `brig run` prints for a cell's tcp services: declared channels
// warden relays without inspecting.
std::vector<std::string> notes(const CellRecord& rec);

// The text of /etc/hosts `hosts` with brig's *.host.brig lines replaced by
// one per service, at `address` (pure).
std::string rewrite_hosts(const std::string& hosts, const std::vector<state::HostServiceEntry>& services,
                          const std::string& address);
// Rewrites a running cell's /etc/hosts (podman's file, in place: it is bind
// mounted) to name its services now.
Status refresh_hosts(EngineContext& ctx, const CellRecord& rec);

// --- the host relay: the process that connects warden to the host's ports ---

// `brig system host-relay ...` as `system up` starts it (pure).
std::vector<std::string> relay_args(const std::string& brig_binary, const Paths& paths, const std::string& target);
// The relay's pid when its pidfile names a live relay, else 0.
long relay_pid(const Paths& paths);
// Starts the relay (detached, its output in logs/host-relay.log) unless one
// from `brig_binary` runs; waits until its socket is there.
Status start_relay(EngineContext& ctx, const std::string& brig_binary, const std::string& target);
// Stops the relay (SIGTERM, then SIGKILL after 2 s); none running is fine.
Status stop_relay(EngineContext& ctx);
// Why the relay cannot serve warden now, or "" when it can.
std::string relay_problem(const Paths& paths);

}  // namespace brig::engine::host_services
