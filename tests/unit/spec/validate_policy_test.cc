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
