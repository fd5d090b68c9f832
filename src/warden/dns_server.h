// The cells' resolver on UDP and TCP (dns_server.cc). Private to module warden.
#pragma once

#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "rate_limit.h"
#include "server.h"

namespace brig::warden {

using Udp = asio::basic_datagram_socket<asio::ip::udp, Executor>;

// Answers queries from cells by their policy. Used from one thread only.
class DnsResolver {
 public:
  explicit DnsResolver(Shared& sh);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The answer to `msg` from `src`, which sent it to warden's address
  // `local`, or "" to drop it (not a cell, over the cell's DNS rate, not a
  // query). A name the cell's policy allows, or a host service it declares
  // (<name>.host.brig: the policy is not asked there), gets `local` (A) or an
  // empty answer (other types); every other name NXDOMAIN, logged as a `dns`
  // denial (once per name in a short while). Counted in metrics.
  std::string answer(std::span<const std::uint8_t> msg, const IpAddr& src, const IpAddr& local);

  std::size_t tcp_open = 0;  // DNS-over-TCP connections now

 private:
  struct PerCell {
    TokenBucket bucket;
    std::string last_denied;
    std::chrono::steady_clock::time_point last_denied_at{};
  };
  PerCell& per_cell(const std::string& cell);

  Shared& sh_;
  std::map<std::string, std::unique_ptr<PerCell>> cells_;
};

// Serves datagrams on `sock` (bound, IP_PKTINFO on) until it is closed.
awaitable<void> serve_dns_udp(Udp& sock, DnsResolver& resolver);
// One DNS-over-TCP connection: length-prefixed queries until it closes, idles or has asked kTcpQueries.
awaitable<void> serve_dns_tcp_client(Socket socket, Shared& sh, DnsResolver& resolver);

}  // namespace brig::warden
