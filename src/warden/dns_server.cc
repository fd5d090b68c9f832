// The cells' resolver. A cell's /etc/resolv.conf names warden's address on
// the cell's network; warden answers from the cell's policy alone: a name
// the policy allows resolves to warden itself (which then proxies the
// connection, transparent.cc), anything else is NXDOMAIN. No query is ever
// forwarded anywhere, so a name that carries data goes no further than
// warden's log.
//
// UDP and TCP (RFC 7766) on one port, on the first I/O thread only: an
// answer is a table lookup, and one thread keeps the per-cell state lock-free.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/read.hpp>

#include "dns.h"
#include "dns_server.h"
#include "exchange.h"
#include "host_services.h"
#include "upstream.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC PR 109224 (see connect.cc)

namespace brig::warden {
namespace {

constexpr std::uint32_t kTtl = 5;  // seconds: a policy change reaches clients soon
constexpr auto kLogRepeat = std::chrono::seconds(2);  // a name denied again within this is counted, not logged again
constexpr auto kTcpTimeout = std::chrono::seconds(5);
constexpr int kTcpQueries = 32;  // per connection, then it is closed

std::string type_name(std::uint16_t t) {
  switch (t) {
    case dns::kTypeA: return "A";
    case dns::kTypeAAAA: return "AAAA";
    case 5: return "CNAME";
    case 15: return "MX";
    case 16: return "TXT";
    case 33: return "SRV";
    case 65: return "HTTPS";
    default: return "TYPE" + std::to_string(t);
  }
}

// A datagram's header: its peer, one buffer, and room for control messages.
msghdr datagram(sockaddr_in& peer, iovec& iov, std::span<char> control) {
  msghdr m{};
  m.msg_name = &peer;
  m.msg_namelen = sizeof peer;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  return m;
}

}  // namespace

DnsResolver::DnsResolver(Shared& sh) : sh_(sh) {}
DnsResolver::~DnsResolver() = default;

DnsResolver::PerCell& DnsResolver::per_cell(const std::string& cell) {
  // Cell names come and go; the map stays bounded however many there were.
  if (cells_.size() > 4096 && !cells_.contains(cell)) cells_.clear();
  auto& p = cells_[cell];
  if (!p) {
    p = std::make_unique<PerCell>();
    p->bucket.configure(sh_.cfg.limits.dns_rate, sh_.cfg.limits.dns_burst);
  }
  return *p;
}

std::string DnsResolver::answer(std::span<const std::uint8_t> msg, const IpAddr& src, const IpAddr& local) {
  const auto snap = sh_.store->current();
  const CellState* cell = snap->cell_for(src);
  const auto metrics = cell ? cell->metrics : sh_.metrics.cell("unknown");
  auto count = [&](DnsAnswer a) { metrics->dns[static_cast<std::size_t>(a)].fetch_add(1, std::memory_order_relaxed); };
  // Not a cell: nothing to answer (a resolver that says NXDOMAIN to anyone
  // is still a reflector).
  if (!cell) {
    count(DnsAnswer::dropped);
    return {};
  }
  PerCell& pc = per_cell(cell->name);
  double retry = 0;
  if (!pc.bucket.take(&retry)) {
    count(DnsAnswer::dropped);
    return {};
  }
  const dns::Parsed parsed = dns::parse_query(msg);
  const dns::Query& q = parsed.query;
  switch (parsed.status) {
    case dns::Parse::ok: break;
    case dns::Parse::drop: count(DnsAnswer::dropped); return {};
    case dns::Parse::formerr: count(DnsAnswer::refused); return dns::answer(q, msg, dns::Rcode::formerr);
    case dns::Parse::notimp: count(DnsAnswer::refused); return dns::answer(q, msg, dns::Rcode::notimp);
  }
  if (q.qclass != dns::kClassIN) {
    count(DnsAnswer::refused);
    return dns::answer(q, msg, dns::Rcode::refused);
  }
  policy::Verdict v;
  // A host service exists for the cells that declare it (any protocol), and
  // for no one else; the policy is not asked (host_services.h).
  const bool host_service = q.valid && in_host_service_domain(q.name);
  const std::string label = host_service ? state::host_service_label(q.name) : "";
  if (host_service) {
    v.rule = "default deny";
    if (!label.empty() && cell->host_service(label)) v.decision = policy::Decision::allow;
  } else if (q.valid) {
    v = cell->policy->evaluate_name(q.name);
  } else {
    v.reason = policy::Reason::invalid_host;
    v.rule = "default deny";
  }
  if (!v.allowed()) {
    count(DnsAnswer::nxdomain);
    const auto now = std::chrono::steady_clock::now();
    if (q.name != pc.last_denied || now - pc.last_denied_at > kLogRepeat) {
      pc.last_denied = q.name;
      pc.last_denied_at = now;
      LogRecord rec;
      rec.cell = cell->name;
      rec.kind = "dns";
      rec.decision = "deny";
      rec.code = host_service ? "host_service" : policy::reason_code(v.reason);
      rec.generation = snap->generation;
      rec.method = type_name(q.qtype);
      rec.host = q.name;
      rec.port = 53;
      rec.rule = std::string(v.rule);
      rec.reason = host_service ? "cell " + cell->name + " declares no host service " + q.name + ": NXDOMAIN"
                   : q.valid     ? std::string(policy::reason_text(v.reason)) + ": NXDOMAIN"
                                 : "not a hostname: NXDOMAIN";
      rec.host_service = label;
      sh_.log->write(std::move(rec));
    }
    return dns::answer(q, msg, dns::Rcode::nxdomain);
  }
  if (q.qtype == dns::kTypeA && !local.v6) {
    const std::array<std::uint8_t, 4> a = {local.bytes[0], local.bytes[1], local.bytes[2], local.bytes[3]};
    count(DnsAnswer::address);
    return dns::answer(q, msg, dns::Rcode::noerror, &a, kTtl);
  }
  // AAAA and every other type of an allowed name: it exists, with nothing of
  // that type (cells reach warden over IPv4 only).
  count(DnsAnswer::empty);
  return dns::answer(q, msg, dns::Rcode::noerror);
}

namespace {

// A control-message buffer for one IP_PKTINFO, aligned as cmsghdr needs.
union PktinfoControl {
  cmsghdr align;
  std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> bytes;
};

// Answers the datagrams waiting on `fd`, at most `max` of them (a flood must
// not starve the thread's other work). Plain code, not a coroutine: its
// buffers live on the stack, with their alignment.
void answer_datagrams(int fd, DnsResolver& resolver, int max) {
  // One byte more than any query warden answers: a longer one shows as MSG_TRUNC.
  std::array<std::uint8_t, dns::kMaxQuery + 1> buf{};
  PktinfoControl control{};
  for (int i = 0; i < max; ++i) {
    sockaddr_in from{};
    iovec iov{buf.data(), buf.size()};
    msghdr mh = datagram(from, iov, control.bytes);
    const ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained
    }
    if (from.sin_family != AF_INET) continue;
    const IpAddr src = IpAddr::v4(ntohl(from.sin_addr.s_addr));
    // The address the query was sent to: warden's own on that cell's network.
    std::optional<IpAddr> local;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        local = IpAddr::v4(ntohl(pi.ipi_addr.s_addr));
      }
    }
    if ((mh.msg_flags & MSG_TRUNC) || !local) {
      (void)resolver.answer({}, src, IpAddr{});  // counted as dropped (an empty message never parses)
      continue;
    }
    std::string out = resolver.answer({buf.data(), static_cast<std::size_t>(n)}, src, *local);
    if (out.empty()) continue;
    // From the address the query went to, whatever the routing table says.
    PktinfoControl reply{};
    iovec riov{out.data(), out.size()};
    msghdr rh = datagram(from, riov, reply.bytes);
    cmsghdr* c = CMSG_FIRSTHDR(&rh);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    std::memcpy(&pi.ipi_spec_dst, local->bytes.data(), 4);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    (void)::sendmsg(fd, &rh, MSG_DONTWAIT | MSG_NOSIGNAL);  // a full buffer drops the answer: the client retries
  }
}

}  // namespace

