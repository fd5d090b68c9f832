// Process-wide state shared by every connection, and the entry points of the
// proxy and ops listeners. Private to module warden.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "asio.h"
#include "brig/core/paths.h"
#include "brig/warden/config.h"
#include "brig/warden/netaddr.h"
#include "logwriter.h"
#include "metrics.h"
#include "policy_store.h"
#include "tls.h"
#include "watch.h"

namespace brig::warden {

struct Shared {
  Config cfg;
  Paths paths;
  Metrics metrics;
  Watches watches;  // before store: its listener uses them
  std::unique_ptr<PolicyStore> store;
  std::unique_ptr<LogWriter> log;
  CertificateAuthority ca;
  std::unique_ptr<LeafCache> leaves;
  std::unique_ptr<ssl::context> upstream_tls;  // client side: verify peer
  std::shared_ptr<ssl::context> ingress_tls;   // the user's certificate for ingress, else null (leaves)
  std::map<std::pair<std::string, std::uint16_t>, IpAddr> overrides;
  std::atomic<bool> draining{false};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  explicit Shared(Config c) : cfg(std::move(c)), paths(cfg.home) {}
};

// Counts a client connection (proxy or ingress) while it is open.
struct ActiveConnection {
  Metrics& m;
  explicit ActiveConnection(Metrics& mm) : m(mm) { m.active_connections.fetch_add(1); }
  ~ActiveConnection() { m.active_connections.fetch_sub(1); }
  ActiveConnection(const ActiveConnection&) = delete;
  ActiveConnection& operator=(const ActiveConnection&) = delete;
  // Whether this one is over cfg.limits.max_connections (it is then closed).
  bool over(const Limits& limits) const {
    return m.active_connections.load() > static_cast<std::int64_t>(limits.max_connections);
  }
};

// A client connection just accepted: its source address, with Nagle off
// (small writes, a response head then its body, must not wait for the
// peer's delayed ACK). nullopt when it is gone already or over
// limits.max_connections; the caller then just returns (closing it).
std::optional<IpAddr> accepted_client(Socket& socket, const ActiveConnection& active, const Limits& limits);

// One client connection on the proxy port, from accept to close.
awaitable<void> serve_proxy_client(Socket socket, Shared& shared);
// One client connection on the ingress port (ingress.cc).
awaitable<void> serve_ingress_client(Socket socket, Shared& shared);
// One connection on the transparent HTTP or HTTPS port (transparent.cc).
awaitable<void> serve_transparent_http(Socket socket, Shared& shared);
awaitable<void> serve_transparent_https(Socket socket, Shared& shared);
// One connection on the ops port (/healthz, /metrics).
awaitable<void> serve_ops_client(Socket socket, Shared& shared);

}  // namespace brig::warden
