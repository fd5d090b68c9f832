// One exchange between a cell and warden, and warden's own answers: who is
// asking (the cell of the source address), the log record and metrics every
// request or tunnel ends in, denials (403 with the rule and its fix), the
// admission stage (policy, then the rate limit), and how a connection ends
// after warden answered early. Private to module warden; included by the
// proxy's stages (forward.cc, connect.cc).
#pragma once

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asio.h"
#include "brig/policy/policy.h"
#include "server.h"

namespace brig::warden {

using Clock = std::chrono::steady_clock;

// Who is asking: the cell of the source address under the current snapshot.
struct Caller {
  std::shared_ptr<const Snapshot> snap;
  const CellState* cell = nullptr;
  std::string name() const { return cell ? cell->name : "unknown"; }
};

Caller identify(Shared& sh, const IpAddr& src);

// Per-request bookkeeping that ends in one log record and the metrics.
struct Exchange {
  Shared& sh;
  const Caller& who;
  LogRecord rec;
  Clock::time_point start = Clock::now();
  // How a refusal is told: as JSON when the client's Accept asks for it; its
  // reason code (X-Brig-Blocked; a Block's name unless the stage set one)
  // and the command that lifts it, if any.
  bool json = false;
  bool detailed = false;  // a policy-style 403: the body names the rule and the fix
  std::string_view code;
  std::optional<std::string> fix;
  // A service the cell declares (rec.host_service): counted in its metrics too.
  bool declared_host_service = false;

  Exchange(Shared& s, const Caller& w, const char* kind, const char* tls) : sh(s), who(w) {
    rec.cell = w.name();
    rec.generation = w.snap ? w.snap->generation : 0;
    rec.kind = kind;
    rec.tls = tls;
  }
  void finish(Outcome outcome, std::optional<Block> block = std::nullopt) {
    if (block && code.empty()) code = block_name(*block);
    if (outcome != Outcome::allow) rec.code = code;
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
    if (declared_host_service) sh.metrics.host_service(rec.cell, rec.host_service, outcome, rec.bytes_in, rec.bytes_out);
    sh.log->write(rec);  // a copy: callers still use rec for the reply
  }
  // A failure: its status and reason recorded, then finish().
  void fail(http::status status, std::string reason, Outcome outcome, std::optional<Block> block) {
    rec.status = static_cast<int>(status);
    rec.reason = std::move(reason);
    finish(outcome, block);
  }
};

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

// Whether an Accept header value asks for JSON (application/json, or a
// +json type, listed).
bool wants_json(std::string_view accept);

// The body of warden's answer to a refused or rate-limited exchange: for a
// person, what was blocked, by which rule, and the command that lifts it;
// with ex.json, the same as {"error": "blocked"|"ratelimited", "cell",
// "host", "port", "method", "path", "reason", "code", "rule", "fix"}.
std::string refusal_body(const Exchange& ex);
// Its headers: X-Brig-Decision, X-Brig-Blocked (the code), and the JSON
// content type when the body is JSON; then `extra`.
Headers refusal_headers(const Exchange& ex, Headers extra = {});

template <class Stream>
awaitable<bool> deny(Stream& s, unsigned version, Exchange& ex, Block block, std::string_view code,
                     std::string_view reason, std::string_view rule, bool keep_alive,
                     const std::optional<std::string>& fix) {
  ex.rec.status = 403;
  ex.rec.reason = std::string(reason);
  ex.rec.rule = std::string(rule);
  ex.code = code;
  ex.fix = fix;
  ex.detailed = true;
  ex.finish(Outcome::deny, block);
  const std::string body = refusal_body(ex);
  const Headers h = refusal_headers(ex);
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
    const std::optional<std::string> no_fix;
    keep = co_await deny(s, version, ex, Block::unknown_source, "unknown_source",
                         "unknown source address: not a brig cell", "default deny", false, no_fix);
    co_return false;
  }
  const auto v = ex.who.cell->policy->evaluate(req);
  ex.rec.rule = std::string(v.rule);
  if (!v.allowed()) {
    // policy owns which denials an allow rule lifts, and the command (as `brig policy test` prints it).
    const auto fix = policy::fix_for(v, ex.who.cell->name, req.host, req.port);
    keep = co_await deny(s, version, ex, Block::policy, policy::reason_code(v.reason), policy::reason_text(v.reason),
                         v.rule, keep_alive, fix);
    co_return false;
  }
  double retry = 1;
  if (!ex.who.cell->bucket->take(&retry)) {
    ex.rec.status = 429;
    ex.rec.reason = "rate limit for cell " + ex.rec.cell + " exceeded; retry in " +
                    std::to_string(static_cast<long>(std::ceil(retry))) + "s";
    ex.code = "ratelimit";
    ex.finish(Outcome::ratelimit);
    const std::string body = refusal_body(ex);
    const Headers h = refusal_headers(ex, {{"Retry-After", std::to_string(static_cast<long>(std::ceil(retry)))}});
    keep = co_await reply(s, version, http::status::too_many_requests, body, keep_alive, h);
    co_return false;
  }
  co_return true;
}

// What becomes of the client connection after an exchange.
enum class After {
  next,    // read the next request
  close,   // close now: nothing the client sent is left unread
  linger,  // warden answered early: close without destroying the answer (linger_close)
};

// Closes after an answer sent before the request was read whole, as nginx's
// lingering close does: a plain close() with unread input makes the kernel
// send a reset, which can destroy the answer before the client reads it. So
// our side is shut down first, then what the client still sends is read
// and dropped, within a bound of time and bytes, until it closes too.
template <class Stream>
awaitable<void> linger_close(Stream& s) {
  auto& sock = beast::get_lowest_layer(s);
  error_code ec;
  sock.socket().shutdown(Socket::shutdown_send, ec);
  if (ec) co_return;
  constexpr std::size_t kBuf = 16384, kMaxBytes = 1 << 20;
  constexpr auto kMaxTime = std::chrono::seconds(2);
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  sock.expires_after(kMaxTime);
  for (std::size_t total = 0; total < kMaxBytes;) {
    total += co_await sock.async_read_some(asio::buffer(buf.get(), kBuf), use_ec(ec));
    if (ec) break;
  }
  sock.socket().close(ec);
}

// Warden's own short answer to the failure recorded in `ex` (Exchange::fail),
// after which the connection closes: lingering when the request was not
// read whole. (The reason is built before, outside co_await: GCC 12
// destroys some temporaries inside a co_await expression twice.)
template <class Stream>
awaitable<After> answer(Stream& s, unsigned version, const Exchange& ex, bool request_read) {
  const bool refused = ex.rec.decision == "deny";
  const Headers h = refused ? refusal_headers(ex) : Headers();
  const std::string body = refused ? refusal_body(ex) : "brig warden: " + ex.rec.reason + "\n";
  co_await reply(s, version, static_cast<http::status>(ex.rec.status), body, false, h);
  co_return request_read ? After::close : After::linger;
}

// Whether reading a request head failed because the client closed, reset,
// went quiet or was shut down (nothing to answer), rather than sent
// something malformed (400, 431).
bool client_went_away(const error_code& ec);

// RFC 9110 §9.2.2: a request that may be sent twice with the effect of once.
bool is_idempotent(http::verb m);

}  // namespace brig::warden
