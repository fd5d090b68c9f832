// The proxy's two entry stages, which call each other: HTTP requests on a
// connection (forward proxy, or inside a MITM'd tunnel), and CONNECT.
// Private to module warden.
#pragma once

#include <string>

#include "brig/warden/clienthello.h"
#include "exchange.h"
#include "http_checks.h"

namespace brig::warden {

// Where the requests on a client connection go.
struct Route {
  // Set: a MITM'd TLS tunnel to host:port, and every request must name it.
  // Empty: plain HTTP, each request naming its own target.
  std::string host;
  std::uint16_t port = 0;
  // The client connected to warden's own :80 or :443 (it ignores proxy
  // variables): plain requests are routed by their Host, which must name
  // `port`. Otherwise plain requests are forward-proxy requests.
  bool transparent = false;
  bool tls() const { return !host.empty(); }
};

// Serves HTTP requests on `client` until it closes (forward.cc). With
// `watch`, the loop ends once the watch is revoked and no request is in
// flight (an idle connection is closed at once).
template <class ClientStream>
awaitable<void> http_loop(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf, const IpAddr& src,
                          const Route& route, Watch* watch = nullptr);

// CONNECT host:port, whose head is in `parser`: admit, then pass the TLS
// through or terminate it and serve HTTP inside (connect.cc).
awaitable<After> handle_connect(Shared& sh, TcpStream& stream, beast::flat_buffer& buf,
                                http::request_parser<http::buffer_body>& parser, const IpAddr& src);

// An admitted TLS connection to `target` whose ClientHello is in `hello`
// (unconsumed): passed through to the upstream (a host the cell declared
// for passthrough) or terminated with a leaf from brig's CA, serving HTTP
// inside. `ex` is the tunnel's exchange; it is finished here (connect.cc).
awaitable<void> serve_tls(Shared& sh, TcpStream& stream, std::string& hello, Exchange& ex, const Dest& target,
                          const IpAddr& src, bool transparent);

// Reads the TLS ClientHello that starts `stream` into `hello` (which may
// already hold its first bytes), without consuming it for the TLS engine:
// the handshake is later given `hello` as its first input. Stops at a
// complete hello, at what cannot be one, or at kMaxClientHello bytes;
// `ec` says why reading stopped early (connect.cc).
awaitable<ClientHello> read_client_hello(TcpStream& stream, std::string& hello, std::chrono::milliseconds timeout,
                                         error_code& ec);

}  // namespace brig::warden
