// Forward stage: plain HTTP forward-proxy requests, and requests inside a
// MITM'd tunnel. Policy is decided on the request line and headers (a host
// service, <name>.host.brig, by the cell's declarations instead); bodies
// then stream both ways without buffering (SSE and chunked responses
// included). A request passes named stages — target, head checks, admit,
// expect, send (with one resend), response head checks, relay, upgrade —
// and any failure is recorded by Exchange::fail and answered by answer().
//
// Each connection is one coroutine on one io_context (one per thread), so a
// connection's state needs no strand. Errors are values (use_ec); nothing
// throws out of a coroutine.
#include "brig/core/strings.h"
#include "host_services.h"
#include "http_checks.h"
#include "proxy.h"
#include "relay.h"
#include "tunnel.h"
#include "upstream.h"

namespace brig::warden {
namespace {

// One request whose head has been read, through its stages. Each stage
// either lets the request go on or records why not (Exchange::fail), after
// which the caller sends warden's answer (answer()). Lives in serve_request's
// coroutine frame, so its coroutine members may use `this`.
template <class ClientStream>
class Forward {
 public:
  Forward(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf, http::request_parser<http::buffer_body>& parser,
          const Caller& who, const Route& route)
      : sh_(sh), client_(client), cbuf_(cbuf), parser_(parser), req_(parser.get()), route_(route),
        mitm_(route.tls()), ex_(sh, who, "http", mitm_ ? "mitm" : "none"), idle_(sh.cfg.limits.idle_timeout) {
    ex_.rec.method = std::string(req_.method_string());
    ex_.rec.transparent = route.transparent;
    ex_.json = wants_json(req_[http::field::accept]);
  }

  awaitable<After> run() {
    const unsigned version = req_.version();
    if (!target() || !head()) co_return co_await answer(client_, version, ex_, parser_.is_done());
    bool keep = req_.keep_alive();
    bool admitted = false;
    if (in_host_service_domain(target_.host)) {
      admitted = co_await admit_host_service(version, keep);
    } else {
      admitted = co_await admit(client_, version, ex_, {target_.host, target_.port, ex_.rec.method, target_.path},
                                req_.keep_alive(), keep);
    }
    if (!admitted) {
      // The next request parses only if this one had no body left unread.
      co_return !parser_.is_done() ? After::linger : keep ? After::next : After::close;
    }
    keep_alive_ = keep;
    if (!secrets() || !expectation()) co_return co_await answer(client_, version, ex_, parser_.is_done());
    websocket_ = is_websocket_upgrade(req_);
    prepare_upstream_request(req_, target_, websocket_);
    if (service_) {
      // Dev servers check Host against their own name.
      req_.set(http::field::host, "localhost:" + std::to_string(service_->port));
      req_.set("X-Forwarded-Host", target_.host);
    }
    if (expect_continue_ && !co_await send_continue()) co_return After::close;
    if (!co_await read_small_body()) {
      co_return refused_ ? co_await answer(client_, version, ex_, parser_.is_done()) : After::close;
    }
    co_await send_with_resend();
    if (!upstream_answered()) co_return co_await answer(client_, version, ex_, parser_.is_done());
    co_return co_await relay_response();
  }

 private:
  // Stage: where the request goes: the tunnel's host, the Host of a
  // transparent request, or the absolute-URI of a forward-proxy one.
  bool target() {
    auto t = mitm_               ? origin_target(req_, route_.host, route_.port)
             : route_.transparent ? transparent_target(req_, route_.port)
                                  : absolute_target(req_);
    if (!t) {
      ex_.rec.host = std::string(req_[http::field::host]);
      if ((mitm_ || route_.transparent) && t.error().code() == Errc::invalid) {
        ex_.fail(http::status::misdirected_request, t.error().message(), Outcome::deny, Block::host_mismatch);
      } else {
        ex_.fail(http::status::bad_request, t.error().message(), Outcome::deny, Block::malformed);
      }
      return false;
    }
    target_ = std::move(*t);
    ex_.rec.host = target_.host;
    ex_.rec.port = target_.port;
    ex_.rec.path = target_.path;
    return true;
  }

