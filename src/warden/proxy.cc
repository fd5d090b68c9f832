// The data plane: plain HTTP forward proxy, CONNECT tunnels, MITM and TLS
// passthrough. Policy is decided on the request line and headers; bodies then
// stream both ways without buffering (SSE and chunked responses included).
//
// Each connection is one coroutine on one io_context (one per thread), so a
// connection's state needs no strand. Errors are values (use_ec); nothing
// throws out of a coroutine.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <span>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/warden/clienthello.h"
#include "http_checks.h"
#include "server.h"
#include "tunnel.h"
#include "upstream.h"

namespace brig::warden {
namespace {

using Clock = std::chrono::steady_clock;

// Bodies stream through, so no limit. (Beast 1.74 treats body_limit(none) as
// "always exceeded" for Content-Length messages: use the largest value instead.)
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();


// Who is asking: the cell of the source address under the current snapshot.
struct Caller {
  std::shared_ptr<const Snapshot> snap;
  const CellState* cell = nullptr;
  std::string name() const { return cell ? cell->name : "unknown"; }
};

Caller identify(Shared& sh, const IpAddr& src) {
  Caller c;
  c.snap = sh.store->current();
  c.cell = c.snap->cell_for(src);
  return c;
}

// Per-request bookkeeping that ends in one log record and the metrics.
struct Exchange {
  Shared& sh;
  const Caller& who;
  LogRecord rec;
  Clock::time_point start = Clock::now();

