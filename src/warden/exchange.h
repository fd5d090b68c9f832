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

// The 403 body: what was blocked, by which rule, and the command that lifts
// it when there is one.
std::string denial_body(const std::string& cell, const std::string& host, std::string_view reason,
                        std::string_view rule, const std::optional<std::string>& fix);

template <class Stream>
awaitable<bool> deny(Stream& s, unsigned version, Exchange& ex, Block block, std::string_view reason,
                     std::string_view rule, bool keep_alive, const std::optional<std::string>& fix) {
  ex.rec.status = 403;
  ex.rec.reason = std::string(reason);
  ex.rec.rule = std::string(rule);
  const std::string body = denial_body(ex.rec.cell, ex.rec.host, reason, rule, fix);
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
    const std::optional<std::string> no_fix;
    keep = co_await deny(s, version, ex, Block::unknown_source, "unknown source address: not a brig cell",
                         "default deny", false, no_fix);
    co_return false;
  }
  const auto v = ex.who.cell->policy->evaluate(req);
  ex.rec.rule = std::string(v.rule);
  if (!v.allowed()) {
    // policy owns which denials an allow rule lifts, and the command (as `brig policy test` prints it).
    const auto fix = policy::fix_for(v, ex.who.cell->name, req.host, req.port);
    keep = co_await deny(s, version, ex, Block::policy, policy::reason_text(v.reason), v.rule, keep_alive, fix);
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
  Headers h;
  if (ex.rec.decision == "deny") h.emplace_back("X-Brig-Decision", "deny");
  co_await reply(s, version, static_cast<http::status>(ex.rec.status), "brig warden: " + ex.rec.reason + "\n", false, h);
  co_return request_read ? After::close : After::linger;
}

// RFC 9110 §9.2.2: a request that may be sent twice with the effect of once.
bool is_idempotent(http::verb m);

}  // namespace brig::warden
