// http_checks: the request targets (absolute, origin and CONNECT forms).
// The heads, hop-by-hop headers and serialisation are in http_heads_test.cc.
#include "warden/http_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "unit/warden/http_checks_test_util.h"

namespace brig::warden {
namespace {

using testing::field;
using testing::get;
using testing::Headers;
using testing::make_request;

// absolute_target ------------------------------------------------------------

TEST(AbsoluteTarget, HttpWithPortAndPath) {
  auto d = absolute_target(get("http://Example.COM:8080/p/q?x=1", {{"Host", "example.com:8080"}}));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->host, "example.com");
  EXPECT_EQ(d->port, 8080);
  EXPECT_EQ(d->path, "/p/q?x=1");
}

TEST(AbsoluteTarget, DefaultPortAndPath) {
  auto d = absolute_target(get("http://example.com", {{"Host", "example.com"}}));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->path, "/");
  auto q = absolute_target(get("HTTP://example.com?x=1"));
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->path, "/?x=1");
  // Host with an explicit :80 agrees with the URI's default port.
  EXPECT_TRUE(absolute_target(get("http://example.com/", {{"Host", "example.com:80"}})));
}

TEST(AbsoluteTarget, MissingHostIsFine) {
  auto d = absolute_target(get("http://example.com/a"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->host, "example.com");
}

TEST(AbsoluteTarget, Ipv6Literal) {
  auto d = absolute_target(get("http://[2606:4700::1111]:8080/"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->host, "2606:4700::1111");
  EXPECT_EQ(d->port, 8080);
}

TEST(AbsoluteTarget, HttpsMustUseConnect) {
  for (const char* t : {"https://example.com/", "HTTPS://example.com/"}) {
    auto d = absolute_target(get(t, {{"Host", "example.com"}}));
    ASSERT_FALSE(d) << t;
    EXPECT_EQ(d.error().message(), "https:// requests must use CONNECT (set HTTPS_PROXY, not only HTTP_PROXY)");
  }
}

TEST(AbsoluteTarget, OriginFormRefused) {
  auto d = absolute_target(get("/index.html", {{"Host", "example.com"}}));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "a proxy request needs an absolute http:// URI (is HTTP_PROXY set?)");
  EXPECT_FALSE(absolute_target(get("ftp://example.com/")));
}

TEST(AbsoluteTarget, UserinfoRefused) {
  for (const char* t : {"http://user:pw@example.com/", "http://user@example.com/", "http://a@b@example.com/"}) {
    auto d = absolute_target(get(t));
    ASSERT_FALSE(d) << t;
    EXPECT_EQ(d.error().message(), "userinfo in the request URI is refused");
  }
  // An '@' after the authority is part of the path.
  EXPECT_TRUE(absolute_target(get("http://example.com/a@b")));
}

TEST(AbsoluteTarget, HostMismatchRefused) {
  for (const char* host : {"other.com", "example.com:8080", "exa mple.com", ""}) {
    auto d = absolute_target(get("http://example.com/", {{"Host", host}}));
    ASSERT_FALSE(d) << host;
    EXPECT_EQ(d.error().message(), "the Host header does not match the request URI");
  }
}

TEST(AbsoluteTarget, BadPortsRefused) {
  for (const char* t : {"http://example.com:/", "http://example.com:0/", "http://example.com:65536/",
                        "http://example.com:8x/", "http://[::1]x/", "http://[::1/"}) {
    EXPECT_FALSE(absolute_target(get(t))) << t;
  }
}

// transparent_target ---------------------------------------------------------

TEST(TransparentTarget, RoutedByHostOnTheDialledPort) {
  for (const char* host : {"api.example.com", "api.example.com:80", "API.Example.com."}) {
    auto d = transparent_target(get("/v1/x?y#frag", {{"Host", host}}), 80);
    ASSERT_TRUE(d) << host << ": " << d.error().message();
    EXPECT_EQ(d->host, "api.example.com");
    EXPECT_EQ(d->port, 80);
    EXPECT_EQ(d->path, "/v1/x?y");
  }
  auto abs = transparent_target(get("http://api.example.com/a", {{"Host", "api.example.com"}}), 80);
  ASSERT_TRUE(abs) << abs.error().message();
  EXPECT_EQ(abs->path, "/a");
}

TEST(TransparentTarget, AnotherPortIsMisdirectedAndNoHostIsMalformed) {
  auto port = transparent_target(get("/", {{"Host", "api.example.com:8080"}}), 80);
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().code(), Errc::invalid);
  EXPECT_THAT(port.error().message(), ::testing::HasSubstr("came to port 80"));
  auto none = transparent_target(get("/"), 80);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::usage);
  // An absolute target that disagrees with the Host, or userinfo: malformed.
  EXPECT_EQ(transparent_target(get("http://other.test/", {{"Host", "api.example.com"}}), 80).error().code(), Errc::usage);
  EXPECT_FALSE(transparent_target(get("http://u@api.example.com/", {{"Host", "api.example.com"}}), 80));
  EXPECT_FALSE(transparent_target(get("*", {{"Host", "api.example.com"}}), 80));
}

