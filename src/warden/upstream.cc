#include "upstream.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include "host_relay_client.h"
#include "server.h"

namespace brig::warden {
namespace {

constexpr auto kMaxIdleAge = std::chrono::seconds(30);
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// A pooled connection the upstream has closed is useless: peek without waiting.
bool still_open(int fd) {
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

IpAddr to_ip(const asio::ip::address& a) {
  IpAddr out;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else {
    auto b = a.to_v6().to_bytes();
    out.v6 = true;
    std::copy(b.begin(), b.end(), out.bytes.begin());
  }
  return out;
}

int Upstream::native_handle() {
  return std::visit([](auto& p) { return beast::get_lowest_layer(*p).socket().native_handle(); }, stream);
}

awaitable<Connected> connect_upstream(Shared& sh, const std::string& host, std::uint16_t port) {
  Connected out;
  auto ex = co_await asio::this_coro::executor;
  std::vector<tcp::endpoint> checked;
  if (auto it = sh.overrides.find({host, port}); it != sh.overrides.end()) {
    // An override is the operator's explicit choice: the only way into a blocked range.
    const IpAddr& a = it->second;
    asio::ip::address addr = a.v6 ? asio::ip::address(asio::ip::address_v6([&] {
                                      asio::ip::address_v6::bytes_type b;
                                      std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
                                      return b;
                                    }()))
                                  : asio::ip::address(asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]}));
    checked.emplace_back(addr, port);
  } else {
    Resolver resolver(ex);
    error_code ec;
    auto results = co_await resolver.async_resolve(host, std::to_string(port), use_ec(ec));
    if (ec) {
      out.reason = "cannot resolve " + host + ": " + ec.message();
      co_return out;
    }
    for (const auto& r : results) {
      const auto addr = r.endpoint().address();
      const IpAddr ip = to_ip(addr);
      if (auto range = blocked_range(ip)) {
        // One private answer is enough to refuse: mixed answers are how DNS rebinding works.
        out.status = 403;
        out.blocked = true;
        out.reason = host + " resolves to " + ip.str() + " (" + std::string(*range) + "), a blocked address range";
        co_return out;
      }
      checked.push_back(r.endpoint());
    }
    if (checked.empty()) {
      out.reason = "cannot resolve " + host + ": no addresses";
      co_return out;
    }
  }
  TcpStream s(ex);
  s.expires_after(sh.cfg.limits.connect_timeout);
  error_code ec;
  co_await s.async_connect(checked, use_ec(ec));
  if (ec) {
    out.status = ec == beast::error::timeout ? 504 : 502;
    out.reason = "connecting to " + host + ":" + std::to_string(port) + " failed: " + ec.message();
    co_return out;
  }
  s.expires_never();
  s.socket().set_option(tcp::no_delay(true), ec);
  out.socket.emplace(s.release_socket());
  co_return out;
}

UpstreamPool& UpstreamPool::local() {
  thread_local UpstreamPool pool;
  return pool;
}

void UpstreamPool::release(std::unique_ptr<Upstream> conn, const Limits& limits, int threads) {
  const auto now = std::chrono::steady_clock::now();
  const std::size_t max_here = std::max<std::size_t>(1, limits.pool_idle_max / static_cast<std::size_t>(std::max(1, threads)));
  auto drop_aged = [&](std::deque<std::unique_ptr<Upstream>>& list) {
    while (!list.empty() && now - list.front()->idle_since >= kMaxIdleAge) {
      list.pop_front();
      --count_;
    }
  };
  if (count_ >= max_here) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      drop_aged(it->second);
      it = it->second.empty() ? idle_.erase(it) : std::next(it);
    }
    if (count_ >= max_here) return;  // full of fresh connections: close this one
  }
  auto& list = idle_[conn->key];
  drop_aged(list);
  if (list.size() >= limits.pool_idle_per_host) {
    if (list.empty()) return;  // pool_idle_per_host: 0 disables reuse
    list.pop_front();
    --count_;
  }
  conn->idle_since = now;
  conn->visit([](auto& s) { beast::get_lowest_layer(s).expires_never(); });
  list.push_back(std::move(conn));
  ++count_;
}

