// Host services as warden decides them (docs/reference/warden.md, "Host
// services"): <name>.host.brig is never a question for the egress policy;
// a cell reaches exactly the services its running entry in the
// host-services table declares (snapshot.h carries them), through the host
// relay (host_relay_client.h). Pure. Private to module warden.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "snapshot.h"

namespace brig::warden {

// Whether `host` (canonical) is host.brig or a name under it: such a host
// is a host service or nothing, never an upstream.
bool in_host_service_domain(std::string_view host);

// The decision on a plain HTTP request to `host`:`port` (a host in the
// domain) from `cell`, with or without a host relay configured.
struct HostServiceVerdict {
  std::string name;                                 // the service label; "" when the host is none
  const state::HostServiceEntry* entry = nullptr;   // allowed: the service it reaches
  std::string reason;                               // refused: why, for the person reading the 403
  std::optional<std::string> fix;                   // refused: the command that lifts it, if one does
  bool allowed() const { return entry != nullptr; }
};
// Allowed iff the relay is configured and the cell declares <name> with
// protocol http, and the request names port 80 or the declared port.
HostServiceVerdict decide_http_host_service(const CellState& cell, std::string_view host, std::uint16_t port,
                                            bool relay);

// The reason a TLS connection (CONNECT, transparent :443) to a name in the
// domain is refused.
std::string host_service_tls_refusal(std::string_view host);

// The reason every host service is refused when warden has no relay.
inline constexpr std::string_view kNoHostRelay =
    "host services are off: warden runs without a host relay (--host-relay)";

}  // namespace brig::warden
