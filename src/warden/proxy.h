// The proxy's two entry stages, which call each other: HTTP requests on a
// connection (forward proxy, or inside a MITM'd tunnel), and CONNECT.
// Private to module warden.
#pragma once

#include <string>

#include "brig/warden/clienthello.h"
#include "exchange.h"

namespace brig::warden {

// Serves HTTP requests on `client` until it closes (forward.cc). With
// `fixed_host` set, `client` is a MITM'd tunnel to that host and port. With
// `watch`, the loop ends once the watch is revoked and no request is in
// flight (an idle connection is closed at once).
template <class ClientStream>
awaitable<void> http_loop(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf, const IpAddr& src,
                          const std::string& fixed_host, std::uint16_t fixed_port, Watch* watch = nullptr);

// CONNECT host:port, whose head is in `parser`: admit, then pass the TLS
// through or terminate it and serve HTTP inside (connect.cc).
awaitable<After> handle_connect(Shared& sh, TcpStream& stream, beast::flat_buffer& buf,
                                http::request_parser<http::buffer_body>& parser, const IpAddr& src);

// Reads the TLS ClientHello that starts `stream` into `hello` (which may
// already hold its first bytes), without consuming it for the TLS engine:
// the handshake is later given `hello` as its first input. Stops at a
// complete hello, at what cannot be one, or at kMaxClientHello bytes;
// `ec` says why reading stopped early (connect.cc).
awaitable<ClientHello> read_client_hello(TcpStream& stream, std::string& hello, std::chrono::milliseconds timeout,
                                         error_code& ec);

}  // namespace brig::warden
