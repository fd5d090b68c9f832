// Warden's configuration: $BRIG_HOME/warden.yaml, overridden by flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"

namespace brig::warden {

struct Endpoint {
  std::string host;  // an IP literal
  std::uint16_t port = 0;
  std::string str() const;
  static Result<Endpoint> parse(const std::string& text);  // "ADDR:PORT", "[v6]:PORT"
};

// curl's --resolve HOST:PORT:ADDR: requests for HOST on PORT go to ADDR, even
// inside a blocked range. The only way to reach one.
struct ResolveOverride {
  std::string host;  // canonical
  std::uint16_t port = 0;
  std::string addr;  // IP literal
  static Result<ResolveOverride> parse(const std::string& text);
};

struct Limits {
  std::size_t header_limit = 64 * 1024;               // request/response head bytes
  std::chrono::milliseconds header_timeout{10'000};   // to read a request head (slowloris)
  std::chrono::milliseconds idle_timeout{60'000};     // no bytes either way on a connection or tunnel
  std::chrono::milliseconds connect_timeout{10'000};  // upstream connect + TLS handshake
  std::size_t max_tunnels_per_cell = 256;             // concurrent CONNECT tunnels per cell
  std::size_t max_connections = 10'000;               // concurrent client connections overall
  std::size_t cert_cache = 1024;                      // leaf contexts kept
  std::size_t pool_idle_per_host = 256;               // idle keep-alive upstream connections per (cell, host, port)
  std::size_t pool_idle_max = 4096;                   // idle upstream connections overall
  std::chrono::milliseconds drain_timeout{10'000};    // SIGTERM: wait this long for connections
  double dns_rate = 200, dns_burst = 400;             // DNS queries per second per cell; past it, dropped
  std::size_t dns_tcp_connections = 64;               // concurrent DNS-over-TCP connections overall
};

struct Config {
  std::string home;  // $BRIG_HOME
  Endpoint proxy_listen{"0.0.0.0", 3128};
  Endpoint ops_listen{"127.0.0.1", 9464};
  // Ingress (docs/reference/ingress.md): HTTPS for https://<cell>.<ingress_domain>/,
  // with leaves minted by brig's CA, or the user's certificate and key.
  std::optional<Endpoint> ingress_listen;
  std::string ingress_domain = "localhost";
  std::string ingress_cert, ingress_key;                 // PEM files; both or neither
  std::uint64_t ingress_max_body = 64ull * 1024 * 1024;  // request body bytes; 413 past it
  // Transparent egress (docs/reference/warden.md): the cells' resolver
  // (UDP and TCP) and plain HTTP / HTTPS for clients that ignore proxy
  // variables, routed by Host and SNI. Each off unless set.
  std::optional<Endpoint> dns_listen, http_listen, https_listen;
  // Host services (docs/reference/warden.md): the host relay's unix socket
  // ("" : none, and every <name>.host.brig is refused), and the address the
  // listener for each declared tcp port binds.
  std::string host_relay;
  std::string host_service_address = "0.0.0.0";
  std::vector<ResolveOverride> resolve;
  std::string upstream_ca;  // extra trust anchors (PEM file)
  int threads = 0;          // 0: one per core
  Limits limits;
};

// Reads `path` (warden.yaml; absent is fine) into `cfg`. Unknown keys are errors.
Status load_config_file(const std::string& path, Config& cfg);

}  // namespace brig::warden
