// Which destination addresses warden refuses: every range the IANA IPv4 and
// IPv6 special-purpose registries mark as not globally reachable, after
// unwrapping addresses that embed an IPv4 address (v4-mapped, v4-compatible,
// NAT64 64:ff9b::/96, 6to4 2002::/16).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brig::warden {

struct IpAddr {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4: first 4 bytes, network order

  static IpAddr v4(std::uint32_t host_order);
  std::string str() const;
  bool operator==(const IpAddr&) const = default;
};

// Parses an IP literal in every spelling the resolver would accept for IPv4
// ("127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1") and IPv6, with or
// without brackets. nullopt for anything else (a host name).
std::optional<IpAddr> parse_ip(std::string_view text);

// The name of the blocked range `addr` falls in ("loopback", "private",
// "link-local", "cgnat", "benchmarking", ...) or nullopt if it is globally
// reachable. Embedded IPv4 addresses are classified as IPv4.
std::optional<std::string_view> blocked_range(const IpAddr& addr);

// A CIDR block, for the subnet map.
struct Cidr {
  IpAddr base;
  int prefix = 0;
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddr& a) const;
};

}  // namespace brig::warden
