// validate(): a cell spec's policy block and the standalone policy rules.
#include <gtest/gtest.h>

#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"
#include "unit/spec/validate_test_util.h"

namespace brig::spec {
namespace {

// --- policy ------------------------------------------------------------------

TEST(ValidatePolicy, Domains) {
  EXPECT_EQ(err("policy: {allow: [\"*.com\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"*.com\": a wildcard must name at least a two-label domain (*.example.com, "
            "not *.com)");
  EXPECT_EQ(err("policy: {allow: [\"*.co.uk\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"*.co.uk\": a wildcard must name a domain below a public suffix "
            "(*.example.co.uk, not *.co.uk)");
  EXPECT_EQ(err("policy: {tls_passthrough: [\"*.github.io\"]}\n"),
            "cell.yaml:2: policy.tls_passthrough[0]: \"*.github.io\": a wildcard must name a domain below a public "
            "suffix (*.example.github.io, not *.github.io)");
  EXPECT_EQ(err("policy: {allow: [\"a*.example.com\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"a*.example.com\": '*' is only allowed as a leading '*.' (as in "
            "*.example.com)");
  EXPECT_EQ(err("policy: {allow: [\"10.0.0.1\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"10.0.0.1\": IP addresses cannot be policy domains; warden refuses IP "
            "destinations");
  EXPECT_EQ(errs("policy: {deny: [\"bad domain\"]}\n").size(), 1u);
  EXPECT_EQ(errs("policy: {deny: [\"bad domain\"]}\n")[0].rfind("cell.yaml:2: policy.deny[0]: \"bad domain\": ", 0), 0u);
  EXPECT_EQ(errs("policy: {tls_passthrough: [\"a..b\"]}\n")[0].rfind("cell.yaml:2: policy.tls_passthrough[0]: \"a..b\": ", 0),
            0u);
}

// A URL or a port where none belongs is named as what it is, with the host
// to give instead; never "invalid IPv6 address" or "invalid port".
TEST(ValidatePolicy, UrlsAndPortsAreNamedForWhatTheyAre) {
  // A URL with a scheme does not even split as host:port: the parser says it.
  auto parsed = parse_cell("image: img\npolicy: {allow: [\"https://api.example.com/v1\"]}\n", "cell.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message(),
            "cell.yaml:2: policy.allow[0]: \"https://api.example.com/v1\" is a URL; give a host, not a URL: "
            "api.example.com");
  EXPECT_EQ(err("policy: {allow: [\"api.example.com/v1\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"api.example.com/v1\" is a URL; give a host, not a URL: api.example.com");
  EXPECT_EQ(err("policy: {deny: [\"evil.example:443\"]}\n"),
            "cell.yaml:2: policy.deny[0]: \"evil.example:443\" has a port, but a deny rule blocks a host on every "
            "port; give the host: evil.example");
  EXPECT_EQ(err("policy: {allow: [example.com], tls_passthrough: [\"example.com:443\"]}\n"),
            "cell.yaml:2: policy.tls_passthrough[0]: \"example.com:443\" has a port, but TLS passthrough is for port "
            "443 only; give the host: example.com");
  EXPECT_EQ(err("policy: {deny: [\"https://evil.example:8443/x\"]}\n"),
            "cell.yaml:2: policy.deny[0]: \"https://evil.example:8443/x\" is a URL; give a host, not a URL: "
            "evil.example");
}

TEST(CheckPolicyHost, FlagsGetTheFlagAsTheHintAndACorrection) {
  auto p = check_policy_host("https://u:pw@api.example.com:8443/x?y#z", PolicyList::allow, "--allow");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "\"https://u:pw@api.example.com:8443/x?y#z\" is a URL; give a host, not a URL: --allow "
                        "api.example.com:8443");
  EXPECT_EQ(p->corrected, "api.example.com:8443");
  p = check_policy_host("host.example:443", PolicyList::deny, "--deny");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "\"host.example:443\" has a port, but a deny rule blocks a host on every port; give the "
                        "host: --deny host.example");
  EXPECT_EQ(p->corrected, "host.example");
  EXPECT_EQ(p->message.find("IPv6"), std::string::npos);
  p = check_policy_host("x.com:0", PolicyList::allow, "--allow");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "invalid port in \"x.com:0\"; write --allow HOST or --allow HOST:PORT");
  EXPECT_EQ(p->corrected, "");
  // An unbracketed IPv6 address is not "a port".
  p = check_policy_host("2001:db8::1", PolicyList::deny, "--deny");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message.find("has a port"), std::string::npos);
  p = check_policy_host("https:///", PolicyList::allow, "--allow");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "\"https:///\" is a URL; give a host, not a URL: --allow HOST");
  EXPECT_EQ(p->corrected, "");
  EXPECT_TRUE(check_policy_host("", PolicyList::deny));
  for (const char* ok : {"example.com", "*.example.com", "example.com:8443"}) {
    EXPECT_FALSE(check_policy_host(ok, PolicyList::allow)) << ok;
  }
  for (const char* ok : {"example.com", "*.example.com"}) {
    EXPECT_FALSE(check_policy_host(ok, PolicyList::deny)) << ok;
    EXPECT_FALSE(check_policy_host(ok, PolicyList::tls_passthrough)) << ok;
  }
}

// A policy file (the global one, or a cell's): the same words with file:line.
TEST(ParsePolicy, UrlInAllowIsNamed) {
  auto b = parse_policy("allow:\n  - \"https://x.example:8443/\"\n", "policy.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message(),
            "policy.yaml:2: allow[0]: \"https://x.example:8443/\" is a URL; give a host, not a URL: x.example:8443");
}

TEST(ValidatePolicy, PathsAndMethods) {
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, paths: [v1/*]}]\n"),
            "cell.yaml:3: policy.allow[0].paths: \"v1/*\" must start with '/' (globs use '*', e.g. /v1/*)");
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, methods: [get]}]\n"),
            "cell.yaml:3: policy.allow[0].methods: invalid method \"get\"; methods are uppercase, e.g. GET");
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, methods: [\"\"]}]\n"),
            "cell.yaml:3: policy.allow[0].methods: invalid method \"\"; methods are uppercase, e.g. GET");
}

TEST(ValidatePolicy, RateLimits) {
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 0, burst: 5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: rate must be a positive number of requests per second");
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 10, burst: 5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: burst must be at least 1 and at least rate");
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 0.5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: burst must be at least 1 and at least rate");
  EXPECT_EQ(err("policy: {rate_limits: {cells: {Web: {rate: 1}}}}\n"),
            "cell.yaml:2: policy.rate_limits.cells: invalid cell name \"Web\"; use 1-63 lowercase letters, digits and "
            "'-', starting with a letter or digit");
  expect_ok("policy: {rate_limits: {default: {rate: 0.5, burst: 1}, cells: {web: {rate: 10}}}}\n");
}

TEST(ValidatePolicy, StandalonePolicyFieldsHaveNoPrefix) {
  auto p = parse_policy("allow: [\"*.com\"]\nrate_limits: {default: {rate: 0}}\n", "policy.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(strs(validate_policy(*p, "")),
            (std::vector<std::string>{
                "policy.yaml:1: allow[0]: \"*.com\": a wildcard must name at least a two-label domain (*.example.com, "
                "not *.com)",
                "policy.yaml:2: rate_limits.default: rate must be a positive number of requests per second",
                "policy.yaml:2: rate_limits.default: burst must be at least 1 and at least rate",
            }));
}

std::string passthrough(const std::string& allow, const std::string& pass) {
  return "policy:\n  allow: [" + allow + "]\n  tls_passthrough: [" + pass + "]\n";
}

TEST(ValidatePolicy, PassthroughMustBeCoveredByAnAllowEntry) {
  expect_ok(passthrough("chatgpt.com", "chatgpt.com"));
  expect_ok(passthrough("\"*.openai.com\"", "auth.openai.com"));
  expect_ok(passthrough("\"*.openai.com\"", "\"*.a.openai.com\""));
  expect_ok(passthrough("\"*.openai.com\"", "\"*.openai.com\""));
  expect_ok(passthrough("\"chatgpt.com:443\"", "chatgpt.com"));
  expect_ok(passthrough("CHATGPT.COM", "chatgpt.com."));  // compared in canonical form

  const std::string fix = " is not covered by any policy.allow entry; add it (or a wildcard covering it) to policy.allow";
  EXPECT_EQ(err(passthrough("x.com", "\"*.x.com\"")), "cell.yaml:4: policy.tls_passthrough[0]: *.x.com" + fix);
  EXPECT_EQ(err(passthrough("\"*.x.com\"", "x.com")), "cell.yaml:4: policy.tls_passthrough[0]: x.com" + fix);
  EXPECT_EQ(err(passthrough("a.x.com", "b.x.com")), "cell.yaml:4: policy.tls_passthrough[0]: b.x.com" + fix);
  EXPECT_EQ(err(passthrough("\"chatgpt.com:8443\"", "chatgpt.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: chatgpt.com" + fix);
  EXPECT_EQ(err("policy:\n  tls_passthrough: [chatgpt.com]\n"),
            "cell.yaml:3: policy.tls_passthrough[0]: chatgpt.com" + fix);
}

TEST(ValidatePolicy, PathRestrictedAllowCannotCoverPassthrough) {
  const std::string msg =
      " is allowed only for some paths or methods, which passthrough cannot enforce; allow the whole host or drop the "
      "passthrough";
  EXPECT_EQ(err(passthrough("{domain: chatgpt.com, paths: [\"/v1/*\"]}", "chatgpt.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: chatgpt.com" + msg);
  EXPECT_EQ(err(passthrough("{domain: \"*.openai.com\", methods: [GET]}", "auth.openai.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: auth.openai.com" + msg);
  // A second, unrestricted entry for the same host covers it.
  expect_ok(passthrough("{domain: chatgpt.com, paths: [\"/v1/*\"]}, \"*.chatgpt.com\", chatgpt.com", "chatgpt.com"));
}

TEST(ValidatePolicy, UntrustedForbidsPassthrough) {
  EXPECT_EQ(err(passthrough("chatgpt.com", "chatgpt.com"), untrusted()),
            "cell.yaml:4: policy.tls_passthrough: the untrusted profile forbids TLS passthrough (uninspected egress)");
  expect_ok("policy: {allow: [chatgpt.com]}\n", untrusted());
}

TEST(ValidatePolicy, AirgappedForbidsAllow) {
  EXPECT_EQ(err("policy:\n  allow: [api.github.com]\n", airgapped()),
            "cell.yaml:3: policy.allow: the airgapped profile allows no egress; remove policy.allow or choose another "
            "profile");
  expect_ok("policy:\n  deny: [evil.com]\n", airgapped());
}

}  // namespace
}  // namespace brig::spec