  // Stage: one framing and one Host, as the upstream will parse them; a
  // missing Host is taken from the absolute URI.
  bool head() {
    if (auto bad = normalize_request_head(req_, framing_of(parser_))) {
      ex_.fail(http::status::bad_request, std::move(*bad), Outcome::deny, Block::malformed);
      return false;
    }
    if (req_.find(http::field::host) == req_.end()) req_.set(http::field::host, host_header(target_, mitm_ ? 443 : 80));
    return true;
  }

  // Stage, instead of the policy for <name>.host.brig: the cell must declare
  // the service (host_services.h). Like admit(): on false the answer has
  // been sent and `keep` says whether the connection can stay open.
  awaitable<bool> admit_host_service(unsigned version, bool& keep) {
    keep = req_.keep_alive();
    const std::optional<std::string> no_fix;
    if (!ex_.who.cell) {
      keep = co_await deny(client_, version, ex_, Block::unknown_source, "unknown_source",
                           "unknown source address: not a brig cell", "default deny", false, no_fix);
      co_return false;
    }
    const HostServiceVerdict v =
        decide_http_host_service(*ex_.who.cell, target_.host, target_.port, !sh_.cfg.host_relay.empty());
    ex_.rec.host_service = v.name;
    ex_.declared_host_service = !v.name.empty() && ex_.who.cell->host_service(v.name);
    if (!v.allowed()) {
      keep = co_await deny(client_, version, ex_, Block::host_service, "host_service", v.reason, "default deny",
                           req_.keep_alive(), v.fix);
      co_return false;
    }
    service_ = *v.entry;
    ex_.rec.rule = "host service " + v.name + ":" + std::to_string(v.entry->port);
    co_return true;
  }

  // Stage: injected secrets (secrets.h). The cell's placeholders in the head
  // become their values where they may go, or refuse the request; its body
  // is then scanned for them, and the response for the values.
  bool secrets() {
    const auto& list = ex_.who.cell->secrets;
    if (list.empty()) return true;
    auto inj = inject(req_, target_.path, list, target_.host, mitm_);
    if (inj.refused) {
      ex_.fail(http::status::forbidden, std::move(*inj.refused), Outcome::deny, Block::secret);
      return false;
    }
    injected_ = std::move(inj.injected);
    if (!injected_.empty()) ex_.who.cell->metrics->injected.fetch_add(1, std::memory_order_relaxed);
    body_scan_.emplace(ex_.who.cell->placeholders);
    return true;
  }

  // A placeholder found in the request body: refused.
  void refuse_body() {
    refused_ = true;
    ex_.fail(http::status::forbidden, body_refusal(ex_.who.cell->secrets.at(*body_scan_->which())), Outcome::deny,
             Block::secret);
  }

  // Stage: Expect. Warden answers 100-continue itself (the body is read
  // before the upstream sees the request) and knows no other expectation.
  bool expectation() {
    auto e = req_.find(http::field::expect);
    if (e == req_.end()) return true;
    if (!str::iequals(str::trim(e->value()), "100-continue")) {
      ex_.fail(http::status::expectation_failed, "unsupported Expect: " + std::string(e->value()), Outcome::deny,
               Block::malformed);
      return false;
    }
    expect_continue_ = req_.version() >= 11 && !parser_.is_done();
    return true;
  }

  awaitable<bool> send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code e;
    beast::get_lowest_layer(client_).expires_after(idle_);
    co_await asio::async_write(client_, asio::buffer(kContinue.data(), kContinue.size()), use_ec(e));
    co_return !e;
  }

  // Stage: a request without a body, or with a small one of known length, is
  // read whole before it goes out: one write, and it can be sent again.
  awaitable<bool> read_small_body() {
    whole_ = fits_one_write(parser_);
    if (!whole_) co_return true;
    if (error_code e = co_await read_whole(client_, cbuf_, parser_, wire_, sent_, idle_)) {
      ex_.rec.bytes_out = sent_;
      ex_.fail(http::status::bad_request, "reading the request body failed: " + e.message(), Outcome::error,
               std::nullopt);
      co_return false;
    }
    if (body_scan_ && body_scan_->feed(wire_)) {
      refuse_body();
      co_return false;
    }
    co_return true;
  }

