// Ingress: HTTPS from outside (the host's published port) to a port a cell
// declared. TLS is terminated here with a leaf for the exact name the client
// asked for (<cell>.<ingress_domain>, minted per SNI by brig's CA and cached
// like MITM leaves) or with the user's certificate. Each request is routed by
// its one Host (which must name the TLS server name) to the cell's entry in
// the engine's route table (state/ingress_routes.h) with the longest
// matching path_prefix, authorised by the cell's bearer token (compared as
// SHA-256 digests in constant time; the token never reaches the cell), and
// relayed to the cell's address from that table — never from the client —
// with bodies streaming both ways (SSE and chunked answers unbuffered) and
// WebSocket upgrades relayed. Ingress to a cell address is not egress: no
// blocked-range check applies. Every request ends in one `kind: ingress`
// record in the cell's log and the ingress metrics.
//
// Each client connection is one coroutine; it keeps its connection to the
// cell across keep-alive requests to the same address and port.
#include <optional>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/state/subnet_map.h"
#include "http_checks.h"
#include "proxy.h"
#include "relay.h"
#include "tunnel.h"
#include "upstream.h"

// GCC 12 reports Asio's coroutine frame (operator new and sized delete of
// awaitable_frame_base) as mismatched once a coroutine has external linkage:
// a known false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace brig::warden {
namespace {

// Warden's connection to one cell port, kept while the client's connection
// lasts and both sides allow keep-alive.
struct CellConn {
  std::unique_ptr<TcpStream> stream;
  beast::flat_buffer buffer;
  std::string address;
  std::uint16_t port = 0;
};

// One client connection.
struct Client {
  Shared& sh;
  TlsStream& tls;
  beast::flat_buffer buf;
  std::string sni;      // canonical; "" when the client sent none
  std::string address;  // the client's, for X-Forwarded-For and the log
  CellConn cell;
};

// The cell a Host names: "<cell>.<domain>" with a cell name as its label.
std::optional<std::string> cell_of_host(const std::string& host, const std::string& domain) {
  const std::string suffix = "." + domain;
  if (host.size() <= suffix.size() || !host.ends_with(suffix)) return std::nullopt;
  std::string label = host.substr(0, host.size() - suffix.size());
  if (!state::valid_cell_name(label)) return std::nullopt;
  return label;
}

// The bearer token of an Authorization header value, or "".
std::string_view bearer_token(std::string_view v) {
  v = str::trim(v);
  if (v.size() < 7 || !str::iequals(v.substr(0, 7), "bearer ")) return {};
  return str::trim(v.substr(7));
}

class IngressRequest {
 public:
  IngressRequest(Client& c, http::request_parser<http::buffer_body>& parser)
      : c_(c), sh_(c.sh), parser_(parser), req_(parser.get()), idle_(c.sh.cfg.limits.idle_timeout) {
    rec_.kind = "ingress";
    rec_.tls = "terminated";
    rec_.cell = "unknown";
    rec_.client = c.address;
    rec_.method = std::string(req_.method_string());
    rec_.path = std::string(req_.target());
  }

  awaitable<After> run() {
    if (!route()) co_return co_await answer();
    co_return co_await forward(address_, port_);
  }

