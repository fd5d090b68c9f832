// Process lifecycle: one io_context per thread, an SO_REUSEPORT acceptor on
// each, the ops listener, signals (SIGTERM drains, SIGHUP reloads).
#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <netinet/in.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <thread>
#include <tuple>
#include <unistd.h>

#include "brig/core/fs.h"
#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/warden/ops_client.h"
#include "brig/warden/warden.h"
#include "dns_server.h"
#include "host_tcp.h"
#include "server.h"
#include "upstream.h"

namespace brig::warden {
namespace {

Result<Acceptor> listen(asio::io_context& ctx, const Endpoint& ep, bool reuse_port) {
  error_code ec;
  const auto addr = asio::ip::make_address(ep.host, ec);
  if (ec) return Error(Errc::usage, "invalid listen address " + ep.str());
  tcp::endpoint endpoint(addr, ep.port);
  Acceptor a(ctx);
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(Acceptor::reuse_address(true), ec);
  if (!ec && reuse_port) {
    // Without it every thread's bind after the first fails, or worse, one
    // thread silently takes every connection: refuse to start instead.
    int one = 1;
    if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return Error(Errc::io, "cannot set SO_REUSEPORT on " + ep.str() + ": " + std::strerror(errno),
                   "run warden with --threads 1 on a kernel without SO_REUSEPORT");
    }
  }
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::io, "cannot listen on " + ep.str() + ": " + ec.message(),
                 ec == asio::error::address_in_use ? "another process uses the port; pick another with --proxy-listen/--ops-listen" : "");
  }
  return a;
}

Endpoint bound(const Acceptor& a) {
  const auto ep = a.local_endpoint();
  return Endpoint{ep.address().to_string(), ep.port()};
}

// The resolver's UDP socket on `ep` (IPv4: cells reach warden over IPv4
// only), with IP_PKTINFO so each answer names, and comes from, the address
// its query went to.
Result<Udp> listen_udp(asio::io_context& ctx, const Endpoint& ep) {
  error_code ec;
  const auto addr = asio::ip::make_address(ep.host, ec);
  if (ec || !addr.is_v4()) return Error(Errc::usage, "invalid DNS listen address " + ep.str(), "an IPv4 ADDR:PORT, e.g. 0.0.0.0:53");
  Udp s(ctx);
  s.open(asio::ip::udp::v4(), ec);
  int one = 1;
  if (!ec && ::setsockopt(s.native_handle(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
    return Error(Errc::io, std::string("cannot set IP_PKTINFO: ") + std::strerror(errno));
  }
  if (!ec) s.non_blocking(true, ec);
  if (!ec) s.bind(asio::ip::udp::endpoint(addr, ep.port), ec);
  if (ec) return Error(Errc::io, "cannot listen on udp " + ep.str() + ": " + ec.message());
  return s;
}

template <class Serve>
awaitable<void> accept_loop(Acceptor& acceptor, Shared& sh, Serve serve) {
  for (;;) {
    error_code ec;
    Socket s = co_await acceptor.async_accept(use_ec(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;  // EMFILE and friends: keep accepting
    }
    if (sh.draining) co_return;
    auto ex = s.get_executor();
    asio::co_spawn(ex, serve(std::move(s), sh), log_escaped);
  }
}

}  // namespace

void log_escaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("connection handler failed: {}", x.what());
  } catch (...) {
    spdlog::error("connection handler failed");
  }
}

std::optional<IpAddr> accepted_client(Socket& socket, const ActiveConnection& active, const Limits& limits) {
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec || active.over(limits)) return std::nullopt;
  socket.set_option(tcp::no_delay(true), ec);
  return to_ip(peer.address());
}