  // Stage: send the request and read the final response head. A pooled
  // connection the upstream closed while it sat idle is only found out by
  // using it. An idempotent request held whole is then sent again on a new
  // connection (RFC 9110 §9.2.2), so the pool need not probe each connection
  // before use; any other request gets a probed one.
  awaitable<void> send_with_resend() {
    const bool resendable = whole_ && !websocket_ && is_idempotent(req_.method());
    using Reuse = UpstreamPool::Reuse;
    up_ = co_await acquire(resendable ? Reuse::trust : Reuse::probe);
    for (int attempt = 0; up_.conn; ++attempt) {
      co_await send_once();
      const bool failed = send_ec_ || head_ec_;
      if (!failed || !resendable || !up_.reused || attempt > 0 || rp_->got_some() || up_.conn->buffer.size() ||
          head_ec_ == beast::error::timeout) {
        break;
      }
      // The pooled connection was dead: once more on a new one.
      send_ec_ = head_ec_ = {};
      up_ = co_await acquire(Reuse::fresh);
    }
    ex_.rec.bytes_out = sent_;
  }

  // A connection to the target: the host relay's for a host service.
  awaitable<Acquired> acquire(UpstreamPool::Reuse reuse) {
    UpstreamPool& pool = UpstreamPool::local();
    if (service_) {
      co_return co_await pool.acquire_host_service(sh_, ex_.rec.cell, service_->name,
                                                   static_cast<std::uint16_t>(service_->port), reuse);
    }
    co_return co_await pool.acquire(sh_, ex_.rec.cell, target_.host, target_.port, mitm_, reuse);
  }

