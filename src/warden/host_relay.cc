// The host relay (brig/warden/host_relay.h): one process, one io_context,
// one coroutine per connection. It trusts nothing warden sends: each
// request is checked against the host-services table read anew, so a
// compromised warden reaches no port a running cell has not declared.
#include "brig/warden/host_relay.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "brig/core/fs.h"
#include "brig/core/paths.h"
#include "brig/core/strings.h"
#include "brig/state/subnet_map.h"
#include "brig/warden/netaddr.h"
#include "tunnel.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC PR 109224 (see connect.cc)

namespace brig::warden {
namespace {

constexpr std::string_view kMagic = "BRIG-RELAY 1 ";
constexpr auto kHeaderTimeout = std::chrono::seconds(2);
constexpr auto kConnectTimeout = std::chrono::seconds(5);
// Warden enforces the idle rule on its side and closes its end, which ends
// ours; this only bounds a connection warden forgot.
constexpr auto kIdle = std::chrono::hours(24);

std::optional<int> parse_port(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 5 || s.front() == '0') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > 65535) return std::nullopt;
  return v;
}

struct Relay {
  const HostRelayConfig& cfg;
  Paths paths;
  std::size_t open = 0;
};

using UnixAcceptor = asio::basic_socket_acceptor<asio::local::stream_protocol, Executor>;

// Connects to target:port: the one address of an IP literal, else each the
// name resolves to; a service on localhost may listen on ::1 only, so a
// refused 127.0.0.1 is tried there too.
awaitable<RelayReply> connect_target(const std::string& target, int port, TcpStream& up) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<tcp::endpoint> eps;
  error_code ec;
  if (const auto ip = asio::ip::make_address(target, ec); !ec) {
    eps.emplace_back(ip, static_cast<std::uint16_t>(port));
  } else {
    Resolver resolver(ex);
    auto results = co_await resolver.async_resolve(target, std::to_string(port), use_ec(ec));
    if (ec) co_return RelayReply::unreachable;
    for (const auto& r : results) eps.push_back(r.endpoint());
  }
  up.expires_after(kConnectTimeout);
  co_await up.async_connect(eps, use_ec(ec));
  if (ec == asio::error::connection_refused && target == "127.0.0.1") {
    const std::vector<tcp::endpoint> v6 = {tcp::endpoint(asio::ip::address_v6::loopback(), static_cast<std::uint16_t>(port))};
    up.expires_after(kConnectTimeout);
    co_await up.async_connect(v6, use_ec(ec));
    if (ec && ec != beast::error::timeout) ec = asio::error::connection_refused;  // no IPv6: the first answer stands
  }
  if (!ec) {
    up.expires_never();
    up.socket().set_option(tcp::no_delay(true), ec);
    co_return RelayReply::ok;
  }
  if (ec == beast::error::timeout) co_return RelayReply::timeout;
  if (ec == asio::error::connection_refused) co_return RelayReply::refused;
  co_return RelayReply::unreachable;
}

awaitable<void> send_reply(UnixStream& s, RelayReply r) {
  const std::string_view line = relay_reply_line(r);
  error_code ec;
  s.expires_after(kHeaderTimeout);
  co_await asio::async_write(s, asio::buffer(line.data(), line.size()), use_ec(ec));
}