Status serve(const Config& cfg_in) {
  // A write to a peer that has gone away must fail with EPIPE, never kill
  // warden: Asio's sends say MSG_NOSIGNAL, and no other write may raise it
  // either. (Warden never forks, so nothing inherits this.)
  ::signal(SIGPIPE, SIG_IGN);
  Shared sh(cfg_in);
  const Config& cfg = sh.cfg;
  for (const auto& r : cfg.resolve) sh.overrides[{r.host, r.port}] = *parse_ip(r.addr);

  if (!cfg.ingress_cert.empty() || !cfg.ingress_key.empty()) {
    if (cfg.ingress_cert.empty() || cfg.ingress_key.empty()) {
      return Error(Errc::usage, "ingress needs both a certificate and its key, or neither",
                   "give both --ingress-cert and --ingress-key");
    }
    auto ctx = server_context_from_files(cfg.ingress_cert, cfg.ingress_key);
    if (!ctx) return ctx.error();
    sh.ingress_tls = std::move(*ctx);
  }
  if (auto d = hostname::normalize(cfg.ingress_domain); !d || *d != cfg.ingress_domain || parse_ip(*d)) {
    return Error(Errc::usage, "ingress domain " + str::quote(cfg.ingress_domain) + " is not a lowercase DNS name",
                 "e.g. --ingress-domain localhost");
  }

  auto ca = CertificateAuthority::load_or_create(sh.paths.ca_dir());
  if (!ca) return ca.error();
  sh.ca = std::move(*ca);
  sh.leaves = std::make_unique<LeafCache>(sh.ca, cfg.limits.cert_cache);

  sh.upstream_tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  sh.upstream_tls->set_default_verify_paths();
  sh.upstream_tls->set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(sh.upstream_tls->native_handle(), TLS1_2_VERSION);
  if (!cfg.upstream_ca.empty()) {
    error_code ec;
    sh.upstream_tls->load_verify_file(cfg.upstream_ca, ec);
    if (ec) return Error(Errc::invalid, "cannot load upstream CA " + cfg.upstream_ca + ": " + ec.message());
  }

  if (sh.cfg.threads <= 0) sh.cfg.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = sh.cfg.threads;
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  for (int i = 0; i < threads; ++i) ctxs.push_back(std::make_unique<asio::io_context>(1));
  // TCP host services: listeners on the first thread, following each snapshot.
  HostTcpListeners host_tcp(*ctxs[0], sh);
  // The store's listener posts to host_tcp: the store stops first, however serve returns.
  struct StopStore {
    Shared& sh;
    ~StopStore() { sh.store.reset(); }
  } stop_store{sh};

  if (auto st = fs::make_dirs(sh.paths.logs_dir() + "/cells"); !st) return st.error();
  sh.log = std::make_unique<LogWriter>(sh.paths.logs_dir() + "/cells");
  sh.store = std::make_unique<PolicyStore>(sh.paths, sh.metrics);
  // Each new generation: its lapsed grants logged in their cells' logs, and
  // every open connection it no longer allows closed (watch.h).
  sh.store->on_publish([&sh, &host_tcp](const Snapshot& snap, const std::vector<LapsedGrant>& lapsed) {
    for (const auto& l : lapsed) {
      LogRecord rec;
      rec.cell = l.cell;
      rec.kind = "policy";
      rec.decision = "expire";
      rec.rule = l.rule;
      rec.reason = "time-boxed grant lapsed";
      rec.generation = snap.generation;
      sh.log->write(std::move(rec));
    }
    if (const auto n = sh.watches.revoke_if_denied(snap)) {
      spdlog::info("policy generation {}: closing {} open connection(s) it no longer allows", snap.generation, n);
    }
    host_tcp.snapshot_published();
  });
  sh.store->reload();
  sh.store->start(std::chrono::milliseconds(250));

  // Proxy: the first acceptor picks the port (if 0); the others share it.
  std::vector<Acceptor> acceptors;
  auto first = listen(*ctxs[0], cfg.proxy_listen, true);
  if (!first) return first.error();
  const Endpoint proxy_ep = bound(*first);
  acceptors.push_back(std::move(*first));
  for (int i = 1; i < threads; ++i) {
    auto a = listen(*ctxs[static_cast<std::size_t>(i)], proxy_ep, true);
    if (!a) return a.error();
    acceptors.push_back(std::move(*a));
  }
  auto ops = listen(*ctxs[0], cfg.ops_listen, false);
  if (!ops) return ops.error();
  const Endpoint ops_ep = bound(*ops);
  // Ingress and the transparent ports: like the proxy, an acceptor per
  // thread on one port each.
  auto listen_each = [&](const std::optional<Endpoint>& want, std::vector<Acceptor>& out, Endpoint& ep) -> Status {
    if (!want) return {};
    for (int i = 0; i < threads; ++i) {
      auto a = listen(*ctxs[static_cast<std::size_t>(i)], i == 0 ? *want : ep, true);
      if (!a) return a.error();
      if (i == 0) ep = bound(*a);
      out.push_back(std::move(*a));
    }
    return {};
  };
  std::vector<Acceptor> ingress, http_accs, https_accs;
  Endpoint ingress_ep, http_ep, https_ep;
  BRIG_TRY(listen_each(cfg.ingress_listen, ingress, ingress_ep));
  BRIG_TRY(listen_each(cfg.http_listen, http_accs, http_ep));
  BRIG_TRY(listen_each(cfg.https_listen, https_accs, https_ep));
  // The resolver: UDP and TCP on one port, on the first thread.
  DnsResolver resolver(sh);
  std::optional<Udp> dns_udp;
  std::optional<Acceptor> dns_tcp;
  Endpoint dns_ep;
  if (cfg.dns_listen) {
    auto u = listen_udp(*ctxs[0], *cfg.dns_listen);
    if (!u) return u.error();
    const auto port = u->local_endpoint().port();
    dns_ep = Endpoint{cfg.dns_listen->host, port};
    auto t = listen(*ctxs[0], dns_ep, false);
    if (!t) return t.error();
    dns_udp.emplace(std::move(*u));
    dns_tcp.emplace(std::move(*t));
  }

  for (int i = 0; i < threads; ++i) {
    asio::co_spawn(*ctxs[static_cast<std::size_t>(i)], accept_loop(acceptors[static_cast<std::size_t>(i)], sh, serve_proxy_client), log_escaped);
  }
  for (std::size_t i = 0; i < ingress.size(); ++i) {
    asio::co_spawn(*ctxs[i], accept_loop(ingress[i], sh, serve_ingress_client), log_escaped);
  }
  for (std::size_t i = 0; i < http_accs.size(); ++i) {
    asio::co_spawn(*ctxs[i], accept_loop(http_accs[i], sh, serve_transparent_http), log_escaped);
  }
  for (std::size_t i = 0; i < https_accs.size(); ++i) {
    asio::co_spawn(*ctxs[i], accept_loop(https_accs[i], sh, serve_transparent_https), log_escaped);
  }
  if (dns_udp) {
    asio::co_spawn(*ctxs[0], serve_dns_udp(*dns_udp, resolver), log_escaped);
    auto serve_tcp = [&resolver](Socket s, Shared& shr) { return serve_dns_tcp_client(std::move(s), shr, resolver); };
    asio::co_spawn(*ctxs[0], accept_loop(*dns_tcp, sh, serve_tcp), log_escaped);
  }
  asio::co_spawn(*ctxs[0], accept_loop(*ops, sh, serve_ops_client), log_escaped);

  RuntimeInfo info;
  info.proxy = proxy_ep.str();
  info.ops = ops_ep.str();
  info.pid = static_cast<long>(::getpid());
  if (auto st = state::store_warden_runtime(sh.paths, info); !st) {
    spdlog::warn("cannot record warden's addresses: {}", st.error().message());
  }
  // One JSON line naming every listener (tests and `brig system up` read it).
  std::string listening = "\"proxy\": \"" + proxy_ep.str() + "\", \"ops\": \"" + ops_ep.str() + "\"";
  for (const auto& [name, ep, on] : {std::tuple{"ingress", ingress_ep, !ingress.empty()}, {"dns", dns_ep, dns_udp.has_value()},
                                     {"http", http_ep, !http_accs.empty()}, {"https", https_ep, !https_accs.empty()}}) {
    if (on) listening += std::string(", \"") + name + "\": \"" + ep.str() + "\"";
  }
  std::printf("{%s}\n", listening.c_str());
  std::fflush(stdout);
  spdlog::info("warden listening: {} ({} threads; ingress for *.{})", listening, threads, cfg.ingress_domain);

  // Signals: SIGHUP reloads; SIGTERM/SIGINT stop accepting, drain, stop.
  asio::signal_set signals(*ctxs[0], SIGTERM, SIGINT, SIGHUP);
  asio::steady_timer drain(*ctxs[0]);
  std::chrono::steady_clock::time_point drain_deadline;
  // Polls until every connection has closed or the drain deadline passes.
  std::function<void(const error_code&)> check_drained = [&](const error_code&) {
    if (sh.metrics.active_connections.load() <= 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      error_code e;
      ops->close(e);
      for (auto& c : ctxs) c->stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait(check_drained);
  };
  std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading policy");
      sh.store->request_reload();
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("signal {}: draining (at most {} ms)", sig, cfg.limits.drain_timeout.count());
    sh.draining = true;
    for (std::size_t i = 0; i < acceptors.size(); ++i) {
      asio::post(*ctxs[i], [&a = acceptors[i]] { error_code e; a.close(e); });
    }
    for (auto* group : {&ingress, &http_accs, &https_accs}) {
      for (std::size_t i = 0; i < group->size(); ++i) {
        asio::post(*ctxs[i], [&a = (*group)[i]] { error_code e; a.close(e); });
      }
    }
    if (dns_udp) {
      error_code e;
      dns_udp->close(e);
      dns_tcp->close(e);
    }
    host_tcp.close_all();
    drain_deadline = std::chrono::steady_clock::now() + cfg.limits.drain_timeout;
    check_drained({});
  };
  signals.async_wait(on_signal);

  // Each thread's upstream pool holds sockets of its io_context: empty it on
  // that thread while the io_context still exists.
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&c = *ctxs[static_cast<std::size_t>(i)]] {
      c.run();
      UpstreamPool::local().clear();
    });
  }
  ctxs[0]->run();
  UpstreamPool::local().clear();
  for (auto& c : ctxs) c->stop();
  for (auto& t : pool) t.join();
  sh.log->flush();
  state::remove_warden_runtime(sh.paths);
  spdlog::info("warden stopped");
  return {};
}

}  // namespace brig::warden
