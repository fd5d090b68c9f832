// Forward stage: plain HTTP forward-proxy requests, and requests inside a
// MITM'd tunnel. Policy is decided on the request line and headers; bodies
// then stream both ways without buffering (SSE and chunked responses
// included). A request passes named stages — target, head checks, admit,
// expect, send (with one resend), response head checks, relay, upgrade —
// and any failure is recorded by Exchange::fail and answered by answer().
//
// Each connection is one coroutine on one io_context (one per thread), so a
// connection's state needs no strand. Errors are values (use_ec); nothing
// throws out of a coroutine.
#include "brig/core/strings.h"
#include "http_checks.h"
#include "proxy.h"
#include "relay.h"
#include "tunnel.h"
#include "upstream.h"

namespace brig::warden {
namespace {

// Answers one request whose head was read into `parser` (or failed with
// `read_ec`), and says what becomes of the client connection. In MITM mode
// every request goes to `fixed_host:fixed_port` over TLS and must name that
// host.
template <class ClientStream>
awaitable<After> serve_request(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf,
                               http::request_parser<http::buffer_body>& parser, error_code read_ec, const IpAddr& src,
                               const std::string& fixed_host, std::uint16_t fixed_port) {
  const bool mitm = !fixed_host.empty();
  UpstreamPool& pool = UpstreamPool::local();
  error_code ec = read_ec;
  const Caller who = identify(sh, src);
  if (ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::operation_aborted) {
      co_return After::close;
    }
    Exchange ex(sh, who, "http", mitm ? "mitm" : "none");
    if (ec == http::error::header_limit) {
      ex.fail(http::status::request_header_fields_too_large, "request head too large", Outcome::deny, Block::limit);
    } else {
      ex.fail(http::status::bad_request, "malformed request: " + ec.message(), Outcome::deny, Block::malformed);
    }
    co_return co_await answer(client, 11, ex, false);
  }
  auto& req = parser.get();
  const unsigned version = req.version();
  if (req.method() == http::verb::connect) {
    if constexpr (std::is_same_v<ClientStream, TcpStream>) {
      if (!mitm) co_return co_await handle_connect(sh, client, cbuf, parser, src);
    }
    Exchange ex(sh, who, "http", "mitm");
    ex.rec.method = "CONNECT";
    const std::optional<std::string> no_fix;
    co_await deny(client, version, ex, Block::malformed, "CONNECT inside a tunnel", "default deny", false, no_fix);
    co_return After::linger;
  }
  Exchange ex(sh, who, "http", mitm ? "mitm" : "none");
  ex.rec.method = std::string(req.method_string());
  // Where the request goes: the absolute-URI (forward proxy) or the tunnel's host.
  auto target = mitm ? origin_target(req, fixed_host, fixed_port) : absolute_target(req);
  if (!target) {
    ex.rec.host = std::string(req[http::field::host]);
    if (mitm && target.error().code() == Errc::invalid) {
      ex.fail(http::status::misdirected_request, target.error().message(), Outcome::deny, Block::host_mismatch);
    } else {
      ex.fail(http::status::bad_request, target.error().message(), Outcome::deny, Block::malformed);
    }
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  ex.rec.host = target->host;
  ex.rec.port = target->port;
  ex.rec.path = target->path;
  // One framing and one Host, as the upstream will parse them; a missing
  // Host is taken from the absolute URI.
  if (auto bad = normalize_request_head(req, framing_of(parser))) {
    ex.fail(http::status::bad_request, std::move(*bad), Outcome::deny, Block::malformed);
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  if (req.find(http::field::host) == req.end()) req.set(http::field::host, host_header(*target, mitm ? 443 : 80));
  bool keep = req.keep_alive();
  if (!co_await admit(client, version, ex, {target->host, target->port, ex.rec.method, target->path},
                      req.keep_alive(), keep)) {
    // The next request parses only if this one had no body left unread.
    co_return !parser.is_done() ? After::linger : keep ? After::next : After::close;
  }

  const bool websocket = is_websocket_upgrade(req);
  // Expect: warden answers 100-continue itself (the body is read before the
  // upstream sees the request) and knows no other expectation.
  bool expect_continue = false;
  if (auto e = req.find(http::field::expect); e != req.end()) {
    if (!str::iequals(str::trim(e->value()), "100-continue")) {
      ex.fail(http::status::expectation_failed, "unsupported Expect: " + std::string(e->value()), Outcome::deny,
              Block::malformed);
      co_return co_await answer(client, version, ex, parser.is_done());
    }
    expect_continue = version >= 11 && !parser.is_done();
  }
  prepare_upstream_request(req, *target, websocket);
  const bool want_keep_alive = keep;
  const auto idle = sh.cfg.limits.idle_timeout;
  if (expect_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code e;
    beast::get_lowest_layer(client).expires_after(idle);
    co_await asio::async_write(client, asio::buffer(kContinue.data(), kContinue.size()), use_ec(e));
    if (e) co_return After::close;
  }

  // A request without a body, or with a small one of known length, is read
  // whole before it goes out: one write, and it can be sent again.
  std::string wire;
  std::uint64_t sent = 0, received = 0;
  const bool whole = fits_one_write(parser);
  if (whole) {
    if (error_code e = co_await read_whole(client, cbuf, parser, wire, sent, idle)) {
      ex.rec.bytes_out = sent;
      ex.fail(http::status::bad_request, "reading the request body failed: " + e.message(), Outcome::error, std::nullopt);
      co_return After::close;
    }
  }
  // A pooled connection the upstream closed while it sat idle is only found
  // out by using it. An idempotent request held whole is then sent again on
  // a new connection (RFC 9110 §9.2.2), so the pool need not probe each
  // connection before use; any other request gets a probed one.
  const bool resendable = whole && !websocket && is_idempotent(req.method());
  using Reuse = UpstreamPool::Reuse;
  auto up = co_await pool.acquire(sh, who.name(), target->host, target->port, mitm,
                                  resendable ? Reuse::trust : Reuse::probe);
  std::optional<http::response_parser<http::buffer_body>> rp;
  error_code send_ec, head_ec;
  for (int attempt = 0; up.conn; ++attempt) {
    Upstream& u = *up.conn;
    send_ec = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
      error_code e;
      beast::get_lowest_layer(stream).expires_after(idle);
      if (whole) co_await asio::async_write(stream, asio::buffer(wire), use_ec(e));
      else e = co_await relay_body(client, cbuf, parser, stream, sent, idle);
      co_return e;
    });
    // The response head; interim 1xx answers (other than 101) are dropped:
    // the client gets the final one.
    do {
      rp.emplace();
      rp->header_limit(static_cast<std::uint32_t>(sh.cfg.limits.header_limit));
      rp->body_limit(kNoBodyLimit);
      if (req.method() == http::verb::head) rp->skip(true);
      if (send_ec) break;
      head_ec = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
        error_code e;
        beast::get_lowest_layer(stream).expires_after(idle);
        co_await http::async_read_header(stream, u.buffer, *rp, use_ec(e));
        co_return e;
      });
    } while (!head_ec && rp->get().result_int() / 100 == 1 && rp->get().result() != http::status::switching_protocols);
    const bool failed = send_ec || head_ec;
    if (!failed || !resendable || !up.reused || attempt > 0 || rp->got_some() || u.buffer.size() ||
        head_ec == beast::error::timeout) {
      break;
    }
    // The pooled connection was dead: once more on a new one.
    send_ec = head_ec = {};
    up = co_await pool.acquire(sh, who.name(), target->host, target->port, mitm, Reuse::fresh);
  }
  ex.rec.bytes_out = sent;
  if (!up.conn) {
    if (up.blocked) {
      ex.fail(static_cast<http::status>(up.status), up.reason, Outcome::deny, Block::blocked_address);
    } else {
      ex.fail(static_cast<http::status>(up.status), up.reason, Outcome::error, std::nullopt);
    }
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  Upstream& u = *up.conn;
  if (send_ec) {
    ex.fail(http::status::bad_gateway, "sending to upstream failed: " + send_ec.message(), Outcome::error, std::nullopt);
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  if (head_ec == beast::error::timeout) {
    ex.fail(http::status::gateway_timeout, "upstream timed out: " + head_ec.message(), Outcome::error, std::nullopt);
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  if (head_ec) {
    ex.fail(http::status::bad_gateway, "upstream failed: " + head_ec.message(), Outcome::error, std::nullopt);
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  auto& res = rp->get();
  // The answer goes on in one standard form too, or not at all: an upstream
  // whose framing is ambiguous could desynchronise the pooled connection.
  if (auto bad = normalize_response_head(res, framing_of(*rp))) {
    ex.fail(http::status::bad_gateway, "upstream answer refused: " + *bad, Outcome::error, std::nullopt);
    co_return co_await answer(client, version, ex, parser.is_done());
  }
  ex.rec.status = static_cast<int>(res.result_int());
  const bool upgraded = websocket && res.result() == http::status::switching_protocols;
  const bool upstream_keep = res.keep_alive();
  prepare_client_response(res, want_keep_alive, upgraded);
  error_code rel_ec = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
    co_return co_await relay_body(stream, u.buffer, *rp, client, received, idle);
  });
  ex.rec.bytes_in = received;
  if (upgraded && !rel_ec) {
    // WebSocket: from here on, raw bytes both ways (buffered bytes first).
    std::uint64_t a = 0, b = 0;
    co_await u.visit([&](auto& stream) -> awaitable<void> {
      if (cbuf.size()) { error_code e; co_await asio::async_write(stream, cbuf.data(), use_ec(e)); a += cbuf.size(); cbuf.consume(cbuf.size()); }
      if (u.buffer.size()) { error_code e; co_await asio::async_write(client, u.buffer.data(), use_ec(e)); b += u.buffer.size(); u.buffer.consume(u.buffer.size()); }
      // (Plain to plain, or TLS to TLS inside MITM: the only pairs there are.)
      if constexpr (std::is_same_v<std::decay_t<decltype(stream)>, ClientStream>) co_await tunnel(client, stream, a, b, idle);
    });
    ex.rec.bytes_out += a;
    ex.rec.bytes_in += b;
    ex.finish(Outcome::allow);
    co_return After::close;
  }
  ex.finish(rel_ec ? Outcome::error : Outcome::allow);
  if (!rel_ec && upstream_keep && rp->is_done()) pool.release(std::move(up.conn), sh.cfg.limits, sh.cfg.threads);
  co_return !rel_ec && want_keep_alive ? After::next : After::close;
}

}  // namespace

