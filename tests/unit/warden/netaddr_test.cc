#include "brig/warden/netaddr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brig::warden {
namespace {

IpAddr ip(std::string_view text) {
  auto a = parse_ip(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddr{});
}

std::string blocked(std::string_view text) {
  auto r = blocked_range(ip(text));
  return r ? std::string(*r) : std::string("allowed");
}

struct Range {
  const char* first;
  const char* last;
  const char* name;
};

// Every IPv4 range warden refuses: its first and last address.
const Range kRanges4[] = {
    {"0.0.0.0", "0.255.255.255", "this-network"},
    {"10.0.0.0", "10.255.255.255", "private"},
    {"100.64.0.0", "100.127.255.255", "cgnat"},
    {"127.0.0.0", "127.255.255.255", "loopback"},
    {"169.254.0.0", "169.254.255.255", "link-local"},
    {"172.16.0.0", "172.31.255.255", "private"},
    {"192.0.0.0", "192.0.0.255", "ietf-protocol"},
    {"192.0.2.0", "192.0.2.255", "documentation"},
    {"192.88.99.0", "192.88.99.255", "6to4-relay"},
    {"192.168.0.0", "192.168.255.255", "private"},
    {"198.18.0.0", "198.19.255.255", "benchmarking"},
    {"198.51.100.0", "198.51.100.255", "documentation"},
    {"203.0.113.0", "203.0.113.255", "documentation"},
    {"224.0.0.0", "239.255.255.255", "multicast"},
    {"240.0.0.0", "255.255.255.255", "reserved"},
};

TEST(BlockedRange, EveryIpv4RangeFirstAndLast) {
  for (const auto& r : kRanges4) {
    EXPECT_EQ(blocked(r.first), r.name) << r.first;
    EXPECT_EQ(blocked(r.last), r.name) << r.last;
  }
}

TEST(BlockedRange, Ipv4NeighboursOutsideAreAllowed) {
  for (const char* a : {"1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
                        "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
                        "191.255.255.255", "192.0.1.0", "192.0.3.0", "192.88.98.255", "192.88.100.0",
                        "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "198.51.99.255",
                        "198.51.101.0", "203.0.112.255", "203.0.114.0", "223.255.255.255", "8.8.8.8", "1.1.1.1"}) {
    EXPECT_EQ(blocked(a), "allowed") << a;
  }
}

TEST(BlockedRange, MetadataAndBroadcast) {
  EXPECT_EQ(blocked("169.254.169.254"), "link-local");
  EXPECT_EQ(blocked("255.255.255.255"), "reserved");
}

TEST(BlockedRange, Ipv6SpecialAddresses) {
  EXPECT_EQ(blocked("::"), "unspecified");
  EXPECT_EQ(blocked("::1"), "loopback");
  EXPECT_EQ(blocked("fc00::1"), "unique-local");
  EXPECT_EQ(blocked("fd12::1"), "unique-local");
  EXPECT_EQ(blocked("fe80::1"), "link-local");
  EXPECT_EQ(blocked("febf::1"), "link-local");
  EXPECT_EQ(blocked("fec0::1"), "site-local");
  EXPECT_EQ(blocked("ff02::1"), "multicast");
  EXPECT_EQ(blocked("2001:db8::1"), "documentation");
  EXPECT_EQ(blocked("3fff::1"), "documentation");
  EXPECT_EQ(blocked("100::1"), "discard");
  EXPECT_EQ(blocked("2001::1"), "ietf-protocol");  // Teredo
  EXPECT_EQ(blocked("5f00::1"), "srv6");
  EXPECT_EQ(blocked("64:ff9b:1::1"), "nat64-local");
}

TEST(BlockedRange, Ipv6GlobalAddressesAllowed) {
  for (const char* a : {"2606:4700::1111", "2a00:1450:4001::1", "2001:4860:4860::8888", "fe00::1", "fbff::1",
                        "2001:200::1", "100:0:0:1::1"}) {
    EXPECT_EQ(blocked(a), "allowed") << a;
  }
}

TEST(BlockedRange, V4MappedIsClassifiedAsIpv4) {
  EXPECT_EQ(blocked("::ffff:10.0.0.1"), "private");
  EXPECT_EQ(blocked("::ffff:127.0.0.1"), "loopback");
  EXPECT_EQ(blocked("::ffff:169.254.169.254"), "link-local");
  EXPECT_EQ(blocked("::ffff:8.8.8.8"), "allowed");
}

TEST(BlockedRange, Nat64IsClassifiedAsIpv4) {
  EXPECT_EQ(blocked("64:ff9b::7f00:1"), "loopback");
  EXPECT_EQ(blocked("64:ff9b::a00:1"), "private");
  EXPECT_EQ(blocked("64:ff9b::808:808"), "allowed");
}

TEST(BlockedRange, SixToFourIsClassifiedAsIpv4) {
  EXPECT_EQ(blocked("2002:7f00:1::"), "loopback");
  EXPECT_EQ(blocked("2002:a9fe:a9fe::1"), "link-local");
  EXPECT_EQ(blocked("2002:808:808::"), "allowed");
}

TEST(BlockedRange, V4CompatibleIsBlockedWhateverTheV4Address) {
  EXPECT_EQ(blocked("::8.8.8.8"), "ipv4-compatible");
  EXPECT_EQ(blocked("::7f00:1"), "ipv4-compatible");
  EXPECT_EQ(blocked("::1:0:0:1"), "allowed");  // outside ::/96
}

TEST(ParseIp, GlibcIpv4Spellings) {
  const IpAddr loopback = IpAddr::v4(0x7f000001);
  for (const char* s : {"127.0.0.1", "127.1", "0x7f.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1", "0x7f000001",
                        "127.0.1"}) {
    auto a = parse_ip(s);
    ASSERT_TRUE(a.has_value()) << s;
    EXPECT_EQ(*a, loopback) << s;
    EXPECT_FALSE(a->v6);
    EXPECT_EQ(a->str(), "127.0.0.1") << s;
    EXPECT_EQ(blocked_range(*a), "loopback") << s;
  }
  EXPECT_EQ(parse_ip("10.1")->str(), "10.0.0.1");
  EXPECT_EQ(parse_ip("3232235777")->str(), "192.168.1.1");
}

TEST(ParseIp, Ipv6BareAndBracketed) {
  auto bare = parse_ip("::1");
  auto bracketed = parse_ip("[::1]");
  ASSERT_TRUE(bare && bracketed);
  EXPECT_TRUE(bare->v6);
  EXPECT_EQ(*bare, *bracketed);
  EXPECT_EQ(bracketed->str(), "::1");
  EXPECT_EQ(parse_ip("[2606:4700::1111]")->str(), "2606:4700::1111");
  EXPECT_EQ(parse_ip("[::ffff:10.0.0.1]")->str(), "::ffff:10.0.0.1");
}

TEST(ParseIp, HostNamesAndJunkAreNotAddresses) {
  for (const char* s : {"", "[]", "localhost", "example.com", "127.0.0.1.example.com", "1.2.3.4.5", "256.0.0.1",
                        "0x100.0.0.1", "08.0.0.1", "::1::2", "[::1", "::g", "1.2.3.-4", "abc"}) {
    EXPECT_FALSE(parse_ip(s).has_value()) << s;
  }
  EXPECT_FALSE(parse_ip(std::string(100, '1')).has_value());
}

// glibc's inet_aton stops at whitespace; an address with a tail is not an address.
TEST(ParseIp, TrailingGarbageIsRefused) {
  for (const char* s : {"1.2.3.4 evil.com", "127.0.0.1\t", "127.0.0.1\n", "127.1 x", " 127.0.0.1", "[::1] "}) {
    EXPECT_FALSE(parse_ip(s).has_value()) << s;
  }
}

TEST(IpAddr, V4ConstructorIsNetworkOrder) {
  const IpAddr a = IpAddr::v4(0x0a000102);
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a.bytes[0], 10);
  EXPECT_EQ(a.bytes[3], 2);
  EXPECT_EQ(a.str(), "10.0.1.2");
}