  awaitable<void> send_once() {
    Upstream& u = *up_.conn;
    send_ec_ = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
      error_code e;
      beast::get_lowest_layer(stream).expires_after(idle_);
      if (whole_) co_await asio::async_write(stream, asio::buffer(wire_), use_ec(e));
      else e = co_await relay_body(client_, cbuf_, parser_, stream, sent_, idle_, body_scan_ ? &*body_scan_ : nullptr);
      co_return e;
    });
    // The response head; interim 1xx answers (other than 101) are dropped:
    // the client gets the final one.
    do {
      rp_.emplace();
      rp_->header_limit(static_cast<std::uint32_t>(sh_.cfg.limits.header_limit));
      rp_->body_limit(kNoBodyLimit);
      if (req_.method() == http::verb::head) rp_->skip(true);
      if (send_ec_) break;
      head_ec_ = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
        error_code e;
        beast::get_lowest_layer(stream).expires_after(idle_);
        co_await http::async_read_header(stream, u.buffer, *rp_, use_ec(e));
        co_return e;
      });
    } while (!head_ec_ && rp_->get().result_int() / 100 == 1 &&
             rp_->get().result() != http::status::switching_protocols);
  }

  // Stage: the upstream was reached and answered in one standard form (an
  // upstream whose framing is ambiguous could desynchronise the pooled
  // connection, so its answer goes on only in that form, or not at all).
  bool upstream_answered() {
    if (!up_.conn) {
      if (up_.blocked) {
        ex_.fail(static_cast<http::status>(up_.status), up_.reason, Outcome::deny,
                 service_ ? Block::host_service : Block::blocked_address);
      }
      else ex_.fail(static_cast<http::status>(up_.status), up_.reason, Outcome::error, std::nullopt);
      return false;
    }
    if (send_ec_ == scanned_out()) {
      refuse_body();  // (the upstream connection is dropped: its request was cut short)
      return false;
    }
    if (send_ec_) {
      ex_.fail(http::status::bad_gateway, "sending to upstream failed: " + send_ec_.message(), Outcome::error,
               std::nullopt);
      return false;
    }
    if (head_ec_ == beast::error::timeout) {
      ex_.fail(http::status::gateway_timeout, "upstream timed out: " + head_ec_.message(), Outcome::error, std::nullopt);
      return false;
    }
    if (head_ec_) {
      ex_.fail(http::status::bad_gateway, "upstream failed: " + head_ec_.message(), Outcome::error, std::nullopt);
      return false;
    }
    if (auto bad = normalize_response_head(rp_->get(), framing_of(*rp_))) {
      ex_.fail(http::status::bad_gateway, "upstream answer refused: " + *bad, Outcome::error, std::nullopt);
      return false;
    }
    return true;
  }

  // Stage: the response, head then body as it arrives; the upstream
  // connection goes back to the pool when both sides allow it.
  awaitable<After> relay_response() {
    auto& res = rp_->get();
    Upstream& u = *up_.conn;
    ex_.rec.status = static_cast<int>(res.result_int());
    const bool upgraded = websocket_ && res.result() == http::status::switching_protocols;
    const bool upstream_keep = res.keep_alive();
    prepare_client_response(res, keep_alive_, upgraded);
    // An injected value coming back (an echo of the request) never reaches the cell.
    std::vector<std::string> injected_values;
    std::optional<NeedleScanner> values;
    if (!injected_.empty()) {
      scrub_response_head(res, injected_);
      for (const CellSecret* sec : injected_) injected_values.push_back(sec->secret.value);
      values.emplace(injected_values);
    }
    std::uint64_t received = 0;
    const error_code ec = co_await u.visit([&](auto& stream) -> awaitable<error_code> {
      co_return co_await relay_body(stream, u.buffer, *rp_, client_, received, idle_, values ? &*values : nullptr);
    });
    ex_.rec.bytes_in = received;
    if (ec == scanned_out()) {
      ex_.rec.reason = "the response carried the value of secret " + injected_.at(*values->which())->secret.name +
                       " back: cut before it reached the cell";
    }
    if (upgraded && !ec) co_return co_await upgrade();
    ex_.finish(ec ? Outcome::error : Outcome::allow);
    if (!ec && upstream_keep && rp_->is_done()) {
      UpstreamPool::local().release(std::move(up_.conn), sh_.cfg.limits, sh_.cfg.threads);
    }
    co_return !ec && keep_alive_ ? After::next : After::close;
  }

  // Stage: WebSocket. From here on, raw bytes both ways (buffered bytes first).
  awaitable<After> upgrade() {
    Upstream& u = *up_.conn;
    std::uint64_t a = 0, b = 0;
    co_await u.visit([&](auto& stream) -> awaitable<void> {
      if (cbuf_.size()) {
        error_code e;
        co_await asio::async_write(stream, cbuf_.data(), use_ec(e));
        a += cbuf_.size();
        cbuf_.consume(cbuf_.size());
      }
      if (u.buffer.size()) {
        error_code e;
        co_await asio::async_write(client_, u.buffer.data(), use_ec(e));
        b += u.buffer.size();
        u.buffer.consume(u.buffer.size());
      }
      // (Plain to plain, TLS to TLS inside MITM, or plain to a host service:
      // the only pairs there are.)
      using Up = std::decay_t<decltype(stream)>;
      if constexpr (std::is_same_v<Up, ClientStream> ||
                    (std::is_same_v<ClientStream, TcpStream> && std::is_same_v<Up, UnixStream>)) {
        // A policy change (or a host service's removal) that no longer allows the upgrade request cuts it at once.
        Watch watch(sh_.watches, {ex_.rec.cell, target_.host, target_.port, ex_.rec.method, target_.path, false, service_},
                    client_.get_executor());
        watch.closable([&] {
          error_code ignored;
          beast::get_lowest_layer(client_).socket().close(ignored);
          beast::get_lowest_layer(stream).socket().close(ignored);
        });
        if (still_allowed(*sh_.store->current(), watch.admitted())) co_await tunnel(client_, stream, a, b, idle_);
        watch.closable(nullptr);
        revoked_ = watch.revoked();
      }
    });
    ex_.rec.bytes_out += a;
    ex_.rec.bytes_in += b;
    if (revoked_) ex_.rec.reason = revoked_reason(revoked_);
    ex_.finish(Outcome::allow);
    co_return After::close;
  }

  Shared& sh_;
  ClientStream& client_;
  beast::flat_buffer& cbuf_;
  http::request_parser<http::buffer_body>& parser_;
  Request& req_;
  const Route& route_;
  const bool mitm_;
  Exchange ex_;
  const std::chrono::milliseconds idle_;
  Dest target_;
  bool keep_alive_ = false, websocket_ = false, expect_continue_ = false, whole_ = false;
  std::string wire_;  // a request read whole: head and body, as sent
  std::uint64_t sent_ = 0;
  Acquired up_;
  std::optional<http::response_parser<http::buffer_body>> rp_;
  error_code send_ec_, head_ec_;
  std::uint64_t revoked_ = 0;  // the generation that cut an upgraded connection
  std::vector<const CellSecret*> injected_;   // secrets put into this request
  std::optional<NeedleScanner> body_scan_;    // the cell's placeholders, in the request body
  bool refused_ = false;                      // refused for a placeholder in the body
  std::optional<state::HostServiceEntry> service_;  // the host service it goes to, if one
};

