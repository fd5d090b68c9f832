// Policy::compile and evaluate: host matching, ports, IP literals, deny over
// allow, global and cell layers. Paths and methods are in policy_paths_test.cc.
#include "brig/policy/policy.h"

#include <gtest/gtest.h>

#include <string>

#include "brig/spec/parse.h"
#include "unit/policy/policy_test_util.h"

namespace brig::policy {
namespace {

using testing::Allowed;
using testing::block;
using testing::compile;
using testing::connect;
using testing::Denied;
using testing::request;

TEST(PolicyTest, EmptyPolicyDeniesEverythingByDefault) {
  auto p = compile("{}");
  EXPECT_EQ(p.allow_count(), 0u);
  auto v = connect(p, "example.com");
  EXPECT_TRUE(Denied(v, Reason::no_rule));
  EXPECT_EQ(v.rule, "default deny");
  EXPECT_TRUE(Denied(request(p, "example.com", "GET", "/"), Reason::no_rule));
}

TEST(PolicyTest, UnlistedHostIsDeniedWithDefaultDeny) {
  auto p = compile("allow: [api.github.com]");
  auto v = connect(p, "github.com");
  EXPECT_TRUE(Denied(v, Reason::no_rule));
  EXPECT_EQ(v.rule, "default deny");
  EXPECT_EQ(reason_text(v.reason), "default deny: no allow rule matches the host");
}

TEST(PolicyTest, AllowedVerdictCarriesTheRuleWithItsOrigin) {
  auto p = compile("allow:\n  - api.github.com\n");
  auto v = connect(p, "api.github.com");
  EXPECT_TRUE(Allowed(v));
  EXPECT_EQ(v.rule, "allow api.github.com (global.yaml:2)");
  EXPECT_EQ(reason_text(v.reason), "allowed by rule");
}

TEST(PolicyTest, RuleDisplayShowsPortMethodsAndPaths) {
  auto p = compile("allow:\n  - {domain: API.example.com:8443, paths: [\"/v1/*\"], methods: [GET, POST]}\n");
  auto v = request(p, "api.example.com", "GET", "/v1/x", 8443);
  EXPECT_TRUE(Allowed(v));
  EXPECT_EQ(v.rule, "allow api.example.com:8443 methods=[GET,POST] paths=[/v1/*] (global.yaml:2)");
}

TEST(PolicyTest, HostMatchingIsCaseInsensitive) {
  auto p = compile("allow: [API.GitHub.com]");
  EXPECT_TRUE(Allowed(connect(p, "api.github.com")));
  EXPECT_TRUE(Allowed(connect(p, "API.GITHUB.COM")));
  EXPECT_TRUE(Allowed(connect(p, "aPi.GiThUb.CoM")));
}

TEST(PolicyTest, OneTrailingDotIsIgnoredButNotTwo) {
  auto p = compile("allow: [api.github.com]");
  EXPECT_TRUE(Allowed(connect(p, "api.github.com.")));
  EXPECT_TRUE(Denied(connect(p, "api.github.com.."), Reason::invalid_host));
  auto q = compile("allow: [api.github.com.]");
  EXPECT_TRUE(Allowed(connect(q, "api.github.com")));
}

TEST(PolicyTest, UnicodeRuleMatchesPunycodeRequest) {
  auto p = compile("allow: [bücher.example]");
  EXPECT_TRUE(Allowed(connect(p, "xn--bcher-kva.example")));
  EXPECT_TRUE(Allowed(connect(p, "XN--BCHER-KVA.EXAMPLE")));
  EXPECT_TRUE(Allowed(connect(p, "bücher.example")));
  EXPECT_TRUE(Allowed(connect(p, "BÜCHER.EXAMPLE")));
  EXPECT_TRUE(Denied(connect(p, "bucher.example"), Reason::no_rule));
}

TEST(PolicyTest, PunycodeRuleMatchesUnicodeRequest) {
  auto p = compile("allow: [xn--bcher-kva.example]");
  EXPECT_TRUE(Allowed(connect(p, "bücher.example")));
  EXPECT_TRUE(Allowed(connect(p, "BÜCHER.example.")));
  EXPECT_TRUE(Allowed(connect(p, "xn--bcher-kva.example")));
}

TEST(PolicyTest, IdnWildcard) {
  auto p = compile("allow: [\"*.bücher.example\"]");
  EXPECT_TRUE(Allowed(connect(p, "shop.xn--bcher-kva.example")));
  EXPECT_TRUE(Allowed(connect(p, "Shop.BÜCHER.example")));
  EXPECT_TRUE(Denied(connect(p, "bücher.example"), Reason::no_rule));
}

TEST(PolicyTest, WildcardMatchesSubdomainsAtAnyDepth) {
  auto p = compile("allow: [\"*.x.com\"]");
  EXPECT_TRUE(Allowed(connect(p, "a.x.com")));
  EXPECT_TRUE(Allowed(connect(p, "a.b.x.com")));
  EXPECT_TRUE(Allowed(connect(p, "A.B.X.COM.")));
  EXPECT_EQ(connect(p, "a.b.x.com").rule, "allow *.x.com (global.yaml:1)");
}

TEST(PolicyTest, WildcardDoesNotMatchTheApexOrLookalikes) {
  auto p = compile("allow: [\"*.x.com\"]");
  EXPECT_TRUE(Denied(connect(p, "x.com"), Reason::no_rule));
  EXPECT_TRUE(Denied(connect(p, "evilx.com"), Reason::no_rule));
  EXPECT_TRUE(Denied(connect(p, "a.evilx.com"), Reason::no_rule));
  EXPECT_TRUE(Denied(connect(p, "x.com.evil.net"), Reason::no_rule));
  EXPECT_TRUE(Denied(connect(p, "a.x.co"), Reason::no_rule));
}

TEST(PolicyTest, ExactRuleDoesNotMatchSubdomains) {
  auto p = compile("allow: [x.com]");
  EXPECT_TRUE(Allowed(connect(p, "x.com")));
  EXPECT_TRUE(Denied(connect(p, "a.x.com"), Reason::no_rule));
  EXPECT_TRUE(Denied(connect(p, "evilx.com"), Reason::no_rule));
}

TEST(PolicyTest, RuleWithoutPortAllowsOnly80And443) {
  auto p = compile("allow: [api.github.com]");
  EXPECT_TRUE(Allowed(connect(p, "api.github.com", 443)));
  EXPECT_TRUE(Allowed(connect(p, "api.github.com", 80)));
  EXPECT_TRUE(Allowed(request(p, "api.github.com", "GET", "/", 80)));
  for (std::uint16_t port : {8443, 8080, 22, 1, 65535}) {
    auto v = connect(p, "api.github.com", port);
    EXPECT_TRUE(Denied(v, Reason::port_not_allowed)) << port;
    EXPECT_EQ(v.rule, "default deny");
  }
  EXPECT_EQ(reason_text(Reason::port_not_allowed), "the host is allowed, but not on this port");
}

TEST(PolicyTest, RuleWithPortAllowsExactlyThatPort) {
  auto p = compile("allow: [\"registry.internal:8443\"]");
  EXPECT_TRUE(Allowed(connect(p, "registry.internal", 8443)));
  EXPECT_EQ(connect(p, "registry.internal", 8443).rule, "allow registry.internal:8443 (global.yaml:1)");
  EXPECT_TRUE(Denied(connect(p, "registry.internal", 443), Reason::port_not_allowed));
  EXPECT_TRUE(Denied(connect(p, "registry.internal", 80), Reason::port_not_allowed));
  EXPECT_TRUE(Denied(connect(p, "registry.internal", 8444), Reason::port_not_allowed));
}

TEST(PolicyTest, SameHostOnSeveralPorts) {
  auto p = compile("allow: [\"h.example:8443\", h.example]");
  EXPECT_TRUE(Allowed(connect(p, "h.example", 8443)));
  EXPECT_TRUE(Allowed(connect(p, "h.example", 443)));
  EXPECT_TRUE(Denied(connect(p, "h.example", 9000), Reason::port_not_allowed));
}

TEST(PolicyTest, WildcardRuleWithPort) {
  auto p = compile("allow: [\"*.svc.example:8443\"]");
  EXPECT_TRUE(Allowed(connect(p, "a.svc.example", 8443)));
  EXPECT_TRUE(Denied(connect(p, "a.svc.example", 443), Reason::port_not_allowed));
}

TEST(PolicyTest, IpLiteralsNeverMatchDomainRules) {
  auto p = compile("allow: [\"*.example.com\", localhost, \"*.0.127.in-addr.arpa\"]");
  for (std::string_view host : {"127.0.0.1", "127.1", "0x7f.1", "0X7F.1", "2130706433", "0177.0.0.1", "0x7f000001",
                                "[::1]", "::1", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "127.0.0.1.", "10.0.0.1",
                                "169.254.169.254", "１２７.０.０.１"}) {
    auto v = connect(p, host);
    EXPECT_TRUE(Denied(v, Reason::ip_literal)) << host;
    EXPECT_EQ(v.rule, "default deny") << host;
    EXPECT_TRUE(Denied(request(p, host, "GET", "/"), Reason::ip_literal)) << host;
  }
  EXPECT_EQ(reason_text(Reason::ip_literal), "IP addresses never match domain rules");
}

TEST(PolicyTest, IpRulesAreRefused) {
  for (std::string_view yaml : {"allow: [127.0.0.1]", "allow: [\"[::1]\"]", "allow: [2130706433]",
                                "deny: [10.0.0.1]"}) {
    auto b = spec::parse_policy(yaml, "global.yaml");
    if (!b) continue;  // refused while parsing is fine too
    EXPECT_FALSE(Policy::compile(*b, nullptr).ok()) << yaml;
  }
}

TEST(PolicyTest, InvalidHostsAreDenied) {
  auto p = compile("allow: [example.com, \"*.example.com\"]");
  const std::string long_label = std::string(64, 'a') + ".example.com";
  std::string long_name;
  while (long_name.size() < 250) long_name += "abcdefghi.";
  long_name += "example.com";
  for (std::string_view host : {std::string_view("user@example.com"), std::string_view("user:pw@example.com"),
                                std::string_view("a@b.example.com"), std::string_view("exa\nmple.com"),
                                std::string_view("example.com\r"), std::string_view("a b.example.com"),
                                std::string_view("a..example.com"), std::string_view(".example.com"),
                                std::string_view("example.com.."), std::string_view(""), std::string_view("."),
                                std::string_view(long_label), std::string_view(long_name),
                                std::string_view("a/b.example.com"), std::string_view("*.example.com"),
                                std::string_view("example.com:443"), std::string_view("1.2.3.999"),
                                std::string_view("%65xample.com"), std::string_view("a\\.example.com")}) {
    auto v = connect(p, host);
    EXPECT_TRUE(Denied(v, Reason::invalid_host)) << host;
    EXPECT_EQ(v.rule, "default deny") << host;
  }
  EXPECT_TRUE(Denied(connect(p, std::string_view("a\0.example.com", 14)), Reason::invalid_host));
}

TEST(PolicyTest, LongestValidNamesAreAccepted) {
  const std::string label63 = std::string(63, 'a') + ".example.com";
  std::string name253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + ".";
  name253 += std::string(253 - name253.size() - 12, 'd') + ".example.com";
  ASSERT_EQ(name253.size(), 253u);
  auto p = compile("allow: [\"*.example.com\"]");
  EXPECT_TRUE(Allowed(connect(p, label63)));
  EXPECT_TRUE(Allowed(connect(p, name253)));
  EXPECT_TRUE(Denied(connect(p, "e" + name253), Reason::invalid_host));
}

TEST(PolicyTest, DenyWinsOverAllow) {
  auto p = compile("allow: [evil.example]\ndeny:\n  - evil.example\n");
  auto v = connect(p, "evil.example");
  EXPECT_TRUE(Denied(v, Reason::denied_by_rule));
  EXPECT_EQ(v.rule, "deny evil.example (global.yaml:3)");
  EXPECT_TRUE(Denied(request(p, "EVIL.example.", "GET", "/"), Reason::denied_by_rule));
  EXPECT_EQ(reason_text(Reason::denied_by_rule), "denied by a deny rule");
}

TEST(PolicyTest, WildcardDenyBeatsExactAllow) {
  auto p = compile("allow: [a.x.com, \"b.x.com:8443\", x.com]\ndeny: [\"*.x.com\"]");
  EXPECT_TRUE(Denied(connect(p, "a.x.com"), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(connect(p, "b.x.com", 8443), Reason::denied_by_rule));
  EXPECT_EQ(connect(p, "a.x.com").rule, "deny *.x.com (global.yaml:2)");
  EXPECT_TRUE(Allowed(connect(p, "x.com")));  // the wildcard does not cover the apex
}

TEST(PolicyTest, ExactDenyCarvesOutOfWildcardAllow) {
  auto p = compile("allow: [\"*.x.com\"]\ndeny: [bad.x.com]");
  EXPECT_TRUE(Allowed(connect(p, "good.x.com")));
  EXPECT_TRUE(Denied(connect(p, "bad.x.com"), Reason::denied_by_rule));
  EXPECT_TRUE(Allowed(connect(p, "a.bad.x.com")));  // an exact deny is exact
}

TEST(PolicyTest, DenyAppliesOnEveryPort) {
  auto p = compile("allow: [\"h.example:8443\"]\ndeny: [h.example]");
  EXPECT_TRUE(Denied(connect(p, "h.example", 8443), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(connect(p, "h.example", 9999), Reason::denied_by_rule));
}

TEST(PolicyTest, IdnDenyMatchesPunycodeRequest) {
  auto p = compile("allow: [\"*.shop.example\"]\ndeny: [bücher.shop.example]");
  EXPECT_TRUE(Denied(connect(p, "xn--bcher-kva.shop.example"), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(connect(p, "BÜCHER.shop.example."), Reason::denied_by_rule));
  EXPECT_TRUE(Allowed(connect(p, "buecher.shop.example")));
}

TEST(PolicyTest, AllowIsTheUnionOfGlobalAndCell) {
  auto p = compile("allow: [global.example]", "allow: [cell.example]");
  EXPECT_EQ(p.allow_count(), 2u);
  EXPECT_TRUE(Allowed(connect(p, "global.example")));
  EXPECT_TRUE(Allowed(connect(p, "cell.example")));
  EXPECT_EQ(connect(p, "cell.example").rule, "allow cell.example (cell.yaml:1)");
  EXPECT_TRUE(Denied(connect(p, "other.example"), Reason::no_rule));
}

TEST(PolicyTest, DenyIsTheUnionOfGlobalAndCell) {
  auto p = compile("allow: [\"*.corp.example\"]\ndeny: [g.corp.example]", "deny: [c.corp.example]");
  EXPECT_EQ(p.deny_count(), 2u);
  EXPECT_TRUE(Denied(connect(p, "g.corp.example"), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(connect(p, "c.corp.example"), Reason::denied_by_rule));
  EXPECT_EQ(connect(p, "c.corp.example").rule, "deny c.corp.example (cell.yaml:1)");
  EXPECT_TRUE(Allowed(connect(p, "ok.corp.example")));
}

TEST(PolicyTest, GlobalDenyBeatsCellAllowAndViceVersa) {
  auto p = compile("deny: [blocked.example]\nallow: [cellblocked.example]",
                   "allow: [blocked.example]\ndeny: [cellblocked.example]");
  EXPECT_TRUE(Denied(connect(p, "blocked.example"), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(connect(p, "cellblocked.example"), Reason::denied_by_rule));
}

TEST(PolicyTest, AirgappedAllowsNothing) {
  auto p = compile("allow: [api.github.com, \"*.x.com\"]", "allow: [cell.example]", Options{.airgapped = true});
  EXPECT_TRUE(p.airgapped());
  for (std::string_view host : {"api.github.com", "a.x.com", "cell.example", "127.0.0.1", "bad..host"}) {
    auto v = connect(p, host);
    EXPECT_TRUE(Denied(v, Reason::airgapped)) << host;
    EXPECT_EQ(v.rule, "default deny");
    EXPECT_TRUE(Denied(request(p, host, "GET", "/"), Reason::airgapped)) << host;
  }
  EXPECT_EQ(reason_text(Reason::airgapped), "the cell is airgapped: no egress at all");
}

TEST(PolicyTest, CompileRefusesInvalidRules) {
  for (std::string_view yaml : {"allow: [\"*.com\"]", "allow: [\"a.*.com\"]", "allow: [\"*\"]", "deny: [\"a..b\"]",
                                "allow:\n  - {domain: h.example, paths: [v1]}\n",
                                "allow:\n  - {domain: h.example, methods: [get]}\n"}) {
    auto b = spec::parse_policy(yaml, "global.yaml");
    if (!b) continue;  // refused while parsing
    auto p = Policy::compile(*b, nullptr);
    EXPECT_FALSE(p.ok()) << yaml;
    if (!p) {
      EXPECT_EQ(p.error().code(), Errc::invalid) << yaml;
    }
  }
}

TEST(PolicyTest, CompileChecksBlocksBuiltInCode) {
  spec::PolicyBlock b;
  b.allow.push_back({"*.com", std::nullopt, {}, {}, {}});
  EXPECT_FALSE(Policy::compile(b, nullptr).ok());
  spec::PolicyBlock c;
  c.deny.push_back({"127.0.0.1", {}});
  EXPECT_FALSE(Policy::compile(spec::PolicyBlock{}, &c).ok());
}

TEST(PolicyTest, VerdictRuleOutlivesTheRequestBuffers) {
  auto p = compile("allow: [h.example]");
  std::string host = "H.EXAMPLE";
  auto v = connect(p, host);
  host.assign(100, 'z');
  EXPECT_EQ(v.rule, "allow h.example (global.yaml:1)");
}

TEST(PolicyTest, ParseDocumentAcceptsJsonAndRefusesOversizedFiles) {
  auto b = parse_document(R"({"allow": ["api.github.com", {"domain": "x.example", "paths": ["/v1/*"]}],
                              "deny": ["evil.example"]})",
                          "network-policy.json");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->allow.size(), 2u);
  EXPECT_EQ(b->deny.size(), 1u);
  std::string big = "allow: []\n";
  big.append(kMaxPolicyBytes, '#');
  auto r = parse_document(big, "big.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("larger than 1 MiB"), std::string::npos);
  EXPECT_FALSE(parse_document(R"({"allow": ["*.com"]})", "p.json").ok());
}

// The resolver's question: a name resolves when some allow rule names it on
// any port, method or path, and no deny rule names it.
TEST(PolicyTest, NameQuestionAllowsWhatSomeRuleNamesAtAnyPortOrPath) {
  auto p = compile("allow:\n  - api.example.com:8443\n  - domain: docs.example.com\n    paths: [/v1/*]\n"
                   "    methods: [GET]\n  - \"*.cdn.test\"\ndeny: [bad.cdn.test]\n");
  EXPECT_TRUE(Allowed(p.evaluate_name("api.example.com")));
  EXPECT_TRUE(Allowed(p.evaluate_name("Docs.Example.COM.")));
  EXPECT_TRUE(Allowed(p.evaluate_name("a.cdn.test")));
  EXPECT_TRUE(Denied(p.evaluate_name("cdn.test"), Reason::no_rule));
  EXPECT_TRUE(Denied(p.evaluate_name("bad.cdn.test"), Reason::denied_by_rule));
  EXPECT_TRUE(Denied(p.evaluate_name("exfil-data.evil.test"), Reason::no_rule));
  EXPECT_TRUE(Denied(p.evaluate_name("10.0.0.1"), Reason::ip_literal));
  EXPECT_TRUE(Denied(p.evaluate_name("a b.test"), Reason::invalid_host));
}

TEST(PolicyTest, NameQuestionOfAnAirgappedCellIsDenied) {
  auto p = compile("allow: [api.example.com]", {}, {.airgapped = true});
  EXPECT_TRUE(Denied(p.evaluate_name("api.example.com"), Reason::airgapped));
}

}  // namespace
}  // namespace brig::policy