 private:
  // Stages before the cell is reached: the request line, its head, the
  // Host, the cell and its route, the token, the cell running. Each either
  // lets the request go on or records why not (fail()), after which the
  // caller sends warden's answer.
  bool route() {
    if (req_.method() == http::verb::connect || req_.target().empty() || req_.target()[0] != '/') {
      return fail(http::status::bad_request, "ingress takes requests for a path (GET /path), not a proxy request");
    }
    if (auto bad = normalize_request_head(req_, framing_of(parser_))) return fail(http::status::bad_request, *bad);
    if (!host()) return false;
    const auto snap = sh_.store->current();
    rec_.generation = snap->generation;  // the route table's
    const auto cell = cell_of_host(host_, sh_.cfg.ingress_domain);
    auto entry = cell ? snap->ingress.find(*cell) : snap->ingress.end();
    if (entry == snap->ingress.end()) {
      return fail(http::status::not_found, "no cell named " + str::quote(cell.value_or(host_)) +
                                               " serves ingress here (brig cell list shows the cells; a cell serves "
                                               "ingress when its spec declares ingress:)");
    }
    const std::string& name = entry->first;
    rec_.cell = name;
    const state::IngressRoute* r = state::match_ingress_route(entry->second, req_.target());
    if (!r) {
      return fail(http::status::not_found,
                  "cell " + name + " has no ingress route for " + rec_.path + " (brig cell inspect " + name + " lists its routes)");
    }
    rec_.route = r->name;
    if (!authorized(entry->second.token_sha256)) {
      return fail(http::status::unauthorized,
                  "this route needs Authorization: Bearer <token>, where the token is the secret " + name + "-ingress-token",
                  {{"WWW-Authenticate", "Bearer realm=\"brig\""}});
    }
    if (!entry->second.running) {
      return fail(http::status::service_unavailable, "cell " + name + " is stopped; start it with: brig cell start " + name);
    }
    address_ = entry->second.address;
    port_ = static_cast<std::uint16_t>(r->port);
    return true;
  }

  // The one Host, which must name the TLS server name the client asked for
  // (else 421: a connection for one cell never reaches another).
  bool host() {
    const auto n = req_.count(http::field::host);
    if (n == 0 && req_.version() < 11 && !c_.sni.empty()) {
      host_ = c_.sni;
      return true;
    }
    if (n != 1) return fail(http::status::bad_request, "a request needs exactly one Host header");
    auto a = hostname::parse_authority(req_[http::field::host], 443);
    if (!a) return fail(http::status::bad_request, "invalid Host header: " + a.error().message());
    host_ = a->host;
    rec_.host = host_;
    if (!c_.sni.empty() && host_ != c_.sni) {
      return fail(http::status::misdirected_request, "Host " + str::quote(host_) + " does not match the TLS server name " +
                                                         str::quote(c_.sni) + "; open a connection per cell");
    }
    return true;
  }

  bool authorized(const std::string& digest) const {
    const auto n = req_.count(http::field::authorization);
    if (n != 1) return false;
    const std::string_view token = bearer_token(req_[http::field::authorization]);
    return !token.empty() && equal_constant_time(sha256_hex(token), digest);
  }

  // Records why the request goes no further (always false). (The reason is
  // built here, outside co_await: GCC 12 destroys some temporaries inside a
  // co_await expression twice.)
  bool fail(http::status status, std::string reason, Headers extra = {}) {
    rec_.status = static_cast<int>(status);
    rec_.reason = std::move(reason);
    extra_ = std::move(extra);
    return false;
  }

  // Warden's own answer to what fail() recorded; the connection stays open
  // only when nothing of the request is left unread.
  awaitable<After> answer() {
    const auto status = static_cast<http::status>(rec_.status);
    finish(status == http::status::bad_request || status == http::status::misdirected_request ||
                   status == http::status::unauthorized || status == http::status::payload_too_large
               ? "deny"
               : "error");
    const bool keep = parser_.is_done() && req_.keep_alive() && status != http::status::bad_request;
    const std::string body = "brig warden: " + rec_.reason + "\n";
    co_await reply(c_.tls, req_.version(), status, body, keep, extra_);
    co_return keep ? After::next : parser_.is_done() ? After::close : After::linger;
  }

  void finish(std::string_view decision) {
    rec_.decision = decision;
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    rec_.duration_ms = seconds * 1000;
    sh_.metrics.ingress(rec_.cell, rec_.route, rec_.status, seconds);
    sh_.log->write(rec_);
  }