// Answers one request whose head was read into `parser` (or failed with
// `read_ec`), and says what becomes of the client connection.
template <class ClientStream>
awaitable<After> serve_request(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf,
                               http::request_parser<http::buffer_body>& parser, error_code read_ec, const IpAddr& src,
                               const Route& route) {
  const bool mitm = route.tls();
  const Caller who = identify(sh, src);
  if (read_ec) {
    if (client_went_away(read_ec)) co_return After::close;
    Exchange ex(sh, who, "http", mitm ? "mitm" : "none");
    ex.rec.transparent = route.transparent;
    if (read_ec == http::error::header_limit) {
      ex.fail(http::status::request_header_fields_too_large, "request head too large", Outcome::deny, Block::limit);
    } else {
      ex.fail(http::status::bad_request, "malformed request: " + read_ec.message(), Outcome::deny, Block::malformed);
    }
    co_return co_await answer(client, 11, ex, false);
  }
  if (parser.get().method() == http::verb::connect) {
    if constexpr (std::is_same_v<ClientStream, TcpStream>) {
      if (!mitm && !route.transparent) co_return co_await handle_connect(sh, client, cbuf, parser, src);
    }
    Exchange ex(sh, who, "http", mitm ? "mitm" : "none");
    ex.rec.method = "CONNECT";
    ex.rec.transparent = route.transparent;
    ex.json = wants_json(parser.get()[http::field::accept]);
    const std::optional<std::string> no_fix;
    const char* why = mitm ? "CONNECT inside a tunnel" : "CONNECT on a transparent port (use the proxy port)";
    co_await deny(client, parser.get().version(), ex, Block::malformed, "malformed", why, "default deny", false, no_fix);
    co_return After::linger;
  }
  Forward<ClientStream> forward(sh, client, cbuf, parser, who, route);
  co_return co_await forward.run();
}

}  // namespace

// Serves HTTP requests on `client` until it closes.
template <class ClientStream>
awaitable<void> http_loop(Shared& sh, ClientStream& client, beast::flat_buffer& cbuf, const IpAddr& src,
                          const Route& route, Watch* watch) {
  for (;;) {
    if (sh.draining || (watch && watch->revoked())) co_return;
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(sh.cfg.limits.header_limit));
    parser.body_limit(kNoBodyLimit);
    beast::get_lowest_layer(client).expires_after(sh.cfg.limits.header_timeout);
    error_code ec;
    // Idle between requests: a revocation closes the connection now.
    if (watch) watch->closable([&client] { beast::get_lowest_layer(client).cancel(); });
    co_await http::async_read_header(client, cbuf, parser, use_ec(ec));
    if (watch) {
      watch->closable(nullptr);
      if (watch->revoked()) co_return;
    }
    const After after = co_await serve_request(sh, client, cbuf, parser, ec, src, route);
    if (after == After::next) continue;
    if (after == After::linger) co_await linger_close(client);
    co_return;
  }
}


template awaitable<void> http_loop<TcpStream>(Shared&, TcpStream&, beast::flat_buffer&, const IpAddr&, const Route&,
                                              Watch*);
template awaitable<void> http_loop<TlsStream>(Shared&, TlsStream&, beast::flat_buffer&, const IpAddr&, const Route&,
                                              Watch*);

awaitable<void> serve_proxy_client(Socket socket, Shared& sh) {
  const ActiveConnection active(sh.metrics);
  const auto src = accepted_client(socket, active, sh.cfg.limits);
  if (!src) co_return;
  TcpStream stream(std::move(socket));
  beast::flat_buffer buf;
  const Route forward_proxy;
  co_await http_loop(sh, stream, buf, *src, forward_proxy);
}

}  // namespace brig::warden