TEST(Cidr, ParseAndContainsV4) {
  auto c = Cidr::parse("10.1.0.0/16");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->prefix, 16);
  EXPECT_TRUE(c->contains(ip("10.1.0.0")));
  EXPECT_TRUE(c->contains(ip("10.1.255.255")));
  EXPECT_FALSE(c->contains(ip("10.0.255.255")));
  EXPECT_FALSE(c->contains(ip("10.2.0.0")));
  EXPECT_FALSE(c->contains(ip("::ffff:10.1.0.1")));  // a v6 address never matches a v4 block

  auto odd = Cidr::parse("192.168.4.0/22");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(ip("192.168.7.255")));
  EXPECT_FALSE(odd->contains(ip("192.168.8.0")));
  EXPECT_FALSE(odd->contains(ip("192.168.3.255")));

  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(ip("255.255.255.255")));
  EXPECT_FALSE(all->contains(ip("::1")));

  auto host = Cidr::parse("1.2.3.4/32");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains(ip("1.2.3.4")));
  EXPECT_FALSE(host->contains(ip("1.2.3.5")));
}

TEST(Cidr, ParseAndContainsV6) {
  auto c = Cidr::parse("fd00:1:2::/48");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->base.v6);
  EXPECT_TRUE(c->contains(ip("fd00:1:2:ffff::1")));
  EXPECT_FALSE(c->contains(ip("fd00:1:3::1")));
  EXPECT_FALSE(c->contains(ip("10.0.0.1")));
  auto odd = Cidr::parse("2001:db8::/33");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(ip("2001:db8:7fff::1")));
  EXPECT_FALSE(odd->contains(ip("2001:db8:8000::1")));
  EXPECT_TRUE(Cidr::parse("::1/128")->contains(ip("::1")));
}

TEST(Cidr, InvalidBlocksAreRefused) {
  for (const char* s : {"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8x",
                        "10.0.0.0/ 8", "10.1/16", "0x0a.0.0.0/8", "example.com/24", "::/129", "fe80::/abc",
                        "fe80:::/10", "/8", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(Cidr::parse(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace brig::warden