  // The connection to the cell: the kept one when it goes to the same
  // place (`fresh`: never), else a new one. False (fail() recorded why) when
  // the cell cannot be reached.
  awaitable<bool> connect(const std::string& address, std::uint16_t port, bool fresh, bool& reused) {
    CellConn& cc = c_.cell;
    reused = !fresh && cc.stream && cc.address == address && cc.port == port && cc.stream->socket().is_open();
    if (reused) co_return true;
    cc.stream.reset();
    cc.buffer.consume(cc.buffer.size());
    error_code ec;
    const auto addr = asio::ip::make_address(address, ec);
    if (ec) co_return fail(http::status::bad_gateway, "the route table names " + address + ", which is not an address");
    cc.stream = std::make_unique<TcpStream>(co_await asio::this_coro::executor);
    cc.stream->expires_after(sh_.cfg.limits.connect_timeout);
    co_await cc.stream->async_connect(tcp::endpoint(addr, port), use_ec(ec));
    if (ec) {
      cc.stream.reset();
      const std::string where = " (cell " + rec_.cell + ", route " + rec_.route + ")";
      if (ec == asio::error::connection_refused) {
        co_return fail(http::status::bad_gateway, "the cell's ingress port " + std::to_string(port) + " is not listening" + where);
      }
      if (ec == beast::error::timeout) {
        co_return fail(http::status::gateway_timeout,
                       "the cell's ingress port " + std::to_string(port) + " did not answer in time" + where);
      }
      co_return fail(http::status::bad_gateway,
                     "cannot reach the cell's ingress port " + std::to_string(port) + ": " + ec.message() + where);
    }
    cc.address = address;
    cc.port = port;
    error_code ignored;
    cc.stream->socket().set_option(tcp::no_delay(true), ignored);
    co_return true;
  }

  // Stage: the request to the cell, then its answer back, both streaming.
  awaitable<After> forward(const std::string& address, std::uint16_t port) {
    const bool websocket = is_websocket_upgrade(req_);
    const bool keep_alive = req_.keep_alive();
    const std::string host_header(req_[http::field::host].empty() ? host_ : std::string(req_[http::field::host]));
    // The cell is untrusted: it never sees the token, and what it is told
    // about the client comes from warden alone.
    req_.erase(http::field::authorization);
    for (const char* f : {"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}) req_.erase(f);
    req_.set("X-Forwarded-For", c_.address);
    req_.set("X-Forwarded-Proto", "https");
    req_.set("X-Forwarded-Host", host_header);
    const bool expect_continue = str::iequals(str::trim(req_[http::field::expect]), "100-continue") &&
                                 req_.version() >= 11 && !parser_.is_done();
    prepare_upstream_request(req_, Dest{address, port, std::string(req_.target())}, websocket);

    error_code ec;
    if (expect_continue) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::get_lowest_layer(c_.tls).expires_after(idle_);
      co_await asio::async_write(c_.tls, asio::buffer(kContinue.data(), kContinue.size()), use_ec(ec));
      if (ec) co_return After::close;
    }
    // A small body is read whole first: one write, and the request can be
    // sent again if a kept connection turns out closed.
    const bool whole = fits_one_write(parser_);
    std::string wire;
    if (whole) {
      ec = co_await read_whole(c_.tls, c_.buf, parser_, wire, rec_.bytes_out, idle_);
      if (ec) {
        body_failed(ec);
        co_return co_await answer();
      }
    }
    const bool resendable = whole && !websocket && is_idempotent(req_.method());
    std::optional<http::response_parser<http::buffer_body>> rp;
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      const bool fresh = attempt > 0;
      if (!co_await connect(address, port, fresh, reused)) co_return co_await answer();
      TcpStream& cell = *c_.cell.stream;
      cell.expires_after(idle_);
      if (whole) {
        co_await asio::async_write(cell, asio::buffer(wire), use_ec(ec));
      } else {
        ec = co_await relay_body(c_.tls, c_.buf, parser_, cell, rec_.bytes_out, idle_);
        if (ec == http::error::body_limit) {
          body_failed(ec);
          co_return co_await answer();
        }
      }
      error_code head_ec;
      if (!ec) {
        do {  // interim 1xx answers (but 101) are dropped: the client gets the final one
          rp.emplace();
          rp->header_limit(static_cast<std::uint32_t>(sh_.cfg.limits.header_limit));
          rp->body_limit(kNoBodyLimit);
          if (req_.method() == http::verb::head) rp->skip(true);
          cell.expires_after(idle_);
          co_await http::async_read_header(cell, c_.cell.buffer, *rp, use_ec(head_ec));
        } while (!head_ec && rp->get().result_int() / 100 == 1 && rp->get().result() != http::status::switching_protocols);
      }
      const bool failed = ec || head_ec;
      if (failed && resendable && reused && attempt == 0 && !rp->got_some() && head_ec != beast::error::timeout) {
        ec = {};
        continue;  // the kept connection had been closed by the cell: once more on a new one
      }
      if (ec) {
        c_.cell.stream.reset();
        fail(http::status::bad_gateway, "sending to the cell failed: " + ec.message());
        co_return co_await answer();
      }
      if (head_ec) {
        c_.cell.stream.reset();
        const bool timeout = head_ec == beast::error::timeout;
        fail(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
             "the cell's ingress port " + std::to_string(port) +
                 (timeout ? " did not answer in time" : " closed without an answer: " + head_ec.message()));
        co_return co_await answer();
      }
      break;
    }
    if (auto bad = normalize_response_head(rp->get(), framing_of(*rp))) {
      c_.cell.stream.reset();
      fail(http::status::bad_gateway, "the cell's answer was refused: " + *bad);
      co_return co_await answer();
    }
    auto& res = rp->get();
    rec_.status = static_cast<int>(res.result_int());
    const bool upgraded = websocket && res.result() == http::status::switching_protocols;
    const bool cell_keep = res.keep_alive();
    prepare_client_response(res, keep_alive, upgraded);
    std::uint64_t received = 0;
    ec = co_await relay_body(*c_.cell.stream, c_.cell.buffer, *rp, c_.tls, received, idle_);
    rec_.bytes_in = received;
    if (upgraded && !ec) co_return co_await upgrade();
    finish(ec ? "error" : "allow");
    if (ec || !cell_keep || !rp->is_done()) c_.cell.stream.reset();
    co_return !ec && keep_alive ? After::next : After::close;
  }

