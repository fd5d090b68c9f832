// policy::suggest: the smallest allow rules for logged denials, each checked
// with Policy::compile + evaluate.
#include "brig/policy/suggest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/spec/json.h"

namespace brig::policy {
namespace {

Denial http(std::string host, std::string method, std::string path, std::string code = "no_rule",
            std::uint16_t port = 443) {
  return {std::move(host), port, std::move(method), std::move(path), std::move(code)};
}
Denial tunnel(std::string host, std::uint16_t port = 443, std::string code = "no_rule") {
  return {std::move(host), port, "CONNECT", "", std::move(code)};
}

// Every suggestible input is allowed by the suggestion alone.
void expect_allows_all(const Suggestion& s, const std::vector<Denial>& in) {
  auto p = Policy::compile(s.policy, nullptr);
  ASSERT_TRUE(p.ok()) << p.error().message();
  for (const auto& d : in) {
    if (!suggestible(d.code)) continue;
    const bool connect = d.method == "CONNECT" || d.path.empty();
    const auto v = p->evaluate({d.host, d.port, connect ? "" : d.method, connect ? "" : d.path});
    EXPECT_TRUE(v.allowed()) << d.method << " " << d.host << ":" << d.port << d.path << ": " << reason_text(v.reason);
  }
}

nlohmann::json allow_json(const Suggestion& s) { return spec::to_json(s.policy)["allow"]; }

TEST(Suggest, GroupsByHostKeepsMethodsAndCollapsesPaths) {
  const std::vector<Denial> in = {
      http("api.x.com", "GET", "/v1/users/1"),  http("api.x.com", "GET", "/v1/users/2?page=3"),
      http("api.x.com", "POST", "/v1/users/3"), http("api.x.com", "GET", "/v2/status"),
      http("API.x.com", "GET", "/v1/users/2"),  tunnel("pypi.org"),
      http("pypi.org", "GET", "/simple/x"),     tunnel("registry.local", 8443, "port_not_allowed"),
  };
  const auto s = suggest(in);
  EXPECT_EQ(s.denials, in.size());
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"([
    {"domain": "api.x.com", "paths": ["/v1/users/*", "/v2/status"], "methods": ["GET", "POST"]},
    "pypi.org",
    "registry.local:8443"
  ])"));
  expect_allows_all(s, in);
  EXPECT_EQ(suggestion_yaml(s.policy),
            "allow:\n"
            "  - domain: api.x.com\n"
            "    paths: [\"/v1/users/*\", \"/v2/status\"]\n"
            "    methods: [GET, POST]\n"
            "  - pypi.org\n"
            "  - \"registry.local:8443\"\n");
}

TEST(Suggest, TwoPathsStayExactThreeCollapseNeverToTheRoot) {
  const std::vector<Denial> two = {http("a.test", "GET", "/v1/a"), http("a.test", "GET", "/v1/b")};
  EXPECT_EQ(suggest(two).policy.allow.at(0).paths, (std::vector<std::string>{"/v1/a", "/v1/b"}));
  const std::vector<Denial> top = {http("a.test", "GET", "/a"), http("a.test", "GET", "/b"), http("a.test", "GET", "/c")};
  EXPECT_EQ(suggest(top).policy.allow.at(0).paths, (std::vector<std::string>{"/a", "/b", "/c"}));
  // Globs count as items of their directory: three collapsed directories collapse again.
  std::vector<Denial> deep;
  for (const char* dir : {"users", "orders", "items"}) {
    for (const char* id : {"1", "2", "3"}) deep.push_back(http("a.test", "GET", std::string("/v1/") + dir + "/" + id));
  }
  deep.push_back(http("a.test", "GET", "/v2/x"));
  const auto s = suggest(deep);
  EXPECT_EQ(s.policy.allow.at(0).paths, (std::vector<std::string>{"/v1/*", "/v2/x"}));
  expect_allows_all(s, deep);
}

TEST(Suggest, ConnectLevelDenialAllowsTheWholeHost) {
  const std::vector<Denial> in = {http("h.test", "GET", "/x"), tunnel("h.test"), http("h.test", "POST", "/y")};
  const auto s = suggest(in);
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"(["h.test"])"));
  expect_allows_all(s, in);
}

TEST(Suggest, OnlyDenialsAnAllowRuleLifts) {
  const std::vector<Denial> in = {
      http("evil.test", "GET", "/", "denied_by_rule"), http("1.2.3.4", "GET", "/", "ip_literal"),
      http("x.test", "GET", "/", "airgapped"),         http("y.test", "GET", "/", "secret"),
      http("z.test", "GET", "/", "ratelimit"),         http("m.test", "DELETE", "/v1/x", "method_not_allowed"),
      http("p.test", "GET", "/v2/x", "path_not_allowed"),
  };
  const auto s = suggest(in);
  EXPECT_EQ(s.denials, 2u);
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"([
    {"domain": "m.test", "paths": ["/v1/x"], "methods": ["DELETE"]},
    {"domain": "p.test", "paths": ["/v2/x"], "methods": ["GET"]}
  ])"));
  expect_allows_all(s, in);
  EXPECT_TRUE(suggest({}).policy.allow.empty());
}

