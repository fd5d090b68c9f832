// parse_policy: policy documents (JSON or YAML), their lines and errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/spec/json.h"
#include "brig/spec/parse.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using testing::cell;
using testing::kFull;
using testing::policy_error;

// The seed's network-policy.json, one entry per line.
constexpr const char* kPolicyJson = R"({
  "allow": [
    "api.github.com",
    "*.amazonaws.com",
    {"domain": "api.example.com", "paths": ["/v1/*"], "methods": ["GET", "POST"]}
  ],
  "deny": ["evil.com"],
  "rate_limits": {
    "default": {"rate": 100, "burst": 500}
  }
}
)";

TEST(ParsePolicy, SeedJsonFormat) {
  auto r = parse_policy(kPolicyJson, "network-policy.json");
  ASSERT_TRUE(r) << r.error().message();
  const PolicyBlock& p = *r;
  ASSERT_EQ(p.allow.size(), 3u);
  EXPECT_EQ(p.allow[0].domain, "api.github.com");
  EXPECT_FALSE(p.allow[0].port);
  EXPECT_TRUE(p.allow[0].paths.empty());
  EXPECT_TRUE(p.allow[0].methods.empty());
  EXPECT_EQ(p.allow[1].domain, "*.amazonaws.com");
  EXPECT_EQ(p.allow[2].domain, "api.example.com");
  EXPECT_EQ(p.allow[2].paths, (StringList{"/v1/*"}));
  EXPECT_EQ(p.allow[2].methods, (StringList{"GET", "POST"}));
  ASSERT_EQ(p.deny.size(), 1u);
  EXPECT_EQ(p.deny[0].domain, "evil.com");
  EXPECT_TRUE(p.tls_passthrough.empty());
  ASSERT_TRUE(p.rate_default);
  EXPECT_EQ(p.rate_default->rate, 100);
  EXPECT_EQ(p.rate_default->burst, 500);
  EXPECT_TRUE(p.rate_cells.empty());
}

TEST(ParsePolicy, JsonLineNumbers) {
  auto r = parse_policy(kPolicyJson, "network-policy.json");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->allow[0].origin.str(), "network-policy.json:3");
  EXPECT_EQ(r->allow[1].origin.str(), "network-policy.json:4");
  EXPECT_EQ(r->allow[2].origin.str(), "network-policy.json:5");
  EXPECT_EQ(r->deny[0].origin.str(), "network-policy.json:7");
  EXPECT_EQ(r->rate_default->origin.str(), "network-policy.json:9");
}

TEST(ParsePolicy, JsonErrorsCarryLines) {
  EXPECT_EQ(policy_error("{\n  \"allow\": [\"a.com\"],\n  \"denny\": []\n}\n"),
            "policy.json:3: unknown key \"denny\"; did you mean \"deny\"?");
  EXPECT_EQ(policy_error("{\n  \"allow\": [\n    \"a.com\",\n    {\"domain\": \"b.com\", \"method\": [\"GET\"]}\n  ]\n}\n"),
            "policy.json:4: allow[1]: unknown key \"method\"; did you mean \"methods\"?");
  auto syntax = parse_policy("{\n  \"allow\": [\"a.com\",\n}\n", "policy.json");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().message(), "policy.json:3: illegal flow end");
}

