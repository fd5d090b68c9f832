#include "brig/policy/target.h"

#include <gtest/gtest.h>

namespace brig::policy {
namespace {

Target ok(std::string_view text) {
  auto t = parse_target(text);
  EXPECT_TRUE(t.ok()) << text << ": " << (t ? "" : t.error().message());
  return t ? *t : Target{};
}

std::string err(std::string_view text) {
  auto t = parse_target(text);
  EXPECT_FALSE(t.ok()) << text << " parsed as host " << (t ? t->host : "");
  if (t) return "";
  EXPECT_EQ(t.error().code(), Errc::usage) << text;
  return t.error().message();
}

TEST(ParseTargetTest, HttpsUrlWithoutPort) {
  auto t = ok("https://api.example.com/v1/models?limit=1");
  EXPECT_EQ(t.host, "api.example.com");
  EXPECT_EQ(t.port, 443);
  EXPECT_EQ(t.path, "/v1/models?limit=1");  // the policy normalises the path
  EXPECT_FALSE(t.connect_only);
}

TEST(ParseTargetTest, HttpUrlDefaultsToPort80) {
  auto t = ok("http://example.com/");
  EXPECT_EQ(t.host, "example.com");
  EXPECT_EQ(t.port, 80);
  EXPECT_EQ(t.path, "/");
}

TEST(ParseTargetTest, SchemeIsCaseInsensitive) {
  auto t = ok("HTTP://Example.com/x");
  EXPECT_EQ(t.port, 80);
  EXPECT_EQ(t.host, "example.com");  // canonical, as the policy compares it
}

TEST(ParseTargetTest, UrlWithPort) {
  auto t = ok("https://registry.internal:8443/v2/");
  EXPECT_EQ(t.host, "registry.internal");
  EXPECT_EQ(t.port, 8443);
  EXPECT_EQ(t.path, "/v2/");
  EXPECT_EQ(ok("http://example.com:443/").port, 443);
}

TEST(ParseTargetTest, UrlWithoutPathAsksForTheRoot) {
  EXPECT_EQ(ok("https://example.com").path, "/");
  EXPECT_EQ(ok("https://example.com:8443").path, "/");
  auto t = ok("https://example.com?q=1");
  EXPECT_EQ(t.host, "example.com");
  EXPECT_EQ(t.path, "/?q=1");
}

TEST(ParseTargetTest, BareHostIsConnectLevel) {
  auto t = ok("api.example.com");
  EXPECT_EQ(t.host, "api.example.com");
  EXPECT_EQ(t.port, 443);
  EXPECT_EQ(t.path, "");
  EXPECT_TRUE(t.connect_only);
}

TEST(ParseTargetTest, BareHostWithPort) {
  auto t = ok("api.example.com:8443");
  EXPECT_EQ(t.host, "api.example.com");
  EXPECT_EQ(t.port, 8443);
  EXPECT_TRUE(t.connect_only);
}

TEST(ParseTargetTest, BracketedIpv6) {
  auto t = ok("[::1]:8443");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 8443);
  EXPECT_TRUE(t.connect_only);
  auto u = ok("https://[2001:db8::1]/x");
  EXPECT_EQ(u.host, "2001:db8::1");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "/x");
  EXPECT_EQ(ok("[::1]").host, "::1");
  EXPECT_EQ(err("2001:db8::1:443"),
            "an IPv6 address needs brackets: write [ADDR] or [ADDR]:PORT, not \"2001:db8::1:443\"");
}

TEST(ParseTargetTest, HostIsCanonicalOrRefused) {
  EXPECT_EQ(ok("https://Bücher.Example./x").host, "xn--bcher-kva.example");
  EXPECT_EQ(err("exa mple.com:443"), "invalid host \"exa mple.com\": host contains a control character or space");
}

TEST(ParseTargetTest, RejectsUserinfo) {
  EXPECT_NE(err("https://user:pw@example.com/").find("userinfo"), std::string::npos);
  err("https://user@example.com");
  err("user@example.com");
  err("user@example.com:443");
  // An '@' in the path is not userinfo.
  EXPECT_EQ(ok("https://example.com/a@b").host, "example.com");
}

TEST(ParseTargetTest, RejectsOtherSchemes) {
  EXPECT_NE(err("ftp://example.com/").find("unsupported scheme"), std::string::npos);
  err("file:///etc/passwd");
  err("ws://example.com/");
  err("gopher://example.com:70/");
}

TEST(ParseTargetTest, RejectsPathWithoutScheme) {
  EXPECT_NE(err("example.com/v1/models").find("needs a scheme"), std::string::npos);
  err("/v1/models");
}

TEST(ParseTargetTest, RejectsBadPortsAndEmptyHosts) {
  for (const char* t : {"example.com:", "example.com:0", "example.com:65536", "example.com:http", "example.com:-1",
                        "https://example.com:/", "https://example.com:99999/", "https://", "https:///x", ":443",
                        "[::1", "[::1]x", "[::1]:", "[::1]:0", "[]:443"}) {
    err(t);
  }
  EXPECT_EQ(ok("example.com:65535").port, 65535);
  EXPECT_EQ(ok("example.com:1").port, 1);
}

}  // namespace
}  // namespace brig::policy