  // Stage: WebSocket. From here on, raw bytes both ways (buffered bytes first).
  awaitable<After> upgrade() {
    TcpStream& cell = *c_.cell.stream;
    std::uint64_t out = 0, in = 0;
    error_code ec;
    if (c_.buf.size()) {
      co_await asio::async_write(cell, c_.buf.data(), use_ec(ec));
      out += c_.buf.size();
      c_.buf.consume(c_.buf.size());
    }
    if (!ec && c_.cell.buffer.size()) {
      co_await asio::async_write(c_.tls, c_.cell.buffer.data(), use_ec(ec));
      in += c_.cell.buffer.size();
      c_.cell.buffer.consume(c_.cell.buffer.size());
    }
    if (!ec) co_await tunnel(c_.tls, cell, out, in, idle_);
    rec_.bytes_out += out;
    rec_.bytes_in += in;
    finish("allow");
    c_.cell.stream.reset();
    co_return After::close;
  }

  // A request body that could not be read whole: 413 past the limit.
  void body_failed(error_code ec) {
    c_.cell.stream.reset();
    if (ec == http::error::body_limit) {
      fail(http::status::payload_too_large,
           "the request body is over the ingress limit of " + std::to_string(sh_.cfg.ingress_max_body) + " bytes");
    } else {
      fail(http::status::bad_request, "reading the request body failed: " + ec.message());
    }
  }

