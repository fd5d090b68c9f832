// Raw byte relays: CONNECT passthrough and upgraded (WebSocket) connections.
#pragma once

#include <chrono>
#include <cstdint>

#include "asio.h"

namespace brig::warden {

using TlsStream = beast::ssl_stream<TcpStream>;

// Relays bytes both ways until both directions have ended. Each direction
// half-closes its writer at EOF. The tunnel is idle, and both ends are
// closed, only once no byte has moved either way for `idle` (a long one-way
// download keeps it open).
//
// Between two TCP sockets, bulk data moves with splice(2) through a pipe: the
// kernel hands the pages over and warden never copies them. A tunnel uses
// small buffers and no pipe until a read fills its buffer, so idle tunnels
// stay cheap.
awaitable<void> tunnel(TcpStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);
awaitable<void> tunnel(TlsStream& a, TlsStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);

}  // namespace brig::warden
