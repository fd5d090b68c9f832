// CONNECT stage: admit the tunnel, sniff the TLS ClientHello (its SNI must
// name the CONNECT host), then pass the bytes through (declared hosts) or
// terminate TLS with a leaf from brig's CA and serve HTTP inside.
#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "host_services.h"
#include "http_checks.h"
#include "proxy.h"
#include "secrets.h"
#include "tunnel.h"
#include "upstream.h"

// GCC 12 reports Asio's coroutine frame (operator new and sized delete of
// awaitable_frame_base) as mismatched once a coroutine has external linkage:
// a known false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace brig::warden {

awaitable<ClientHello> read_client_hello(TcpStream& stream, std::string& hello, std::chrono::milliseconds timeout,
                                         error_code& ec) {
  ClientHello ch;
  for (;;) {
    ch = parse_client_hello(hello);
    if (ch.status != ClientHello::Status::need_more) break;
    if (hello.size() >= kMaxClientHello) break;
    const std::size_t have = hello.size();
    hello.resize(std::min(kMaxClientHello, std::max(ch.wanted, have + 1)));
    stream.expires_after(timeout);
    std::size_t n = co_await stream.async_read_some(asio::buffer(hello.data() + have, hello.size() - have), use_ec(ec));
    hello.resize(have + n);
    if (ec) break;
  }
  co_return ch;
}

// CONNECT host:port — decide, then MITM or pass through.
awaitable<After> handle_connect(Shared& sh, TcpStream& stream, beast::flat_buffer& buf,
                                http::request_parser<http::buffer_body>& parser, const IpAddr& src) {
  auto& req = parser.get();
  const Caller who = identify(sh, src);
  Exchange ex(sh, who, "connect", "mitm");
  ex.rec.method = "CONNECT";
  ex.json = wants_json(req[http::field::accept]);
  auto target = connect_target(req);
  if (!target) {
    ex.rec.host = std::string(req.target());
    ex.fail(http::status::bad_request, target.error().message(), Outcome::deny, Block::malformed);
    co_return co_await answer(stream, req.version(), ex, false);
  }
  ex.rec.host = target->host;
  ex.rec.port = target->port;
  if (in_host_service_domain(target->host)) {
    ex.rec.host_service = state::host_service_label(target->host);
    const std::optional<std::string> no_fix;
    const std::string why = host_service_tls_refusal(target->host);
    co_await deny(stream, req.version(), ex, Block::host_service, "host_service", why, "default deny", false, no_fix);
    co_return After::linger;
  }
  if (const CellState* cell = who.cell) {
    if (auto why = refuse_in_connect_head(req, cell->secrets)) {
      ex.fail(http::status::forbidden, std::move(*why), Outcome::deny, Block::secret);
      co_return co_await answer(stream, req.version(), ex, false);
    }
  }
  bool keep = false;
  // (The client may already be sending its ClientHello: linger after a refusal.)
  if (!co_await admit(stream, req.version(), ex, {target->host, target->port, "", ""}, false, keep)) {
    co_return After::linger;
  }

  // Concurrent tunnels per cell.
  auto& tunnels = *who.cell->tunnels;
  if (tunnels.fetch_add(1) >= static_cast<int>(sh.cfg.limits.max_tunnels_per_cell)) {
    tunnels.fetch_sub(1);
    ex.rec.status = 429;
    ex.rec.reason = "too many concurrent tunnels for this cell";
    ex.finish(Outcome::ratelimit, Block::limit);
    const std::string body = refusal_body(ex);
    const Headers h = refusal_headers(ex, {{"Retry-After", "1"}});
    co_await reply(stream, req.version(), http::status::too_many_requests, body, false, h);
    co_return After::linger;
  }
  struct Release { std::atomic<int>& n; ~Release() { n.fetch_sub(1); } } release{tunnels};

  error_code ec;
  {
    http::response<http::empty_body> ok{http::status::ok, req.version()};
    ok.reason("Connection established");
    http::serializer<false, http::empty_body> sr{ok};
    sr.split(true);
    co_await http::async_write_header(stream, sr, use_ec(ec));
    if (ec) co_return After::close;
  }

  // Read the ClientHello (without consuming it for the TLS engine).
  std::string hello(beast::buffers_to_string(buf.data()));
  buf.consume(buf.size());
  const ClientHello ch = co_await read_client_hello(stream, hello, sh.cfg.limits.header_timeout, ec);
  if (ec) co_return After::close;
  std::string sni;
  if (ch.status == ClientHello::Status::complete) {
    if (auto n = hostname::normalize(ch.sni); n) sni = *n;
  }
  if (ch.status != ClientHello::Status::complete || sni != target->host) {
    ex.rec.status = 403;
    ex.rec.reason = ch.status != ClientHello::Status::complete ? "tunnel does not start with a TLS ClientHello"
                    : ch.sni.empty() ? "TLS ClientHello has no SNI" : "SNI " + str::quote(ch.sni) + " does not match the CONNECT host";
    ex.finish(Outcome::deny, Block::sni_mismatch);
    co_return After::close;  // closing is the only answer inside a TLS tunnel
  }

  co_await serve_tls(sh, stream, hello, ex, *target, src, false);
  co_return After::close;
}