  Exchange(Shared& s, const Caller& w, const char* kind, const char* tls) : sh(s), who(w) {
    rec.cell = w.name();
    rec.kind = kind;
    rec.tls = tls;
  }
  void finish(Outcome outcome, std::optional<Block> block = std::nullopt) {
    rec.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    rec.decision = outcome == Outcome::allow ? "allow" : outcome == Outcome::deny ? "deny"
                   : outcome == Outcome::ratelimit ? "ratelimit" : "error";
    std::shared_ptr<CellMetrics> m = who.cell ? who.cell->metrics : sh.metrics.cell("unknown");
    m->requests[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
    if (block) m->blocked[static_cast<std::size_t>(*block)].fetch_add(1, std::memory_order_relaxed);
    if (outcome == Outcome::ratelimit) m->ratelimited.fetch_add(1, std::memory_order_relaxed);
    m->bytes_in.fetch_add(rec.bytes_in, std::memory_order_relaxed);
    m->bytes_out.fetch_add(rec.bytes_out, std::memory_order_relaxed);
    m->observe(rec.duration_ms / 1000.0);
    sh.log->write(rec);  // a copy: callers still use rec for the reply
  }
  // A failure: its status and reason recorded, then finish().
  void fail(http::status status, std::string reason, Outcome outcome, std::optional<Block> block) {
    rec.status = static_cast<int>(status);
    rec.reason = std::move(reason);
    finish(outcome, block);
  }
};

// RFC 9110 §9.2.2: a request that may be sent twice with the effect of once.
bool is_idempotent(http::verb m) {
  switch (m) {
    case http::verb::get: case http::verb::head: case http::verb::options: case http::verb::trace:
    case http::verb::put: case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

std::string allow_hint(const std::string& cell, const std::string& host) {
  return "brig policy set " + (cell == "unknown" ? std::string("CELL") : cell) + " --allow " + host;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// A short text/plain answer from warden itself. (Callers pass headers as a
// named variable: GCC 12 miscompiles braced initialisers inside co_await.)
template <class Stream>
awaitable<bool> reply(Stream& s, unsigned version, http::status status, const std::string& body, bool keep_alive,
                      const Headers& extra = Headers()) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "brig-warden");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [k, v] : extra) res.set(k, v);
  res.body() = body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  error_code ec;
  co_await http::async_write(s, res, use_ec(ec));
  co_return !ec && keep_alive;
}

std::string denial_body(const std::string& cell, const std::string& host, std::string_view reason,
                        std::string_view rule, bool fixable) {
  std::string b = "brig warden blocked this request\n";
  b += "cell:   " + cell + "\n";
  b += "host:   " + host + "\n";
  b += "reason: " + std::string(reason) + "\n";
  b += "rule:   " + std::string(rule) + "\n";
  if (fixable) b += "fix:    " + allow_hint(cell, host) + "\n";
  return b;
}

template <class Stream>
awaitable<bool> deny(Stream& s, unsigned version, Exchange& ex, Block block, std::string_view reason,
                     std::string_view rule, bool keep_alive, bool fixable = true) {
  ex.rec.status = 403;
  ex.rec.reason = std::string(reason);
  ex.rec.rule = std::string(rule);
  const std::string body = denial_body(ex.rec.cell, ex.rec.host, reason, rule, fixable && ex.who.cell);
  ex.finish(Outcome::deny, block);
  const Headers h{{"X-Brig-Decision", "deny"}};
  co_return co_await reply(s, version, http::status::forbidden, body, keep_alive, h);
}

// Policy + rate limit for one request. Returns true when it may proceed; on
// false the answer has been sent and `keep` says whether the client
// connection can stay open.
template <class Stream>
awaitable<bool> admit(Stream& s, unsigned version, Exchange& ex, const policy::Request& req, bool keep_alive,
                      bool& keep) {
  keep = keep_alive;
  if (!ex.who.cell) {
    keep = co_await deny(s, version, ex, Block::unknown_source, "unknown source address: not a brig cell",
                         "default deny", false, false);
    co_return false;
  }
  const auto v = ex.who.cell->policy->evaluate(req);
  ex.rec.rule = std::string(v.rule);
  if (!v.allowed()) {
    const bool fixable = v.reason != policy::Reason::denied_by_rule && v.reason != policy::Reason::airgapped &&
                         v.reason != policy::Reason::invalid_host && v.reason != policy::Reason::ip_literal;
    keep = co_await deny(s, version, ex, Block::policy, policy::reason_text(v.reason), v.rule, keep_alive, fixable);
    co_return false;
  }
  double retry = 1;
  if (!ex.who.cell->bucket->take(&retry)) {
    ex.rec.status = 429;
    ex.rec.reason = "rate limit";
    ex.finish(Outcome::ratelimit);
    const std::string secs = std::to_string(static_cast<long>(std::ceil(retry)));
    const Headers h{{"Retry-After", secs}, {"X-Brig-Decision", "ratelimit"}};
    keep = co_await reply(s, version, http::status::too_many_requests,
                          "brig warden: rate limit for cell " + ex.rec.cell + " exceeded; retry in " + secs + "s\n",
                          keep_alive, h);
    co_return false;
  }
  co_return true;
}

// Bodies up to this size with a Content-Length go out with their header.
constexpr std::uint64_t kCoalesceLimit = 64 * 1024;

// Whether the message whose head `p` has read has no body or a small one of
// known length: such a message is read whole and sent in one write.
template <bool isRequest>
bool fits_one_write(const http::parser<isRequest, http::buffer_body>& p) {
  const auto length = p.content_length();
  return p.is_done() || (length && *length <= kCoalesceLimit);
}

// For a message that fits_one_write: appends its head (serialized by hand)
// and its whole body to `wire`.
template <bool isRequest, class In>
awaitable<error_code> read_whole(In& in, beast::flat_buffer& in_buf, http::parser<isRequest, http::buffer_body>& p,
                                 std::string& wire, std::uint64_t& bytes, std::chrono::milliseconds idle) {
  const std::uint64_t length = p.is_done() ? 0 : *p.content_length();
  wire.reserve(512 + length);
  serialize_head(wire, p.get());
  if (p.is_done()) co_return error_code{};
  const std::size_t head = wire.size();
  wire.resize(head + length);
  p.get().body().data = wire.data() + head;
  p.get().body().size = length;
  error_code ec;
  while (!p.is_done() && p.get().body().size > 0) {
    beast::get_lowest_layer(in).expires_after(idle);
    co_await http::async_read_some(in, in_buf, p, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  }
  if (!p.is_done()) co_return http::error::body_limit;  // more body than its Content-Length: cannot happen
  bytes += length;
  co_return ec;
}

// Relays one message (request or response) with a buffer_body parser whose
// header has been read: header first, then the body as it arrives.
template <bool isRequest, class In, class Out>
awaitable<error_code> relay_body(In& in, beast::flat_buffer& in_buf, http::parser<isRequest, http::buffer_body>& p,
                                 Out& out, std::uint64_t& bytes, std::chrono::milliseconds idle) {
  error_code ec;
  // The common case, no body or a small one of known length: head and body
  // leave in one write (one syscall, one packet).
  if (fits_one_write(p)) {
    std::string wire;
    ec = co_await read_whole(in, in_buf, p, wire, bytes, idle);
    if (ec) co_return ec;
    beast::get_lowest_layer(out).expires_after(idle);
    co_await asio::async_write(out, asio::buffer(wire), use_ec(ec));
    co_return ec;
  }
  // Anything else (chunked, SSE, large or unknown length): the head now, so
  // the peer sees it without waiting for the first body bytes, then the body
  // as it arrives.
  http::serializer<isRequest, http::buffer_body> sr{p.get()};
  beast::get_lowest_layer(out).expires_after(idle);
  co_await http::async_write_header(out, sr, use_ec(ec));
  if (ec) co_return ec;
  // Coroutine locals must not be C arrays (GCC 12 coroutine bug); not zeroed: it is overwritten.
  constexpr std::size_t kBuf = 16384;
  auto buf_owner = std::make_unique_for_overwrite<char[]>(kBuf);
  std::span<char> buf(buf_owner.get(), kBuf);
  while (!p.is_done()) {
    p.get().body().data = buf.data();
    p.get().body().size = buf.size();
    beast::get_lowest_layer(in).expires_after(idle);
    co_await http::async_read_some(in, in_buf, p, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
    const std::size_t n = buf.size() - p.get().body().size;
    if (n == 0 && !p.is_done()) continue;
    p.get().body().data = n ? buf.data() : nullptr;
    p.get().body().size = n;
    p.get().body().more = !p.is_done();
    bytes += n;
    beast::get_lowest_layer(out).expires_after(idle);
    co_await http::async_write(out, sr, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  }
  if (!sr.is_done()) {
    p.get().body().data = nullptr;
    p.get().body().size = 0;
    p.get().body().more = false;
    co_await http::async_write(out, sr, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
  }
  co_return ec;
}

// What becomes of the client connection after an exchange.
enum class After {
  next,    // read the next request
  close,   // close now: nothing the client sent is left unread
  linger,  // warden answered early: close without destroying the answer (linger_close)
};

awaitable<After> handle_connect(Shared& sh, TcpStream& stream, beast::flat_buffer& buf,
                                http::request_parser<http::buffer_body>& parser, const IpAddr& src);

// Closes after an answer sent before the request was read whole, as nginx's
// lingering close does: a plain close() with unread input makes the kernel
// send a reset, which can destroy the answer before the client reads it. So
// our side is shut down first, then what the client still sends is read
// and dropped, within a bound of time and bytes, until it closes too.
template <class Stream>
awaitable<void> linger_close(Stream& s) {
  auto& tcp = beast::get_lowest_layer(s);
  error_code ec;
  tcp.socket().shutdown(Socket::shutdown_send, ec);
  if (ec) co_return;
  constexpr std::size_t kBuf = 16384, kMaxBytes = 1 << 20;
  constexpr auto kMaxTime = std::chrono::seconds(2);
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  tcp.expires_after(kMaxTime);
  for (std::size_t total = 0; total < kMaxBytes;) {
    total += co_await tcp.async_read_some(asio::buffer(buf.get(), kBuf), use_ec(ec));
    if (ec) break;
  }
  tcp.socket().close(ec);
}

// Warden's own short answer to the failure recorded in `ex` (Exchange::fail),
// after which the connection closes: lingering when the request was not
// read whole. (The reason is built before, outside co_await: GCC 12
// destroys some temporaries inside a co_await expression twice.)
template <class Stream>
awaitable<After> answer(Stream& s, unsigned version, const Exchange& ex, bool request_read) {
  Headers h;
  if (ex.rec.decision == "deny") h.emplace_back("X-Brig-Decision", "deny");
  co_await reply(s, version, static_cast<http::status>(ex.rec.status), "brig warden: " + ex.rec.reason + "\n", false, h);
  co_return request_read ? After::close : After::linger;
}

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
    co_await deny(client, version, ex, Block::malformed, "CONNECT inside a tunnel", "default deny", false, false);
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


// CONNECT host:port — decide, then MITM or pass through.
awaitable<After> handle_connect(Shared& sh, TcpStream& stream, beast::flat_buffer& buf,
                                http::request_parser<http::buffer_body>& parser, const IpAddr& src) {
  auto& req = parser.get();
  const Caller who = identify(sh, src);
  Exchange ex(sh, who, "connect", "mitm");
  ex.rec.method = "CONNECT";
  auto target = connect_target(req);
  if (!target) {
    ex.rec.host = std::string(req.target());
    ex.fail(http::status::bad_request, target.error().message(), Outcome::deny, Block::malformed);
    co_return co_await answer(stream, req.version(), ex, false);
  }
  ex.rec.host = target->host;
  ex.rec.port = target->port;
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
    const Headers h{{"Retry-After", "1"}};
    co_await reply(stream, req.version(), http::status::too_many_requests, "brig warden: " + ex.rec.reason + "\n", false, h);
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
  ClientHello ch;
  for (;;) {
    ch = parse_client_hello(hello);
    if (ch.status != ClientHello::Status::need_more) break;
    if (hello.size() >= kMaxClientHello) break;
    const std::size_t have = hello.size();
    hello.resize(std::min(kMaxClientHello, std::max(ch.wanted, have + 1)));
    stream.expires_after(sh.cfg.limits.header_timeout);
    std::size_t n = co_await stream.async_read_some(asio::buffer(hello.data() + have, hello.size() - have), use_ec(ec));
    hello.resize(have + n);
    if (ec) co_return After::close;
  }
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

  const bool passthrough = who.cell->policy->passthrough(target->host);
  if (passthrough) {
    ex.rec.tls = "passthrough";
    who.cell->metrics->passthrough.fetch_add(1, std::memory_order_relaxed);
    auto up = co_await connect_upstream(sh, target->host, target->port);
    if (!up.socket) {
      ex.rec.status = up.status;
      ex.rec.reason = up.reason;
      ex.finish(up.blocked ? Outcome::deny : Outcome::error, up.blocked ? std::optional(Block::blocked_address) : std::nullopt);
      co_return After::close;
    }
    TcpStream upstream(std::move(*up.socket));
    upstream.expires_after(sh.cfg.limits.idle_timeout);
    co_await asio::async_write(upstream, asio::buffer(hello), use_ec(ec));
    if (ec) co_return After::close;
    std::uint64_t out = hello.size(), in = 0;
    co_await tunnel(stream, upstream, out, in, sh.cfg.limits.idle_timeout);
    ex.rec.status = 200;
    ex.rec.bytes_out = out;
    ex.rec.bytes_in = in;
    ex.finish(Outcome::allow);
    co_return After::close;
  }

  // MITM: terminate TLS with a leaf for the host, then serve HTTP inside.
  bool hit = false;
  auto ctx = sh.leaves->get(target->host, &hit);
  (hit ? sh.metrics.cert_hits : sh.metrics.cert_misses).fetch_add(1, std::memory_order_relaxed);
  if (!ctx) {
    ex.rec.status = 500;
    ex.rec.reason = ctx.error().message();
    ex.finish(Outcome::error);
    co_return After::close;
  }
  beast::ssl_stream<TcpStream> tls(std::move(stream), **ctx);
  beast::get_lowest_layer(tls).expires_after(sh.cfg.limits.header_timeout);
  co_await tls.async_handshake(ssl::stream_base::server, asio::buffer(hello), use_ec(ec));
  if (ec) {
    ex.rec.status = 0;
    ex.rec.reason = "client TLS handshake failed (does the cell trust brig's CA?): " + ec.message();
    ex.finish(Outcome::error);
    co_return After::close;
  }
  ex.rec.status = 200;
  ex.finish(Outcome::allow);
  beast::flat_buffer inner;
  co_await http_loop(sh, tls, inner, src, target->host, target->port);
  error_code ignored;
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
  co_await tls.async_shutdown(use_ec(ignored));
  co_return After::close;
}

}  // namespace

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
