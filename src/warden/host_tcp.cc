#include "host_tcp.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "exchange.h"
#include "host_relay_client.h"
#include "host_services.h"
#include "tunnel.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC PR 109224 (see connect.cc)

namespace brig::warden {
namespace {

// Closes with a reset: the client learns at once that nothing is there for it.
void reset(Socket& s) {
  error_code ec;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

// One connection to warden's `port`: the cell must declare a tcp host
// service there; then bytes both ways through the relay until both sides
// end, the idle timeout passes, or a new snapshot no longer declares it.
awaitable<void> serve_host_tcp(Socket socket, Shared& sh, std::uint16_t port) {
  const ActiveConnection active(sh.metrics);
  const auto src = accepted_client(socket, active, sh.cfg.limits);
  if (!src) co_return;
  const Caller who = identify(sh, *src);
  if (!who.cell) {
    reset(socket);
    co_return;
  }
  Exchange ex(sh, who, "tcp", "none");
  ex.rec.port = port;
  const state::HostServiceEntry* declared = who.cell->tcp_service_on(port);
  if (!declared || sh.cfg.host_relay.empty()) {
    ex.rec.rule = "default deny";
    ex.rec.reason = !declared ? "cell " + who.cell->name + " declares no tcp host service on port " + std::to_string(port)
                              : std::string(kNoHostRelay);
    ex.finish(Outcome::deny, Block::host_service);
    reset(socket);
    co_return;
  }
  // A cell's tcp host-service connections count as its tunnels: one cell
  // cannot hold the relay's connections for every other cell.
  auto& tunnels = *who.cell->tunnels;
  if (tunnels.fetch_add(1) >= static_cast<int>(sh.cfg.limits.max_tunnels_per_cell)) {
    tunnels.fetch_sub(1);
    ex.rec.reason = "too many concurrent tunnels for this cell";
    ex.finish(Outcome::ratelimit, Block::limit);
    reset(socket);
    co_return;
  }
  struct Release {
    std::atomic<int>& n;
    ~Release() { n.fetch_sub(1); }
  } release{tunnels};
  const state::HostServiceEntry service = *declared;
  ex.rec.host = service.name + std::string(state::kHostServiceSuffix);
  ex.rec.host_service = service.name;
  ex.rec.rule = "host service " + service.name + ":" + std::to_string(service.port);
  ex.declared_host_service = true;
  const RelayRequest req{who.cell->name, service.name, service.port};
  Relayed relayed = co_await open_relayed(sh.cfg.host_relay, req, kRelayTimeout);
  if (!relayed.socket) {
    ex.rec.reason = std::move(relayed.reason);
    if (relayed.undeclared) ex.finish(Outcome::deny, Block::host_service);
    else ex.finish(Outcome::error);
    reset(socket);
    co_return;
  }
  TcpStream client(std::move(socket));
  UnixStream relay(std::move(*relayed.socket));
  std::uint64_t out = 0, in = 0;
  // A snapshot that no longer declares the service (policy set
  // --remove-host-service, the cell stopped) closes the connection at once.
  Watch watch(sh.watches, {who.cell->name, ex.rec.host, port, "", "", false, service}, client.get_executor());
  watch.closable([&] {
    error_code ignored;
    client.socket().close(ignored);
    relay.socket().close(ignored);
  });
  if (still_allowed(*sh.store->current(), watch.admitted())) {
    co_await tunnel(client, relay, out, in, sh.cfg.limits.idle_timeout);
  }
  watch.closable(nullptr);
  ex.rec.bytes_out = out;
  ex.rec.bytes_in = in;
  if (const auto gen = watch.revoked()) ex.rec.reason = revoked_reason(gen);
  ex.finish(Outcome::allow);
}

awaitable<void> accept_host_tcp(std::shared_ptr<Acceptor> acceptor, Shared& sh, std::uint16_t port) {
  for (;;) {
    error_code ec;
    Socket s = co_await acceptor->async_accept(use_ec(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      continue;  // EMFILE and friends: keep accepting
    }
    if (sh.draining) co_return;
    auto ex = s.get_executor();
    asio::co_spawn(ex, serve_host_tcp(std::move(s), sh, port), log_escaped);
  }
}

Result<std::shared_ptr<Acceptor>> listen_on(asio::io_context& ctx, const std::string& address, std::uint16_t port) {
  error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) return Error(Errc::usage, "invalid host service listen address " + address);
  const tcp::endpoint ep(addr, port);
  auto a = std::make_shared<Acceptor>(ctx);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(Acceptor::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(Errc::io, "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  return a;
}

}  // namespace

HostTcpListeners::~HostTcpListeners() { close_all(); }

void HostTcpListeners::snapshot_published() {
  asio::post(ctx_, [this] { reconcile(); });
}

void HostTcpListeners::reconcile() {
  if (closed_) return;
  const auto want = sh_.store->current()->tcp_service_ports();
  for (auto it = open_.begin(); it != open_.end();) {
    if (std::binary_search(want.begin(), want.end(), it->first)) {
      ++it;
      continue;
    }
    error_code ignored;
    it->second->close(ignored);
    spdlog::info("host services: no cell declares tcp port {} any more; its listener is closed", it->first);
    it = open_.erase(it);
  }
  for (const std::uint16_t port : want) {
    if (open_.contains(port)) continue;
    auto a = listen_on(ctx_, sh_.cfg.host_service_address, port);
    if (!a) {
      // Taken for now (say, an upstream connection's local port): try again soon.
      spdlog::warn("host services: {}; trying again in 2 s", a.error().message());
      retry_.expires_after(std::chrono::seconds(2));
      retry_.async_wait([this](const error_code& ec) {
        if (!ec) reconcile();
      });
      continue;
    }
    open_.emplace(port, *a);
    asio::co_spawn(ctx_, accept_host_tcp(*a, sh_, port), log_escaped);
    spdlog::info("host services: listening on {}:{}", sh_.cfg.host_service_address, port);
  }
}

void HostTcpListeners::close_all() {
  closed_ = true;
  retry_.cancel();
  for (auto& [port, a] : open_) {
    error_code ignored;
    a->close(ignored);
  }
  open_.clear();
}

}  // namespace brig::warden
