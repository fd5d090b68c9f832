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
// Each direction reads into 16 KiB until a read fills it, then 256 KiB (bulk:
// fewer, larger syscalls), so thousands of idle tunnels stay cheap. (splice(2)
// through a pipe was tried for bulk passthrough: it saved warden's two copies
// but moved less data per second here, so it is not used.)
awaitable<void> tunnel(TcpStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);
awaitable<void> tunnel(TlsStream& a, TlsStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);
// Host services: a cell's TCP to the host relay, and the relay's end to the service.
awaitable<void> tunnel(TcpStream& a, UnixStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);
awaitable<void> tunnel(UnixStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);
// Ingress: the client's TLS to a cell's plain TCP.
awaitable<void> tunnel(TlsStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle);

}  // namespace brig::warden
