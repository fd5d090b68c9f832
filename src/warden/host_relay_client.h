// Warden's side of the host relay (brig/warden/host_relay.h): a relayed
// connection to one declared service. Private to module warden.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "asio.h"
#include "brig/warden/host_relay.h"

namespace brig::warden {

// To reach the relay and hear its answer: longer than the relay's own 5 s
// to connect to the service, so its "ERR timeout" is what a client hears.
inline constexpr std::chrono::milliseconds kRelayTimeout{7000};

struct Relayed {
  std::optional<UnixSocket> socket;  // connected to the service, past the relay's OK
  int status = 502;                  // when no socket: what an HTTP client is told (403, 502, 503, 504)
  std::string reason;
  bool undeclared = false;  // the relay's table does not declare it (a deny, not an error)
};

// Connects to the relay at `socket_path`, asks for `req` and reads its one
// reply line, all within `timeout`.
awaitable<Relayed> open_relayed(const std::string& socket_path, const RelayRequest& req,
                                std::chrono::milliseconds timeout);

}  // namespace brig::warden