TEST(Suggest, PortsEightyAndFourFourThreeShareARuleOthersNameTheirPort) {
  const std::vector<Denial> in = {http("h.test", "GET", "/a", "no_rule", 80), http("h.test", "GET", "/b"),
                                  http("h.test", "GET", "/c", "port_not_allowed", 8080)};
  const auto s = suggest(in);
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"([
    {"domain": "h.test", "paths": ["/a", "/b"], "methods": ["GET"]},
    {"domain": "h.test:8080", "paths": ["/c"], "methods": ["GET"]}
  ])"));
  expect_allows_all(s, in);
}

// A path that decodes outside the glob its neighbours make is kept as it is;
// one that does not normalise leaves the path open.
TEST(Suggest, EveryDenialIsAllowedEvenWithEscapes) {
  const std::vector<Denial> in = {http("e.test", "GET", "/v1/a/1"), http("e.test", "GET", "/v1/a/2"),
                                  http("e.test", "GET", "/v1/a/..%2F..%2Fadmin"), http("f.test", "GET", "/%zz"),
                                  http("f.test", "GET", "/ok")};
  const auto s = suggest(in);
  expect_allows_all(s, in);
  ASSERT_EQ(s.policy.allow.size(), 2u);
  EXPECT_THAT(s.policy.allow[0].paths, ::testing::Contains("/v1/a/*"));
  EXPECT_TRUE(s.policy.allow[1].paths.empty());
  EXPECT_EQ(s.policy.allow[1].methods, std::vector<std::string>{"GET"});
}

// Methods match exactly: one sent in lowercase cannot be named by a rule.
TEST(Suggest, AMethodNoRuleNamesLeavesMethodsOpen) {
  const std::vector<Denial> in = {http("l.test", "get", "/a"), http("l.test", "POST", "/b")};
  const auto s = suggest(in);
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"([{"domain": "l.test", "paths": ["/a", "/b"]}])"));
  expect_allows_all(s, in);
}

TEST(Suggest, LeavesOutWhatTheCurrentPolicyAllows) {
  spec::PolicyBlock cur;
  cur.allow.push_back({"a.test", std::nullopt, {}, {}, {}});
  auto p = Policy::compile(cur, nullptr);
  ASSERT_TRUE(p.ok());
  const auto s = suggest({http("a.test", "GET", "/x"), http("b.test", "GET", "/y")}, &*p);
  EXPECT_EQ(s.denials, 1u);
  EXPECT_EQ(s.already_allowed, 1u);
  EXPECT_EQ(allow_json(s), nlohmann::json::parse(R"([{"domain": "b.test", "paths": ["/y"], "methods": ["GET"]}])"));
}

TEST(Suggest, DeterministicOrder) {
  std::vector<Denial> in = {http("b.test", "GET", "/1"), http("a.test", "PUT", "/2"), http("a.test", "GET", "/1")};
  const auto first = allow_json(suggest(in));
  std::reverse(in.begin(), in.end());
  EXPECT_EQ(allow_json(suggest(in)), first);
  EXPECT_EQ(first[0]["domain"], "a.test");
  EXPECT_EQ(first[0]["methods"], nlohmann::json::parse(R"(["GET", "PUT"])"));
}

TEST(Suggest, RecordsAsDenials) {
  auto rec = nlohmann::json::parse(R"({"ts": "2026-12-02T06:00:01.250Z", "cell": "c1", "kind": "http", "tls": "mitm",
    "method": "GET", "host": "api.x.com", "port": 443, "path": "/v1/a?q=1", "status": 403, "decision": "deny",
    "rule": "default deny", "reason": "default deny: no allow rule matches the host", "code": "no_rule"})");
  auto d = denial_from_record(rec);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "api.x.com");
  EXPECT_EQ(d->port, 443);
  EXPECT_EQ(d->method, "GET");
  EXPECT_EQ(d->path, "/v1/a?q=1");
  EXPECT_EQ(d->code, "no_rule");
  EXPECT_EQ(record_time(rec), 1796191201);
  // Older records: the code from the reason.
  rec.erase("code");
  rec["reason"] = std::string(reason_text(Reason::path_not_allowed));
  EXPECT_EQ(denial_from_record(rec)->code, "path_not_allowed");
  rec["reason"] = "tunnel does not start with a TLS ClientHello";
  EXPECT_EQ(denial_from_record(rec)->code, "");
  // Allowed requests, ingress and junk are not denials.
  rec["decision"] = "allow";
  EXPECT_FALSE(denial_from_record(rec));
  rec["decision"] = "deny";
  rec["kind"] = "ingress";
  EXPECT_FALSE(denial_from_record(rec));
  EXPECT_FALSE(denial_from_record(nlohmann::json::array()));
  EXPECT_FALSE(record_time(nlohmann::json::object()));
  EXPECT_EQ(record_time(nlohmann::json{{"ts", "2026-12-02T06:00:01Z"}}), 1796191201);
}

}  // namespace
}  // namespace brig::policy