awaitable<void> serve_one(UnixSocket sock, Relay& relay) {
  struct Count { std::size_t& n; ~Count() { --n; } } count{++relay.open};
  UnixStream client(std::move(sock));
  if (relay.open > relay.cfg.max_connections) {
    spdlog::warn("host relay: over {} connections; refusing one", relay.cfg.max_connections);
    co_await send_reply(client, RelayReply::busy);
    co_return;
  }
  std::string buf;
  error_code ec;
  client.expires_after(kHeaderTimeout);
  const std::size_t n = co_await asio::async_read_until(client, asio::dynamic_buffer(buf, kRelayLineMax), '\n', use_ec(ec));
  if (ec) {
    spdlog::info("host relay: no request line: {}", ec.message());
    if (ec == asio::error::not_found) co_await send_reply(client, RelayReply::bad_request);
    co_return;
  }
  auto req = parse_relay_request(std::string_view(buf).substr(0, n - 1));
  if (!req) {
    spdlog::info("host relay: bad request: {}", req.error().message());
    co_await send_reply(client, RelayReply::bad_request);
    co_return;
  }
  const std::string who = "cell=" + req->cell + " service=" + req->service + " port=" + std::to_string(req->port);
  auto table = state::load_host_services(relay.paths);
  if (!table) spdlog::warn("host relay: {}; refusing", table.error().message());
  if (!table || !relay_allows(*table, *req)) {
    spdlog::info("host relay: {} outcome=undeclared", who);
    co_await send_reply(client, RelayReply::undeclared);
    co_return;
  }
  TcpStream up(client.get_executor());
  const RelayReply r = co_await connect_target(relay.cfg.target, req->port, up);
  co_await send_reply(client, r);
  if (r != RelayReply::ok) {
    spdlog::info("host relay: {} outcome={}", who, str::trim(relay_reply_line(r).substr(4)));
    co_return;
  }
  std::uint64_t out = 0, in = 0;  // out: to the service
  if (n < buf.size()) {  // bytes warden sent after its line
    out += buf.size() - n;
    up.expires_after(kConnectTimeout);
    co_await asio::async_write(up, asio::buffer(buf.data() + n, buf.size() - n), use_ec(ec));
  }
  if (!ec) co_await tunnel(client, up, out, in, kIdle);
  spdlog::info("host relay: {} outcome=ok bytes_out={} bytes_in={}", who, out, in);
}

awaitable<void> accept_loop(UnixAcceptor& acceptor, Relay& relay) {
  for (;;) {
    error_code ec;
    UnixSocket s = co_await acceptor.async_accept(use_ec(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;  // EMFILE and friends: keep accepting
    }
    auto ex = s.get_executor();
    asio::co_spawn(ex, serve_one(std::move(s), relay), log_escaped);
  }
}

// The listening socket at `path`: a stale one removed first (and only a
// socket: the path may be wrong), then bound 0600 and given to its owner.
Result<UnixAcceptor> listen_unix(asio::io_context& ctx, const HostRelayConfig& cfg) {
  struct stat st {};
  if (::lstat(cfg.socket.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(Errc::invalid, cfg.socket + " exists and is not a socket", "remove it or pick another --socket");
    }
    ::unlink(cfg.socket.c_str());
  }
  UnixAcceptor a(ctx);
  error_code ec;
  a.open(asio::local::stream_protocol(), ec);
  // Nothing can connect between bind and listen, so the mode is set before anyone can.
  if (!ec) a.bind(asio::local::stream_protocol::endpoint(cfg.socket), ec);
  if (ec) return Error(Errc::io, "cannot listen on " + cfg.socket + ": " + ec.message());
  if (::chmod(cfg.socket.c_str(), 0600) != 0) return Error(Errc::io, "cannot chmod " + cfg.socket + ": " + std::strerror(errno));
  if (cfg.owner_uid && ::geteuid() == 0 && ::chown(cfg.socket.c_str(), *cfg.owner_uid, *cfg.owner_gid) != 0) {
    return Error(Errc::io, "cannot chown " + cfg.socket + ": " + std::strerror(errno));
  }
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(Errc::io, "cannot listen on " + cfg.socket + ": " + ec.message());
  return a;
}

}  // namespace

std::string format_relay_request(const RelayRequest& r) {
  return std::string(kMagic) + r.cell + " " + r.service + " " + std::to_string(r.port) + "\n";
}