TEST(ParsePolicy, DomainPortParsing) {
  auto r = parse_policy("allow:\n  - api.example.com:8443\n  - {domain: \"git.example.com:22\", paths: [\"/x\"]}\n",
                        "p.yaml");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->allow[0].domain, "api.example.com");
  ASSERT_TRUE(r->allow[0].port);
  EXPECT_EQ(*r->allow[0].port, 8443);
  EXPECT_EQ(r->allow[1].domain, "git.example.com");
  EXPECT_EQ(*r->allow[1].port, 22);
  EXPECT_EQ(r->allow[1].paths, (StringList{"/x"}));

  const char* fix = "; write host or host:port with a port from 1 to 65535";
  EXPECT_EQ(policy_error("allow: [\"a.com:\"]\n", "p.yaml"), std::string("p.yaml:1: allow[0]: empty port in \"a.com:\"") + fix);
  // The one authority syntax (hostname::split_authority): IPv6 needs brackets.
  EXPECT_EQ(policy_error("allow: [\"2001:db8::1:443\"]\n", "p.yaml"),
            std::string("p.yaml:1: allow[0]: an IPv6 address needs brackets: write [ADDR] or [ADDR]:PORT, not "
                        "\"2001:db8::1:443\"") + fix);
  auto v6 = parse_policy("allow: [\"[::1]:8443\", \"*.x.com:8443\"]\n", "p.yaml");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->allow[0].domain, "[::1]");  // as written; validate_policy refuses IPs
  EXPECT_EQ(*v6->allow[0].port, 8443);
  EXPECT_EQ(v6->allow[1].domain, "*.x.com");
  EXPECT_EQ(policy_error("allow: [\"a.com:65536\"]\n", "p.yaml"),
            std::string("p.yaml:1: allow[0]: invalid port in \"a.com:65536\"") + fix);
  EXPECT_EQ(policy_error("allow: [\"a.com:https\"]\n", "p.yaml"),
            std::string("p.yaml:1: allow[0]: invalid port in \"a.com:https\"") + fix);
  EXPECT_EQ(policy_error("allow:\n  - {domain: \"a.com:-1\"}\n", "p.yaml"),
            std::string("p.yaml:2: allow[0].domain: invalid port in \"a.com:-1\"") + fix);
  auto edge = parse_policy("allow: [\"a.com:1\", \"b.com:65535\"]\n", "p.yaml");
  ASSERT_TRUE(edge) << edge.error().message();
  EXPECT_EQ(*edge->allow[0].port, 1);
  EXPECT_EQ(*edge->allow[1].port, 65535);
}

TEST(ParsePolicy, RateLimits) {
  auto r = parse_policy("rate_limits:\n  default: {rate: 2.5}\n  cells:\n    web: {rate: 10, burst: 20}\n", "p.yaml");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->rate_default->rate, 2.5);
  EXPECT_EQ(r->rate_default->burst, 2.5);  // burst defaults to rate
  ASSERT_EQ(r->rate_cells.count("web"), 1u);
  EXPECT_EQ(r->rate_cells.at("web").rate, 10);
  EXPECT_EQ(r->rate_cells.at("web").burst, 20);
  EXPECT_EQ(r->rate_cells.at("web").origin.str(), "p.yaml:4");

  EXPECT_EQ(policy_error("rate_limits:\n  default: {burst: 5}\n", "p.yaml"),
            "p.yaml:2: rate_limits.default: missing key \"rate\" (requests per second)");
  EXPECT_EQ(policy_error("rate_limits:\n  default: {rate: fast}\n", "p.yaml"),
            "p.yaml:2: rate_limits.default.rate: expected a number, got \"fast\"");
  EXPECT_EQ(policy_error("rate_limits:\n  cells: [web]\n", "p.yaml"),
            "p.yaml:2: rate_limits.cells: expected a mapping of cell names to {rate, burst}");
}

// An unknown key or a wrong type does not hide the rules of what parsed: a
// policy file's errors all come at once, in file order.
TEST(ParsePolicy, ShapeErrorsDoNotHideTheRules) {
  EXPECT_EQ(policy_error("deny: [\"bad domain\"]\n"
                         "denny: []\n",
                         "p.yaml"),
            "p.yaml:1: deny[0]: \"bad domain\": host contains a control character or space\n"
            "p.yaml:2: unknown key \"denny\"; did you mean \"deny\"?");
  // A list with a skipped entry gets no second word (its indices moved).
  EXPECT_EQ(policy_error("allow: [{domain: a.com, paths: 5}, \"bad domain\"]\n"
                         "rate_limits: {default: {rate: 0}}\n",
                         "p.yaml"),
            "p.yaml:1: allow[0].paths: expected a list, got a scalar\n"
            "p.yaml:2: rate_limits.default: rate must be a positive number of requests per second\n"
            "p.yaml:2: rate_limits.default: burst must be at least 1 and at least rate");
}

TEST(ParsePolicy, TopLevelMustBeAMapping) {
  EXPECT_EQ(policy_error("[\"a.com\"]\n"), "policy.json:1: expected a policy (a mapping of keys), got a list");
  auto empty = parse_policy("", "policy.json");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->allow.empty());
}

TEST(Parse, AirgappedOnlyInPolicyDocuments) {
  auto doc = parse_policy("airgapped: true\n", "cells/x.json");
  ASSERT_TRUE(doc) << doc.error().message();
  EXPECT_TRUE(doc->airgapped);
  auto cell = parse_cell("image: a\npolicy:\n  airgapped: true\n", "cell.yaml");
  ASSERT_FALSE(cell);
  EXPECT_EQ(cell.error().message().rfind("cell.yaml:3: policy: unknown key \"airgapped\"", 0), 0u) << cell.error().message();
}

}  // namespace
}  // namespace brig::spec