awaitable<void> serve_dns_udp(Udp& sock, DnsResolver& resolver) {
  for (;;) {
    error_code ec;
    co_await sock.async_wait(Udp::wait_read, use_ec(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !sock.is_open()) co_return;
      continue;
    }
    answer_datagrams(sock.native_handle(), resolver, 256);
  }
}

awaitable<void> serve_dns_tcp_client(Socket socket, Shared& sh, DnsResolver& resolver) {
  if (resolver.tcp_open >= sh.cfg.limits.dns_tcp_connections) co_return;
  ++resolver.tcp_open;
  struct Release { std::size_t& n; ~Release() { --n; } } release{resolver.tcp_open};
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const auto me = socket.local_endpoint(ec);
  if (ec) co_return;
  const IpAddr src = to_ip(peer.address()), local = to_ip(me.address());
  TcpStream stream(std::move(socket));
  std::array<std::uint8_t, dns::kMaxQuery> msg{};
  for (int i = 0; i < kTcpQueries; ++i) {
    std::array<std::uint8_t, 2> len{};
    stream.expires_after(kTcpTimeout);
    co_await asio::async_read(stream, asio::buffer(len), use_ec(ec));
    if (ec) co_return;
    const std::size_t n = static_cast<std::size_t>(len[0]) << 8 | len[1];
    if (n == 0 || n > msg.size()) co_return;  // no honest query is that long: drop the connection
    co_await asio::async_read(stream, asio::buffer(msg.data(), n), use_ec(ec));
    if (ec) co_return;
    std::string out = resolver.answer({msg.data(), n}, src, local);
    if (out.empty()) co_return;
    const std::array<std::uint8_t, 2> out_len = {static_cast<std::uint8_t>(out.size() >> 8),
                                                 static_cast<std::uint8_t>(out.size())};
    const std::array<asio::const_buffer, 2> bufs = {asio::buffer(out_len), asio::buffer(out)};
    co_await asio::async_write(stream, bufs, use_ec(ec));
    if (ec) co_return;
  }
}

}  // namespace brig::warden