Result<RelayRequest> parse_relay_request(std::string_view line) {
  auto bad = [&](const std::string& why) { return Error(Errc::invalid, "relay request " + str::quote(line) + ": " + why); };
  if (line.size() >= kRelayLineMax) return bad("too long");
  if (!line.starts_with(kMagic)) return bad("does not start with " + str::quote(kMagic));
  const auto fields = str::split(line.substr(kMagic.size()), ' ');
  if (fields.size() != 3) return bad("expected <cell> <service> <port>");
  RelayRequest r;
  r.cell = fields[0];
  r.service = fields[1];
  if (!state::valid_cell_name(r.cell)) return bad("not a cell name");
  if (state::host_service_label(r.service + std::string(state::kHostServiceSuffix)) != r.service) {
    return bad("not a host service name");
  }
  const auto port = parse_port(fields[2]);
  if (!port) return bad("port is not 1-65535");
  r.port = *port;
  return r;
}

std::string_view relay_reply_line(RelayReply r) {
  switch (r) {
    case RelayReply::ok: return "OK\n";
    case RelayReply::undeclared: return "ERR undeclared\n";
    case RelayReply::refused: return "ERR refused\n";
    case RelayReply::timeout: return "ERR timeout\n";
    case RelayReply::unreachable: return "ERR unreachable\n";
    case RelayReply::bad_request: return "ERR bad request\n";
    case RelayReply::busy: return "ERR busy\n";
  }
  return "ERR bad request\n";
}

std::optional<RelayReply> parse_relay_reply(std::string_view line) {
  for (auto r : {RelayReply::ok, RelayReply::undeclared, RelayReply::refused, RelayReply::timeout,
                 RelayReply::unreachable, RelayReply::bad_request, RelayReply::busy}) {
    const auto want = relay_reply_line(r);
    if (line == want.substr(0, want.size() - 1)) return r;
  }
  return std::nullopt;
}

bool relay_allows(const state::HostServiceTable& table, const RelayRequest& r) {
  const auto it = table.find(r.cell);
  if (it == table.end() || !it->second.running) return false;
  const state::HostServiceEntry* s = it->second.find(r.service);
  return s && s->port == r.port;
}

Status parse_relay_owner(std::string_view text, HostRelayConfig& cfg) {
  const auto colon = text.find(':');
  unsigned uid = 0, gid = 0;
  auto num = [](std::string_view s, unsigned& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  if (colon == std::string_view::npos || !num(text.substr(0, colon), uid) || !num(text.substr(colon + 1), gid)) {
    return Error(Errc::usage, "owner " + str::quote(text) + " is not UID:GID", "e.g. --owner 65534:65534");
  }
  cfg.owner_uid = uid;
  cfg.owner_gid = gid;
  return {};
}

Status serve_host_relay(const HostRelayConfig& cfg) {
  ::signal(SIGPIPE, SIG_IGN);  // a write to a closed peer must fail, not kill the relay
  if (cfg.socket.empty()) return Error(Errc::usage, "the relay needs a socket path", "give --socket PATH");
  Relay relay{cfg, Paths(cfg.home)};
  asio::io_context ctx(1);
  auto acceptor = listen_unix(ctx, cfg);
  if (!acceptor) return acceptor.error();
  auto cleanup = [&] {
    ::unlink(cfg.socket.c_str());
    if (!cfg.pidfile.empty()) ::unlink(cfg.pidfile.c_str());
  };
  if (!cfg.pidfile.empty()) {
    if (auto st = fs::write_atomic(cfg.pidfile, std::to_string(::getpid()) + "\n"); !st) {
      cleanup();
      return st.error();
    }
  }
  std::printf("{\"relay\": \"%s\"}\n", cfg.socket.c_str());
  std::fflush(stdout);
  spdlog::info("host relay listening on {} (services on {})", cfg.socket, cfg.target);

  asio::co_spawn(ctx, accept_loop(*acceptor, relay), asio::detached);
  asio::signal_set signals(ctx, SIGTERM, SIGINT);
  signals.async_wait([&](const error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("host relay: signal {}: stopping", sig);
    error_code ignored;
    acceptor->close(ignored);
    ctx.stop();  // open connections end with the io_context
  });
  ctx.run();
  cleanup();
  spdlog::info("host relay stopped");
  return {};
}

}  // namespace brig::warden
