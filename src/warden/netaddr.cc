#include "brig/warden/netaddr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace brig::warden {
namespace {

struct Range4 {
  std::uint32_t base;
  int prefix;
  std::string_view name;
};

constexpr std::uint32_t ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

// IANA IPv4 Special-Purpose Address Registry, entries not globally reachable,
// plus multicast and the reserved class E block.
constexpr Range4 kBlocked4[] = {
    {ip4(0, 0, 0, 0), 8, "this-network"},
    {ip4(10, 0, 0, 0), 8, "private"},
    {ip4(100, 64, 0, 0), 10, "cgnat"},
    {ip4(127, 0, 0, 0), 8, "loopback"},
    {ip4(169, 254, 0, 0), 16, "link-local"},  // includes metadata 169.254.169.254
    {ip4(172, 16, 0, 0), 12, "private"},
    {ip4(192, 0, 0, 0), 24, "ietf-protocol"},
    {ip4(192, 0, 2, 0), 24, "documentation"},
    {ip4(192, 88, 99, 0), 24, "6to4-relay"},
    {ip4(192, 168, 0, 0), 16, "private"},
    {ip4(198, 18, 0, 0), 15, "benchmarking"},
    {ip4(198, 51, 100, 0), 24, "documentation"},
    {ip4(203, 0, 113, 0), 24, "documentation"},
    {ip4(224, 0, 0, 0), 4, "multicast"},
    {ip4(240, 0, 0, 0), 4, "reserved"},  // includes broadcast 255.255.255.255
};

struct Range6 {
  std::array<std::uint8_t, 16> base;
  int prefix;
  std::string_view name;
};

constexpr std::array<std::uint8_t, 16> b6(std::initializer_list<std::uint16_t> groups) {
  std::array<std::uint8_t, 16> out{};
  std::size_t i = 0;
  for (auto g : groups) {
    out[i++] = static_cast<std::uint8_t>(g >> 8);
    out[i++] = static_cast<std::uint8_t>(g & 0xff);
  }
  return out;
}

// IANA IPv6 Special-Purpose Address Registry (not globally reachable) and the
// other non-global unicast and multicast blocks. Embedded-IPv4 forms are
// unwrapped before these are consulted.
const Range6 kBlocked6[] = {
    {b6({0, 0, 0, 0, 0, 0, 0, 0}), 128, "unspecified"},
    {b6({0, 0, 0, 0, 0, 0, 0, 1}), 128, "loopback"},
    {b6({0, 0, 0, 0, 0, 0, 0, 0}), 96, "ipv4-compatible"},
    {b6({0x64, 0xff9b, 1}), 48, "nat64-local"},
    {b6({0x100}), 64, "discard"},
    {b6({0x2001}), 23, "ietf-protocol"},
    {b6({0x2001, 0xdb8}), 32, "documentation"},
    {b6({0x3fff}), 20, "documentation"},
    {b6({0x5f00}), 16, "srv6"},
    {b6({0xfc00}), 7, "unique-local"},
    {b6({0xfe80}), 10, "link-local"},
    {b6({0xfec0}), 10, "site-local"},
    {b6({0xff00}), 8, "multicast"},
};

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  for (int i = 0; i < full; ++i)
    if (a[i] != b[i]) return false;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::uint32_t v4_of(const IpAddr& a) {
  return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) | (std::uint32_t{a.bytes[2]} << 8) |
         a.bytes[3];
}

std::optional<std::string_view> blocked4(std::uint32_t v) {
  for (const auto& r : kBlocked4) {
    const std::uint32_t mask = r.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - r.prefix);
    if ((v & mask) == (r.base & mask)) return r.name;
  }
  return std::nullopt;
}

std::uint32_t embedded_v4(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

IpAddr IpAddr::v4(std::uint32_t v) {
  IpAddr a;
  a.bytes[0] = static_cast<std::uint8_t>(v >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(v >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(v >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(v);
  return a;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddr> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddr a;
  if (s.find(':') != std::string::npos) {
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.v6 = true;
    return a;
  }
  // inet_aton stops at whitespace and accepts "1.2.3.4 anything": allow only
  // the characters of its numeric spellings.
  if (s.find_first_not_of("0123456789abcdefABCDEFxX.") != std::string::npos) return std::nullopt;
  in_addr v4{};
  if (::inet_aton(s.c_str(), &v4) == 0) return std::nullopt;
  std::memcpy(a.bytes.data(), &v4, 4);
  return a;
}

std::optional<std::string_view> blocked_range(const IpAddr& a) {
  if (!a.v6) return blocked4(v4_of(a));
  const std::uint8_t* p = a.bytes.data();
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr std::uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(p, kMapped, 12) == 0 || std::memcmp(p, kNat64, 12) == 0) {
    // The IPv4 address inside decides; a public one is still reached via v6.
    return blocked4(embedded_v4(p + 12));
  }
  if (p[0] == 0x20 && p[1] == 0x02) {  // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD
    if (auto r = blocked4(embedded_v4(p + 2))) return r;
  }
  for (const auto& r : kBlocked6) {
    if (prefix_match(p, r.base.data(), r.prefix)) return r.name;
  }
  return std::nullopt;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string addr(text.substr(0, slash));
  Cidr c;
  in_addr v4{};
  if (addr.find(':') != std::string::npos) {
    if (::inet_pton(AF_INET6, addr.c_str(), c.base.bytes.data()) != 1) return std::nullopt;
    c.base.v6 = true;
  } else if (::inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
    std::memcpy(c.base.bytes.data(), &v4, 4);
  } else {
    return std::nullopt;
  }
  auto ps = text.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), c.prefix);
  if (ec != std::errc() || ptr != ps.data() + ps.size() || c.prefix < 0 || c.prefix > (c.base.v6 ? 128 : 32)) {
    return std::nullopt;
  }
  return c;
}

bool Cidr::contains(const IpAddr& a) const {
  return a.v6 == base.v6 && prefix_match(a.bytes.data(), base.bytes.data(), prefix);
}

}  // namespace brig::warden
