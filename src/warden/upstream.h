// Reaching upstreams: resolve once (asynchronously), refuse blocked ranges,
// connect to exactly the checked addresses; TLS with verification; and a
// per-thread keep-alive pool keyed by (cell, host, port, tls).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "asio.h"

namespace brig::warden {

struct Shared;
struct IpAddr;

// The address as the blocked-range check sees it.
IpAddr to_ip(const asio::ip::address& a);

struct Connected {
  std::optional<tcp::socket> socket;
  int status = 502;   // when no socket: 403 (blocked), 502, 504
  std::string reason;
  bool blocked = false;
};

// Resolves `host` (or takes its resolve override), refuses it if any address
// is in a blocked range, and connects to one of the checked addresses.
awaitable<Connected> connect_upstream(Shared& sh, const std::string& host, std::uint16_t port);

struct Upstream {
  using Plain = beast::tcp_stream;
  using Tls = beast::ssl_stream<beast::tcp_stream>;
  std::variant<std::unique_ptr<Plain>, std::unique_ptr<Tls>> stream;
  beast::flat_buffer buffer;
  std::string key;
  std::chrono::steady_clock::time_point idle_since;

  template <class F>
  auto visit(F&& f) {
    return std::visit([&](auto& p) { return f(*p); }, stream);
  }
  tcp::socket& socket();
};

struct Acquired {
  std::unique_ptr<Upstream> conn;
  int status = 502;
  std::string reason;
  bool blocked = false;
};

class UpstreamPool {
 public:
  static UpstreamPool& local();  // one per thread (each thread runs one io_context)

  awaitable<Acquired> acquire(Shared& sh, const std::string& cell, const std::string& host, std::uint16_t port,
                              bool tls);
  void release(std::unique_ptr<Upstream> conn);
  void clear() { idle_.clear(); }

 private:
  std::map<std::string, std::vector<std::unique_ptr<Upstream>>> idle_;
};

}  // namespace brig::warden
