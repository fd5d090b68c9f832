#include "brig/core/hostname.h"

#include <gtest/gtest.h>

#include <string>

namespace brig::hostname {
namespace {

// The canonical form, or "ERR" when the host is refused.
std::string norm(std::string_view host) {
  auto r = normalize(host);
  return r ? *r : std::string("ERR");
}

Pattern pattern(std::string_view text) {
  auto p = Pattern::parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p ? "" : p.error().message());
  return p ? *p : Pattern{};
}

std::string labels(int n, std::size_t len) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += '.';
    out += std::string(len, 'a');
  }
  return out;
}

TEST(HostnameTest, LowercasesAscii) {
  EXPECT_EQ(norm("API.GitHub.COM"), "api.github.com");
  EXPECT_EQ(norm("a-b_c.example"), "a-b_c.example");
}

TEST(HostnameTest, DropsOneTrailingDotOnly) {
  EXPECT_EQ(norm("api.github.com."), "api.github.com");
  EXPECT_EQ(norm("api.github.com.."), "ERR");
  EXPECT_EQ(norm("."), "ERR");
}

TEST(HostnameTest, ConvertsIdnToPunycode) {
  EXPECT_EQ(norm("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("BÜCHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("Bücher.EXAMPLE."), "xn--bcher-kva.example");
  EXPECT_EQ(norm("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("bücher.example.."), "ERR");
}

TEST(HostnameTest, RefusesUserinfoControlAndSpace) {
  EXPECT_EQ(norm("user@example.com"), "ERR");
  EXPECT_EQ(norm("user:pw@example.com"), "ERR");
  EXPECT_EQ(norm("exa\nmple.com"), "ERR");
  EXPECT_EQ(norm(std::string_view("exa\0mple.com", 12)), "ERR");
  EXPECT_EQ(norm("exa\x7fmple.com"), "ERR");
  EXPECT_EQ(norm("exa mple.com"), "ERR");
  EXPECT_EQ(norm(""), "ERR");
}

TEST(HostnameTest, RefusesBadLabelsAndCharacters) {
  EXPECT_EQ(norm("a..example.com"), "ERR");
  EXPECT_EQ(norm(".example.com"), "ERR");
  EXPECT_EQ(norm("exa/mple.com"), "ERR");
  EXPECT_EQ(norm("exa*mple.com"), "ERR");
  EXPECT_EQ(norm("example.com:443"), "ERR");
}

TEST(HostnameTest, LabelLimitIs63) {
  EXPECT_EQ(norm(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
  EXPECT_EQ(norm(std::string(64, 'a') + ".com"), "ERR");
}

TEST(HostnameTest, NameLimitIs253) {
  // 3 x 63 + 61 + 3 dots = 253.
  const std::string max = labels(3, 63) + "." + std::string(61, 'b');
  ASSERT_EQ(max.size(), 253u);
  EXPECT_EQ(norm(max), max);
  EXPECT_EQ(norm(max + "."), max);  // the trailing dot does not count
  EXPECT_EQ(norm(max + "b"), "ERR");
}

TEST(HostnameTest, RecognisesEveryIpv4Spelling) {
  for (const char* h : {"127.0.0.1", "127.1", "0x7f.1", "0x7F.0.0.1", "2130706433", "0177.0.0.1", "0x7f000001",
                        "10.0.0.1"}) {
    EXPECT_TRUE(is_ip_literal(h)) << h;
    EXPECT_NE(norm(h), "ERR") << h;
  }
  // glibc reads leading zeros as octal, however many there are.
  const std::string zeros = std::string(300, '0') + "177.0.0.1";
  EXPECT_TRUE(is_ip_literal(zeros));
  EXPECT_TRUE(is_ip_literal(std::string(300, '0') + "1"));
  EXPECT_TRUE(is_ip_literal("1.2.3.999"));  // numeric last label: an IPv4, if malformed
  EXPECT_EQ(norm("1.2.3.999"), "ERR");
  EXPECT_EQ(norm("example.123"), "ERR");
}

TEST(HostnameTest, RecognisesIpv6Literals) {
  for (const char* h : {"[::1]", "::1", "::ffff:127.0.0.1", "[::FFFF:127.0.0.1]", "2001:db8::1"}) {
    EXPECT_TRUE(is_ip_literal(h)) << h;
  }
  EXPECT_EQ(norm("[::1]"), "::1");
  EXPECT_EQ(norm("[::FFFF:127.0.0.1]"), "::ffff:127.0.0.1");
  EXPECT_EQ(norm("[::1"), "ERR");
  EXPECT_EQ(norm("[example.com]"), "ERR");
  EXPECT_EQ(norm("fe80::1%eth0"), "ERR");
}

TEST(HostnameTest, DomainsAreNotIpLiterals) {
  for (const char* h : {"example.com", "127.0.0.1.example.com", "0x7f.example", "xn--bcher-kva.example"}) {
    EXPECT_FALSE(is_ip_literal(h)) << h;
  }
}

TEST(HostnameTest, MapsUnicodeLookalikesBeforeClassifying) {
  // UTS #46 maps fullwidth forms and ideographic full stops to ASCII; the
  // result is classified after conversion, so this is still an IP literal.
  EXPECT_EQ(norm("１２７.０.０.１"), "127.0.0.1");
  EXPECT_TRUE(is_ip_literal(norm("１２７.０.０.１")));
  EXPECT_EQ(norm("example。com"), "example.com");
  EXPECT_EQ(norm("ＥＸＡＭＰＬＥ.com"), "example.com");
}

TEST(HostnameTest, NormalizeIntoReusesTheBuffer) {
  std::string out = "garbage that must go";
  ASSERT_TRUE(normalize_into("Example.COM.", out));
  EXPECT_EQ(out, "example.com");
  EXPECT_FALSE(normalize_into("a..b", out));
}

TEST(PatternTest, ParsesExactAndWildcard) {
  auto exact = pattern("API.Example.COM.");
  EXPECT_FALSE(exact.wildcard);
  EXPECT_EQ(exact.domain, "api.example.com");
  EXPECT_EQ(exact.str(), "api.example.com");
  auto wild = pattern("*.Example.com");
  EXPECT_TRUE(wild.wildcard);
  EXPECT_EQ(wild.domain, "example.com");
  EXPECT_EQ(wild.str(), "*.example.com");
  EXPECT_EQ(pattern("bücher.example").domain, "xn--bcher-kva.example");
}

TEST(PatternTest, RefusesMisplacedStarsIpsAndOneLabelWildcards) {
  for (const char* t : {"*", "*.", "*.com", "a.*.com", "*.*.x.com", "x*.com", "127.0.0.1", "*.127.0.0.1", "[::1]",
                        "2130706433", "user@x.com", "", "a..com"}) {
    EXPECT_FALSE(Pattern::parse(t).ok()) << t;
  }
}

// The one host[:port] parser -----------------------------------------------

Authority authority(std::string_view text, std::uint16_t default_port = 443) {
  auto a = parse_authority(text, default_port);
  EXPECT_TRUE(a.ok()) << text << ": " << (a ? "" : a.error().message());
  return a ? *a : Authority{};
}

std::string authority_error(std::string_view text) {
  auto a = parse_authority(text, 443);
  EXPECT_FALSE(a.ok()) << text << " parsed as " << (a ? a->host : "");
  if (a) return "";
  EXPECT_EQ(a.error().code(), Errc::usage) << text;
  return a.error().message();
}

TEST(ParseAuthorityTest, HostAndOptionalPort) {
  auto a = authority("API.Example.com.", 443);
  EXPECT_EQ(a.host, "api.example.com");
  EXPECT_EQ(a.port, 443);
  EXPECT_FALSE(a.port_given);
  a = authority("api.example.com:8443", 80);
  EXPECT_EQ(a.host, "api.example.com");
  EXPECT_EQ(a.port, 8443);
  EXPECT_TRUE(a.port_given);
  EXPECT_EQ(authority("bücher.example:1").host, "xn--bcher-kva.example");
  EXPECT_EQ(authority("x.com:65535").port, 65535);
  EXPECT_EQ(authority("127.0.0.1:80").host, "127.0.0.1");
}

TEST(ParseAuthorityTest, BracketedIpv6) {
  auto a = authority("[2001:DB8::1]:8443");
  EXPECT_EQ(a.host, "2001:db8::1");
  EXPECT_EQ(a.port, 8443);
  EXPECT_EQ(authority("[::1]", 80).host, "::1");
  EXPECT_EQ(authority("[::1]", 80).port, 80);
}

TEST(ParseAuthorityTest, ClearErrors) {
  EXPECT_EQ(authority_error(""), "no host in \"\"");
  EXPECT_EQ(authority_error(":443"), "no host in \":443\"");
  EXPECT_EQ(authority_error("[]:443"), "no host in \"[]:443\"");
  EXPECT_EQ(authority_error("x.com:"), "empty port in \"x.com:\"");
  EXPECT_EQ(authority_error("[::1]:"), "empty port in \"[::1]:\"");
  for (const char* t : {"x.com:0", "x.com:65536", "x.com:http", "x.com:-1", "x.com:+1", "x.com:99999999999"}) {
    EXPECT_EQ(authority_error(t), "invalid port in \"" + std::string(t) + "\"");
  }
  EXPECT_EQ(parse_authority("x.com:0", 443).error().fix(), "use a port from 1 to 65535");
  EXPECT_EQ(authority_error("[::1"), "unterminated IPv6 literal in \"[::1\"");
  EXPECT_EQ(authority_error("[::1]x"), "unexpected text after ']' in \"[::1]x\"");
  EXPECT_EQ(authority_error("2001:db8::1"),
            "an IPv6 address needs brackets: write [ADDR] or [ADDR]:PORT, not \"2001:db8::1\"");
  EXPECT_EQ(authority_error("[nothex]:80"), "invalid host \"[nothex]\": invalid IPv6 address");
  EXPECT_EQ(authority_error("a b.com:80"), "invalid host \"a b.com\": host contains a control character or space");
  EXPECT_EQ(authority_error("user@x.com"),
            "invalid host \"user@x.com\": host contains userinfo ('@'); remove the user:password@ part");
}

TEST(SplitAuthorityTest, KeepsTheHostAsWrittenAndAllowsPortZeroOnRequest) {
  auto a = split_authority("*.X.com:8443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "*.X.com");
  EXPECT_EQ(*a->port, 8443);
  auto v6 = split_authority("[::1]:0", {.min = 0});
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->bare(), "::1");
  EXPECT_EQ(*v6->port, 0);
  EXPECT_FALSE(split_authority("[::1]:0"));
  EXPECT_FALSE(split_authority("x.com")->port);
}

// The Public Suffix List (libpsl), not a label count: "*.co.uk" is as wide as "*.com".
TEST(PatternTest, RefusesWildcardsOnAPublicSuffix) {
  for (const char* t : {"*.co.uk", "*.github.io", "*.CO.UK.", "*.s3.amazonaws.com", "*.com.au", "*.рф"}) {
    auto p = Pattern::parse(t);
    EXPECT_FALSE(p.ok()) << t;
  }
  EXPECT_EQ(Pattern::parse("*.co.uk").error().message(),
            "a wildcard must name a domain below a public suffix (*.example.co.uk, not *.co.uk)");
  EXPECT_EQ(Pattern::parse("*.github.io").error().message(),
            "a wildcard must name a domain below a public suffix (*.example.github.io, not *.github.io)");
  // One label keeps its own message.
  EXPECT_EQ(Pattern::parse("*.com").error().message(),
            "a wildcard must name at least a two-label domain (*.example.com, not *.com)");
  // Below a suffix is fine, and exact hosts may be suffixes (a site can live there).
  for (const char* t : {"*.example.co.uk", "*.brig.github.io", "*.amazonaws.com", "*.bench.test", "*.corp.internal",
                        "co.uk", "github.io"}) {
    EXPECT_TRUE(Pattern::parse(t).ok()) << t;
  }
}

TEST(PublicSuffixTest, ListedSuffixesOnly) {
  EXPECT_TRUE(is_public_suffix("com"));
  EXPECT_TRUE(is_public_suffix("co.uk"));
  EXPECT_TRUE(is_public_suffix("github.io"));
  EXPECT_TRUE(is_public_suffix("xn--p1ai"));
  EXPECT_FALSE(is_public_suffix("example.co.uk"));
  EXPECT_FALSE(is_public_suffix("internal"));  // unlisted: not by the implicit "*" rule
  EXPECT_FALSE(is_public_suffix(""));
}

TEST(PatternTest, ExactMatchesOnlyThatHost) {
  auto p = pattern("x.com");
  EXPECT_TRUE(p.matches("x.com"));
  EXPECT_FALSE(p.matches("a.x.com"));
  EXPECT_FALSE(p.matches("evilx.com"));
  EXPECT_FALSE(p.matches("x.com.evil"));
}

TEST(PatternTest, WildcardMatchesSubdomainsAtAnyDepthOnly) {
  auto p = pattern("*.x.com");
  EXPECT_TRUE(p.matches("a.x.com"));
  EXPECT_TRUE(p.matches("a.b.x.com"));
  EXPECT_FALSE(p.matches("x.com"));
  EXPECT_FALSE(p.matches("evilx.com"));
  EXPECT_FALSE(p.matches(".x.com"));
  EXPECT_FALSE(p.matches("a.x.com.evil"));
}

TEST(PatternTest, Covers) {
  EXPECT_TRUE(pattern("*.x.com").covers(pattern("a.x.com")));
  EXPECT_TRUE(pattern("*.x.com").covers(pattern("*.a.x.com")));
  EXPECT_TRUE(pattern("*.x.com").covers(pattern("*.x.com")));
  EXPECT_FALSE(pattern("*.x.com").covers(pattern("x.com")));
  EXPECT_FALSE(pattern("a.x.com").covers(pattern("*.x.com")));
  EXPECT_TRUE(pattern("a.x.com").covers(pattern("A.X.com")));
  EXPECT_FALSE(pattern("*.a.x.com").covers(pattern("*.x.com")));
}

}  // namespace
}  // namespace brig::hostname
