// Transparent egress: clients that ignore proxy variables (Node's fetch,
// many WebSocket and Go clients) resolve an allowed name to warden (its
// resolver says so, dns_server.cc) and connect to warden's :80 or :443
// directly. Plain HTTP is routed by each request's Host, TLS by the
// ClientHello's SNI; both then take the proxy's own path (policy, MITM or
// passthrough, rate limits, logs) with `transparent` set in their records.
#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "host_services.h"
#include "proxy.h"
#include "upstream.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC PR 109224 (see connect.cc)

namespace brig::warden {
namespace {

// TLS alert descriptions (RFC 8446 §6): how a refused TLS client is told.
enum class Alert : std::uint8_t { internal_error = 80, access_denied = 49, unrecognized_name = 112 };

// Sends one fatal alert as a plaintext record (no handshake happened), then
// closes without destroying it. The client's TLS library reports it, e.g.
// curl's "tlsv1 alert access denied".
awaitable<void> send_alert(TcpStream& stream, Alert a) {
  const std::array<std::uint8_t, 7> record = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, static_cast<std::uint8_t>(a)};
  error_code ec;
  stream.expires_after(std::chrono::seconds(2));
  co_await asio::async_write(stream, asio::buffer(record), use_ec(ec));
  if (!ec) co_await linger_close(stream);
}

// Why the SNI of a transparent TLS connection cannot route it, or "".
std::string unroutable(const ClientHello& ch, const std::string& sni) {
  if (ch.status != ClientHello::Status::complete) return "connection does not start with a TLS ClientHello";
  if (ch.sni.empty()) return "TLS ClientHello has no SNI (a transparent connection is routed by it)";
  if (sni.empty()) return "SNI " + str::quote(ch.sni) + " is not a hostname";
  if (hostname::is_ip_literal(sni)) return "SNI " + str::quote(ch.sni) + " is an IP address, not a name";
  return "";
}

std::uint16_t local_port(const Socket& s) {
  error_code ec;
  const auto ep = s.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace

awaitable<void> serve_transparent_http(Socket socket, Shared& sh) {
  const ActiveConnection active(sh.metrics);
  const auto src = accepted_client(socket, active, sh.cfg.limits);
  if (!src) co_return;
  const Caller who = identify(sh, *src);
  if (who.cell) who.cell->metrics->transparent.fetch_add(1, std::memory_order_relaxed);
  // Requests name the port the client connected to: the port warden listens
  // on inside its network namespace is the one the client dialled.
  Route route;
  route.port = local_port(socket);
  route.transparent = true;
  TcpStream stream(std::move(socket));
  beast::flat_buffer buf;
  co_await http_loop(sh, stream, buf, *src, route);
}

awaitable<void> serve_transparent_https(Socket socket, Shared& sh) {
  const ActiveConnection active(sh.metrics);
  const auto src = accepted_client(socket, active, sh.cfg.limits);
  if (!src) co_return;
  const std::uint16_t port = local_port(socket);
  TcpStream stream(std::move(socket));

  error_code ec;
  std::string hello;
  const ClientHello ch = co_await read_client_hello(stream, hello, sh.cfg.limits.header_timeout, ec);
  if (ec && hello.empty()) co_return;  // gone before a byte: nothing to log
  const Caller who = identify(sh, *src);
  Exchange ex(sh, who, "connect", "mitm");
  ex.rec.transparent = true;
  ex.rec.port = port;
  std::string sni;
  if (ch.status == ClientHello::Status::complete) {
    if (auto n = hostname::normalize(ch.sni); n) sni = *n;
  }
  ex.rec.host = sni.empty() ? ch.sni : sni;
  if (who.cell) who.cell->metrics->transparent.fetch_add(1, std::memory_order_relaxed);

  // Refusals: a log record and a TLS alert (no HTTP answer is possible
  // before a handshake, and warden will not complete one it refuses).
  auto refuse = [&](Outcome outcome, Block block, std::string_view code, std::string reason, std::string_view rule) {
    ex.rec.status = outcome == Outcome::ratelimit ? 429 : 403;
    ex.rec.reason = std::move(reason);
    ex.rec.rule = std::string(rule);
    ex.code = code;
    ex.finish(outcome, block);
  };
  if (auto why = unroutable(ch, sni); !why.empty()) {
    refuse(Outcome::deny, Block::sni_mismatch, "sni", std::move(why), "default deny");
    co_await send_alert(stream, Alert::unrecognized_name);
    co_return;
  }
  if (!who.cell) {
    refuse(Outcome::deny, Block::unknown_source, "unknown_source", "unknown source address: not a brig cell",
           "default deny");
    co_await send_alert(stream, Alert::access_denied);
    co_return;
  }
  if (in_host_service_domain(sni)) {
    ex.rec.host_service = state::host_service_label(sni);
    refuse(Outcome::deny, Block::host_service, "host_service", host_service_tls_refusal(sni), "default deny");
    co_await send_alert(stream, Alert::access_denied);
    co_return;
  }
  for (const auto& p : who.cell->placeholders) {
    if (sni.find(str::to_lower(p)) != std::string::npos) {
      refuse(Outcome::deny, Block::secret, "secret", "the SNI carries an injected secret's placeholder", "default deny");
      co_await send_alert(stream, Alert::access_denied);
      co_return;
    }
  }
  const auto v = who.cell->policy->evaluate({sni, port, "", ""});
  if (!v.allowed()) {
    refuse(Outcome::deny, Block::policy, policy::reason_code(v.reason), std::string(policy::reason_text(v.reason)), v.rule);
    co_await send_alert(stream, Alert::access_denied);
    co_return;
  }
  ex.rec.rule = std::string(v.rule);
  double retry = 1;
  if (!who.cell->bucket->take(&retry)) {
    refuse(Outcome::ratelimit, Block::limit, "ratelimit", "rate limit for cell " + who.cell->name + " exceeded", v.rule);
    co_await send_alert(stream, Alert::access_denied);
    co_return;
  }
  auto& tunnels = *who.cell->tunnels;
  if (tunnels.fetch_add(1) >= static_cast<int>(sh.cfg.limits.max_tunnels_per_cell)) {
    tunnels.fetch_sub(1);
    refuse(Outcome::ratelimit, Block::limit, "limit", "too many concurrent tunnels for this cell", v.rule);
    co_await send_alert(stream, Alert::internal_error);
    co_return;
  }
  struct Release { std::atomic<int>& n; ~Release() { n.fetch_sub(1); } } release{tunnels};
  Dest target;
  target.host = sni;
  target.port = port;
  co_await serve_tls(sh, stream, hello, ex, target, *src, true);
}

}  // namespace brig::warden
