// The host relay: how warden, in its container, reaches services on the
// user's machine's loopback that cells declared (spec `host_services`,
// state/host_services.h). brig runs it on the host (`brig system host-relay`);
// it listens on a unix socket mounted into warden's container, and for each
// connection warden opens it checks the host-services table and connects to
// the declared port only. No Asio in this header.
//
// The protocol, one line each way, then raw bytes both ways:
//   warden: BRIG-RELAY 1 <cell> <service> <port>\n   (within 2 s, at most 128 bytes)
//   relay:  OK\n | ERR undeclared\n | ERR refused\n | ERR timeout\n | ERR unreachable\n
//           | ERR bad request\n | ERR busy\n
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/state/host_services.h"

namespace brig::warden {

inline constexpr std::size_t kRelayLineMax = 128;  // a request line, its '\n' included

struct RelayRequest {
  std::string cell, service;
  int port = 0;
  bool operator==(const RelayRequest&) const = default;
};

// "BRIG-RELAY 1 <cell> <service> <port>\n".
std::string format_relay_request(const RelayRequest& r);
// A request line without its '\n': Errc::invalid unless it is exactly the
// format above with a valid cell name (state::valid_cell_name), a service
// label as the table's (1-31 of [a-z0-9-]) and a port 1-65535 in decimal.
Result<RelayRequest> parse_relay_request(std::string_view line);

enum class RelayReply { ok, undeclared, refused, timeout, unreachable, bad_request, busy };
// The reply's line, '\n' included.
std::string_view relay_reply_line(RelayReply r);
// A reply line without its '\n', or nullopt when it is none of them.
std::optional<RelayReply> parse_relay_reply(std::string_view line);

// Whether `table` lets the relay connect for `r`: the cell's entry is
// running and declares that service on that port (any protocol).
bool relay_allows(const state::HostServiceTable& table, const RelayRequest& r);

struct HostRelayConfig {
  std::string home;    // $BRIG_HOME: the table is state/system/host-services.json
  std::string socket;  // the unix socket to listen on
  // When set and the relay runs as root, the socket is chowned to it (warden's uid:gid).
  std::optional<unsigned> owner_uid, owner_gid;
  std::string target = "127.0.0.1";  // where services listen (macOS: host.lima.internal)
  std::string pidfile;               // written once listening, removed on exit; "" for none
  std::size_t max_connections = 256;
};

// "UID:GID" (decimal) into cfg's owner; Errc::usage otherwise.
Status parse_relay_owner(std::string_view text, HostRelayConfig& cfg);

// Runs the relay until SIGTERM or SIGINT: removes a stale socket (only a
// socket) at `socket`, listens there (mode 0600), prints {"relay": "PATH"}
// on stdout once listening, and serves each connection as the protocol
// says, reading the table anew for each. On a signal it stops, removes the
// socket and the pidfile and returns. Logs one line per connection.
Status serve_host_relay(const HostRelayConfig& cfg);

}  // namespace brig::warden