// Serves HTTP requests on `client` until it closes.
template <class ClientStream>
awaitable<void> http_loop(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf, const IpAddr& src,
                          const std::string& fixed_host, std::uint16_t fixed_port) {
  for (;;) {
    if (sh.draining) co_return;
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(sh.cfg.limits.header_limit));
    parser.body_limit(kNoBodyLimit);
    beast::get_lowest_layer(client).expires_after(sh.cfg.limits.header_timeout);
    error_code ec;
    co_await http::async_read_header(client, cbuf, parser, use_ec(ec));
    const After after = co_await serve_request(sh, client, cbuf, parser, ec, src, fixed_host, fixed_port);
    if (after == After::next) continue;
    if (after == After::linger) co_await linger_close(client);
    co_return;
  }
}


template awaitable<void> http_loop<TcpStream>(Shared&, TcpStream&, beast::flat_buffer&, const IpAddr&,
                                              const std::string&, std::uint16_t);
template awaitable<void> http_loop<TlsStream>(Shared&, TlsStream&, beast::flat_buffer&, const IpAddr&,
                                              const std::string&, std::uint16_t);

awaitable<void> serve_proxy_client(Socket socket, Shared& sh) {
  struct Count {
    Metrics& m;
    explicit Count(Metrics& mm) : m(mm) { m.active_connections.fetch_add(1); }
    ~Count() { m.active_connections.fetch_sub(1); }
  } count(sh.metrics);
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  if (sh.metrics.active_connections.load() > static_cast<std::int64_t>(sh.cfg.limits.max_connections)) co_return;
  const IpAddr src = to_ip(peer.address());
  // Small writes (a response head, then its body) must not wait for the peer's delayed ACK.
  socket.set_option(tcp::no_delay(true), ec);
  TcpStream stream(std::move(socket));
  beast::flat_buffer buf;
  co_await http_loop(sh, stream, buf, src, "", 0);
}

}  // namespace brig::warden