// origin_target --------------------------------------------------------------

TEST(OriginTarget, MatchingHost) {
  for (const char* host : {"api.example.com", "api.example.com:443", "API.Example.com."}) {
    auto d = origin_target(get("/v1/x?y", {{"Host", host}}), "api.example.com", 443);
    ASSERT_TRUE(d) << host << ": " << d.error().message();
    EXPECT_EQ(d->host, "api.example.com");
    EXPECT_EQ(d->port, 443);
    EXPECT_EQ(d->path, "/v1/x?y");
  }
  auto other_port = origin_target(get("/", {{"Host", "api.example.com:8443"}}), "api.example.com", 8443);
  ASSERT_TRUE(other_port);
  EXPECT_EQ(other_port->port, 8443);
}

TEST(OriginTarget, MismatchIsInvalid) {
  for (const char* host : {"evil.com", "api.example.com:8443", "api.example.com.evil.com"}) {
    auto d = origin_target(get("/", {{"Host", host}}), "api.example.com", 443);
    ASSERT_FALSE(d) << host;
    EXPECT_EQ(d.error().code(), Errc::invalid) << host;
  }
  // Tunnel on 8443: a Host without a port means 8443, a Host naming 443 does not.
  EXPECT_FALSE(origin_target(get("/", {{"Host", "api.example.com:443"}}), "api.example.com", 8443));
}

TEST(OriginTarget, MissingHostIsInvalid) {
  auto d = origin_target(get("/"), "api.example.com", 443);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), Errc::invalid);
  EXPECT_EQ(d.error().message(), "request has no Host header");
}

TEST(OriginTarget, AbsoluteHttpsFormInsideTheTunnel) {
  auto d = origin_target(get("https://API.example.com/x?q"), "api.example.com", 443);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->host, "api.example.com");
  EXPECT_EQ(d->port, 443);
  EXPECT_EQ(d->path, "/x?q");
  auto bare = origin_target(get("https://api.example.com"), "api.example.com", 443);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  auto query = origin_target(get("https://api.example.com?q=1"), "api.example.com", 443);
  ASSERT_TRUE(query);
  EXPECT_EQ(query->path, "/?q=1") << "an origin-form target starts with /";
  EXPECT_TRUE(origin_target(get("https://api.example.com:8443/"), "api.example.com", 8443));

  auto other = origin_target(get("https://evil.com/x", {{"Host", "api.example.com"}}), "api.example.com", 443);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::invalid);
  EXPECT_FALSE(origin_target(get("https://api.example.com:8443/"), "api.example.com", 443));
}

TEST(OriginTarget, OtherFormsAreMalformed) {
  for (const char* t : {"http://api.example.com/", "*", "api.example.com:443"}) {
    auto d = origin_target(get(t, {{"Host", "api.example.com"}}), "api.example.com", 443);
    ASSERT_FALSE(d) << t;
    EXPECT_EQ(d.error().code(), Errc::usage) << t;
  }
}

// connect_target -------------------------------------------------------------

Request connect(std::string_view target) { return make_request(http::verb::connect, target, {}); }

TEST(ConnectTarget, HostAndPort) {
  auto d = connect_target(connect("API.example.com:8443"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->host, "api.example.com");
  EXPECT_EQ(d->port, 8443);
  auto v6 = connect_target(connect("[2606:4700::1111]:443"));
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->host, "2606:4700::1111");
  EXPECT_EQ(v6->port, 443);
}

TEST(ConnectTarget, MissingPortRefused) {
  for (const char* t : {"api.example.com", "[::1]", "api.example.com:", ""}) {
    EXPECT_FALSE(connect_target(connect(t))) << t;
  }
  EXPECT_EQ(connect_target(connect("api.example.com")).error().message(), "CONNECT needs host:port");
}

TEST(ConnectTarget, PathAndUserinfoRefused) {
  for (const char* t : {"api.example.com:443/", "http://api.example.com:443", "user@api.example.com:443",
                        "api.example.com:99999", "api.example.com:0"}) {
    EXPECT_FALSE(connect_target(connect(t))) << t;
  }
  EXPECT_EQ(connect_target(connect("api.example.com:443/x")).error().message(), "CONNECT needs host:port");
}

}  // namespace
}  // namespace brig::warden

namespace brig::warden {
namespace {

TEST(Targets, FragmentIsDropped) {
  auto abs = absolute_target(get("http://example.com/a#frag"));
  ASSERT_TRUE(abs) << abs.error().message();
  EXPECT_EQ(abs->path, "/a");
  auto origin = origin_target(get("/b?x=1#frag", {{"Host", "example.com"}}), "example.com", 443);
  ASSERT_TRUE(origin) << origin.error().message();
  EXPECT_EQ(origin->path, "/b?x=1");
}

}  // namespace
}  // namespace brig::warden