std::unique_ptr<Upstream> UpstreamPool::take_idle(const std::string& key, Reuse reuse, bool& reused) {
  std::unique_ptr<Upstream> out;
  auto it = reuse == Reuse::fresh ? idle_.end() : idle_.find(key);
  if (it == idle_.end()) return out;
  auto& list = it->second;
  while (!list.empty() && !out) {
    auto conn = std::move(list.back());
    list.pop_back();
    --count_;
    if (std::chrono::steady_clock::now() - conn->idle_since < kMaxIdleAge && conn->buffer.size() == 0 &&
        (reuse == Reuse::trust || still_open(conn->native_handle()))) {
      out = std::move(conn);
      reused = true;
    }
  }
  if (list.empty()) idle_.erase(it);  // one entry per host ever seen would only grow
  return out;
}

awaitable<Acquired> UpstreamPool::acquire_host_service(Shared& sh, const std::string& cell, const std::string& service,
                                                       std::uint16_t port, Reuse reuse) {
  Acquired out;
  const std::string key = cell + "|" + service + std::string(state::kHostServiceSuffix) + "|" + std::to_string(port) + "|relay";
  out.conn = take_idle(key, reuse, out.reused);
  if (out.conn) co_return out;
  const RelayRequest req{cell, service, port};
  auto r = co_await open_relayed(sh.cfg.host_relay, req, kRelayTimeout);
  if (!r.socket) {
    out.status = r.status;
    out.reason = std::move(r.reason);
    out.blocked = r.undeclared;
    co_return out;
  }
  out.conn = std::make_unique<Upstream>();
  out.conn->key = key;
  out.conn->stream = std::make_unique<Upstream::Relayed>(std::move(*r.socket));
  co_return out;
}

awaitable<Acquired> UpstreamPool::acquire(Shared& sh, const std::string& cell, const std::string& host,
                                          std::uint16_t port, bool tls, Reuse reuse) {
  Acquired out;
  std::string key;
  key.reserve(cell.size() + host.size() + 12);
  key.append(cell).append("|").append(host).append("|").append(std::to_string(port)).append(tls ? "|tls" : "|tcp");
  out.conn = take_idle(key, reuse, out.reused);
  if (out.conn) co_return out;
  auto c = co_await connect_upstream(sh, host, port);
  if (!c.socket) {
    out.status = c.status;
    out.reason = std::move(c.reason);
    out.blocked = c.blocked;
    co_return out;
  }
  auto up = std::make_unique<Upstream>();
  up->key = key;
  if (!tls) {
    up->stream = std::make_unique<Upstream::Plain>(std::move(*c.socket));
    out.conn = std::move(up);
    co_return out;
  }
  auto s = std::make_unique<Upstream::Tls>(std::move(*c.socket), *sh.upstream_tls);
  SSL* ssl = s->native_handle();
  SSL_set_tlsext_host_name(ssl, host.c_str());
  SSL_set1_host(ssl, host.c_str());  // hostname checked against the certificate
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  SSL_set_alpn_protos(ssl, kAlpn, sizeof kAlpn);
  beast::get_lowest_layer(*s).expires_after(sh.cfg.limits.connect_timeout);
  error_code ec;
  co_await s->async_handshake(ssl::stream_base::client, use_ec(ec));
  if (ec) {
    out.reason = "TLS to " + host + " failed: " + ec.message();
    if (long v = SSL_get_verify_result(ssl); v != X509_V_OK) out.reason += " (" + std::string(X509_verify_cert_error_string(v)) + ")";
    co_return out;
  }
  up->stream = std::move(s);
  out.conn = std::move(up);
  co_return out;
}

}  // namespace brig::warden