awaitable<void> serve_tls(Shared& sh, TcpStream& stream, std::string& hello, Exchange& ex, const Dest& target,
                          const IpAddr& src, bool transparent) {
  error_code ec;
  const bool passthrough = ex.who.cell->policy->passthrough(target.host);
  if (passthrough) {
    ex.rec.tls = "passthrough";
    ex.who.cell->metrics->passthrough.fetch_add(1, std::memory_order_relaxed);
    auto up = co_await connect_upstream(sh, target.host, target.port);
    if (!up.socket) {
      ex.rec.status = up.status;
      ex.rec.reason = up.reason;
      ex.finish(up.blocked ? Outcome::deny : Outcome::error, up.blocked ? std::optional(Block::blocked_address) : std::nullopt);
      co_return;
    }
    TcpStream upstream(std::move(*up.socket));
    upstream.expires_after(sh.cfg.limits.idle_timeout);
    co_await asio::async_write(upstream, asio::buffer(hello), use_ec(ec));
    if (ec) co_return;
    std::uint64_t out = hello.size(), in = 0;
    // A policy change that removes the host (or its passthrough) cuts the tunnel at once.
    Watch watch(sh.watches, {ex.who.cell->name, target.host, target.port, "", "", true, std::nullopt}, stream.get_executor());
    watch.closable([&] {
      error_code ignored;
      stream.socket().close(ignored);
      upstream.socket().close(ignored);
    });
    if (!still_allowed(*sh.store->current(), watch.admitted())) co_return;  // changed meanwhile
    co_await tunnel(stream, upstream, out, in, sh.cfg.limits.idle_timeout);
    watch.closable(nullptr);
    ex.rec.status = 200;
    ex.rec.bytes_out = out;
    ex.rec.bytes_in = in;
    if (const auto gen = watch.revoked()) ex.rec.reason = revoked_reason(gen);
    ex.finish(Outcome::allow);
    co_return;
  }

  // MITM: terminate TLS with a leaf for the host, then serve HTTP inside.
  bool hit = false;
  auto ctx = sh.leaves->get(target.host, &hit);
  (hit ? sh.metrics.cert_hits : sh.metrics.cert_misses).fetch_add(1, std::memory_order_relaxed);
  if (!ctx) {
    ex.rec.status = 500;
    ex.rec.reason = ctx.error().message();
    ex.finish(Outcome::error);
    co_return;
  }
  beast::ssl_stream<TcpStream> tls(std::move(stream), **ctx);
  beast::get_lowest_layer(tls).expires_after(sh.cfg.limits.header_timeout);
  co_await tls.async_handshake(ssl::stream_base::server, asio::buffer(hello), use_ec(ec));
  if (ec) {
    ex.rec.status = 0;
    ex.rec.reason = "client TLS handshake failed (does the cell trust brig's CA?): " + ec.message();
    ex.finish(Outcome::error);
    co_return;
  }
  ex.rec.status = 200;
  ex.finish(Outcome::allow);
  beast::flat_buffer inner;
  // A policy change that removes the host closes the tunnel once no request is in flight.
  Watch watch(sh.watches, {ex.who.cell->name, target.host, target.port, "", "", false, std::nullopt}, tls.get_executor());
  const Route route{target.host, target.port, transparent};
  co_await http_loop(sh, tls, inner, src, route, &watch);
  error_code ignored;
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
  co_await tls.async_shutdown(use_ec(ignored));
}

}  // namespace brig::warden