  Client& c_;
  Shared& sh_;
  http::request_parser<http::buffer_body>& parser_;
  Request& req_;
  const std::chrono::milliseconds idle_;
  const Clock::time_point start_ = Clock::now();
  LogRecord rec_;
  std::string host_;     // canonical
  std::string address_;  // the cell's, from the route table
  std::uint16_t port_ = 0;
  Headers extra_;        // on warden's answer
};

// A request head that could not be read: answered (400, 413, 431) or the
// connection just closes.
awaitable<After> unreadable(Client& c, error_code ec) {
  if (client_went_away(ec)) co_return After::close;
  LogRecord rec;
  rec.kind = "ingress";
  rec.tls = "terminated";
  rec.cell = "unknown";
  rec.client = c.address;
  rec.decision = "deny";
  http::status status = http::status::bad_request;
  if (ec == http::error::header_limit) {
    status = http::status::request_header_fields_too_large;
    rec.reason = "request head too large";
  } else if (ec == http::error::body_limit) {
    status = http::status::payload_too_large;
    rec.reason = "the request body is over the ingress limit of " + std::to_string(c.sh.cfg.ingress_max_body) + " bytes";
  } else {
    rec.reason = "malformed request: " + ec.message();
  }
  rec.status = static_cast<int>(status);
  c.sh.metrics.ingress(rec.cell, "", rec.status, 0);
  c.sh.log->write(rec);
  const std::string body = "brig warden: " + rec.reason + "\n";
  const Headers none;
  co_await reply(c.tls, 11, status, body, false, none);
  co_return After::linger;
}

// The server context for the name the client asked for: the user's
// certificate if configured, else a leaf for <cell>.<domain> when that cell
// serves ingress, and for the domain itself otherwise (no leaf is minted for
// a name warden does not serve: a flood of made-up names costs no signing).
Result<std::shared_ptr<ssl::context>> context_for(Shared& sh, const std::string& sni) {
  if (sh.ingress_tls) return sh.ingress_tls;
  const std::string& domain = sh.cfg.ingress_domain;
  const auto cell = cell_of_host(sni, domain);
  const std::string name = cell && sh.store->current()->ingress.count(*cell) ? sni : domain;
  bool hit = false;
  auto ctx = sh.leaves->get(name, &hit);
  (hit ? sh.metrics.cert_hits : sh.metrics.cert_misses).fetch_add(1, std::memory_order_relaxed);
  return ctx;
}

}  // namespace

awaitable<void> serve_ingress_client(Socket socket, Shared& sh) {
  const ActiveConnection active(sh.metrics);
  const auto src = accepted_client(socket, active, sh.cfg.limits);
  if (!src) co_return;
  TcpStream stream(std::move(socket));
  error_code ec;

  std::string hello;
  const ClientHello ch = co_await read_client_hello(stream, hello, sh.cfg.limits.header_timeout, ec);
  if (ec || ch.status != ClientHello::Status::complete) co_return;  // not TLS: nothing to answer in
  std::string sni;
  if (!ch.sni.empty()) {
    auto n = hostname::normalize(ch.sni);
    if (!n) co_return;
    sni = *n;
  }
  auto ctx = context_for(sh, sni);
  if (!ctx) co_return;
  TlsStream tls(std::move(stream), **ctx);
  beast::get_lowest_layer(tls).expires_after(sh.cfg.limits.header_timeout);
  co_await tls.async_handshake(ssl::stream_base::server, asio::buffer(hello), use_ec(ec));
  if (ec) co_return;

  Client c{sh, tls, {}, sni, src->str(), {}};
  for (;;) {
    if (sh.draining) break;
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(sh.cfg.limits.header_limit));
    parser.body_limit(sh.cfg.ingress_max_body);
    beast::get_lowest_layer(tls).expires_after(sh.cfg.limits.header_timeout);
    co_await http::async_read_header(tls, c.buf, parser, use_ec(ec));
    After after;
    if (ec) {
      after = co_await unreadable(c, ec);
    } else {
      IngressRequest r(c, parser);
      after = co_await r.run();
    }
    if (after == After::next) continue;
    if (after == After::linger) co_await linger_close(tls);
    break;
  }
  error_code ignored;
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
  co_await tls.async_shutdown(use_ec(ignored));
}

}  // namespace brig::warden
