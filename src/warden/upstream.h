// Reaching upstreams: resolve once (asynchronously), refuse blocked ranges,
// connect to exactly the checked addresses; TLS with verification; and a
// per-thread keep-alive pool keyed by (cell, host, port, tls).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "asio.h"

namespace brig::warden {

struct Shared;
struct Limits;
struct IpAddr;

// The address as the blocked-range check sees it.
IpAddr to_ip(const asio::ip::address& a);

struct Connected {
  std::optional<Socket> socket;
  int status = 502;   // when no socket: 403 (blocked), 502, 504
  std::string reason;
  bool blocked = false;
};

// Resolves `host` (or takes its resolve override), refuses it if any address
// is in a blocked range, and connects to one of the checked addresses.
awaitable<Connected> connect_upstream(Shared& sh, const std::string& host, std::uint16_t port);

struct Upstream {
  using Plain = TcpStream;
  using Tls = beast::ssl_stream<TcpStream>;
  using Relayed = UnixStream;  // a host service, through the host relay
  std::variant<std::unique_ptr<Plain>, std::unique_ptr<Tls>, std::unique_ptr<Relayed>> stream;
  beast::flat_buffer buffer;
  std::string key;
  std::chrono::steady_clock::time_point idle_since;

  template <class F>
  auto visit(F&& f) {
    return std::visit([&](auto& p) { return f(*p); }, stream);
  }
  int native_handle();
};

struct Acquired {
  std::unique_ptr<Upstream> conn;
  bool reused = false;  // from the pool (it may have been closed by the upstream meanwhile)
  int status = 502;
  std::string reason;
  bool blocked = false;
};

class UpstreamPool {
 public:
  static UpstreamPool& local();  // one per thread (each thread runs one io_context)

  // An idle pooled connection for the key, else a new one. `probe` checks a
  // pooled one is still open first (a syscall): callers that can resend the
  // request on a new connection skip it. `fresh` skips the pool.
  enum class Reuse { probe, trust, fresh };
  awaitable<Acquired> acquire(Shared& sh, const std::string& cell, const std::string& host, std::uint16_t port,
                              bool tls, Reuse reuse);
  // The same for `cell`'s host service `service` on the host's `port`, by
  // the host relay (host_relay_client.h).
  awaitable<Acquired> acquire_host_service(Shared& sh, const std::string& cell, const std::string& service,
                                           std::uint16_t port, Reuse reuse);
  // Keeps `conn` for reuse, within the pool limits (shared by every thread's pool).
  void release(std::unique_ptr<Upstream> conn, const Limits& limits, int threads);
  void clear() {
    idle_.clear();
    count_ = 0;
  }

 private:
  // Per key, oldest first: reuse takes the newest (warm) one, age and
  // limits drop from the front.
  std::unique_ptr<Upstream> take_idle(const std::string& key, Reuse reuse, bool& reused);
  std::map<std::string, std::deque<std::unique_ptr<Upstream>>, std::less<>> idle_;
  std::size_t count_ = 0;
};

}  // namespace brig::warden
