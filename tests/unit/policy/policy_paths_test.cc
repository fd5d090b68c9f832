// Policy::evaluate on paths and methods: globs, encoded traversal, near
// misses and the fix a denial suggests.
#include "brig/policy/policy.h"

#include <gtest/gtest.h>

#include <string>

#include "brig/spec/parse.h"
#include "unit/policy/policy_test_util.h"

namespace brig::policy {
namespace {

using testing::Allowed;
using testing::compile;
using testing::connect;
using testing::Denied;
using testing::request;

constexpr std::string_view kApi = "allow:\n  - {domain: api.example.com, paths: [\"/v1/*\"], methods: [GET, POST]}\n";

TEST(PolicyTest, PathGlobAllowsMatchingPaths) {
  auto p = compile(kApi);
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/models")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "POST", "/v1/a/b/c?x=1")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/%6dodels")));  // %6d is 'm'
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "//v1//models")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v2/../v1/models")));
}

TEST(PolicyTest, PathGlobRefusesOtherPaths) {
  auto p = compile(kApi);
  for (std::string_view path : {"/admin", "/v1", "/v2/models", "/V1/models", "/?/v1/x"}) {
    EXPECT_TRUE(Denied(request(p, "api.example.com", "GET", path), Reason::path_not_allowed)) << path;
  }
  EXPECT_EQ(reason_text(Reason::path_not_allowed), "the host is allowed, but not for this path");
}

TEST(PolicyTest, PathTraversalDoesNotEscapeTheGlob) {
  auto p = compile(kApi);
  for (std::string_view path : {"/v1/../admin", "/v1/%2e%2e/admin", "/v1/%2E%2E/admin", "/v1//../admin",
                                "/v1/.%2e/admin", "/v1/./../admin", "/v1/x/../../admin", "/v1%2F..%2Fadmin",
                                "/v1%2f..%2fadmin"}) {
    EXPECT_TRUE(Denied(request(p, "api.example.com", "GET", path), Reason::path_not_allowed)) << path;
  }
}

// An upstream may decode %2F, %5C and %2e (even twice) before it routes: a
// path that leaves the glob once decoded is denied, whatever its raw form.
TEST(PolicyTest, EncodedTraversalDoesNotEscapeTheGlob) {
  auto p = compile(kApi);
  for (std::string_view path :
       {"/v1/..%2fadmin", "/v1/..%2Fadmin", "/v1/%2e%2e/admin", "/v1%2f..%2fadmin", "/v1/..%5cadmin", "/v1/..%5Cadmin",
        "/v1/..\\admin", "/v1/%252e%252e/admin", "/v1/..%252fadmin", "/v1/%252E%252E%252Fadmin", "/v1/.%2e%2fadmin",
        "/v1/%2e.%2fadmin", "/v1/x/..%2f..%2fadmin", "/v1/%25252e%25252e/admin"}) {
    EXPECT_TRUE(Denied(request(p, "api.example.com", "GET", path), Reason::path_not_allowed)) << path;
  }
  // Encoded more deeply than any upstream decodes: refused outright.
  EXPECT_TRUE(Denied(request(p, "api.example.com", "GET", "/v1/%2525252e%2525252e/admin"), Reason::invalid_path));
}

// Decided: an encoded slash that stays inside the glob both raw and decoded is
// allowed ("/v1/a%2Fb" is "/v1/a/b" to any upstream, still under /v1/*).
TEST(PolicyTest, EncodedSlashInsideTheGlobIsAllowed) {
  auto p = compile(kApi);
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/a%2Fb")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/a%2Fb%2F..%2Fc")));
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "GET", "/v1/%252e")));  // "/v1/" decoded
}

TEST(FixForTest, FixableDenialsGetACommandThatWorks) {
  auto p = compile("allow: [api.example.com, \"registry.local:8443\", {domain: x.com, paths: [\"/v1/*\"], methods: [GET]}]\n"
                   "deny: [evil.example.com]\n");
  EXPECT_EQ(fix_for(connect(p, "new.example"), "c1", "new.example", 443), "brig policy set c1 --allow new.example");
  EXPECT_EQ(fix_for(connect(p, "new.example", 80), "", "new.example", 80), "brig policy set CELL --allow new.example");
  EXPECT_EQ(fix_for(connect(p, "new.example", 8080), "c1", "new.example", 8080),
            "brig policy set c1 --allow new.example:8080");
  // Port: the fix names the port, or the plain rule would not cover it.
  auto port = connect(p, "api.example.com", 22);
  ASSERT_TRUE(Denied(port, Reason::port_not_allowed));
  EXPECT_EQ(fix_for(port, "c1", "api.example.com", 22), "brig policy set c1 --allow api.example.com:22");
  auto reg = connect(p, "registry.local", 443);
  ASSERT_TRUE(Denied(reg, Reason::port_not_allowed));
  EXPECT_EQ(fix_for(reg, "c1", "registry.local", 443), "brig policy set c1 --allow registry.local");
  EXPECT_TRUE(fix_for(request(p, "x.com", "POST", "/v1/a"), "c1", "x.com", 443));
  EXPECT_TRUE(fix_for(request(p, "x.com", "GET", "/v2"), "c1", "x.com", 443));
  // Not fixable by an allow rule, or nothing to fix.
  EXPECT_EQ(fix_for(connect(p, "evil.example.com"), "c1", "evil.example.com", 443), std::nullopt);
  EXPECT_EQ(fix_for(connect(p, "127.0.0.1"), "c1", "127.0.0.1", 443), std::nullopt);
  EXPECT_EQ(fix_for(connect(p, "api.example.com"), "c1", "api.example.com", 443), std::nullopt);
  EXPECT_EQ(fix_for(connect(compile("allow: [a.com]", {}, {.airgapped = true}), "a.com"), "c1", "a.com", 443),
            std::nullopt);
  EXPECT_TRUE(fixable(Reason::invalid_path));
  EXPECT_FALSE(fixable(Reason::invalid_host));
}

TEST(PolicyTest, EncodedSlashStaysInsideOneSegment) {
  auto p = compile("allow:\n  - {domain: h.example, paths: [\"/files/*/meta\"]}\n");
  EXPECT_TRUE(Allowed(request(p, "h.example", "GET", "/files/a%2Fb/meta")));
  EXPECT_TRUE(Denied(request(p, "h.example", "GET", "/files%2Fa/meta"), Reason::path_not_allowed));
}

TEST(PolicyTest, RulePathsAreNormalisedToo) {
  auto p = compile("allow:\n  - {domain: h.example, paths: [\"/v1/./x/../models\", \"/a%2fb\"]}\n");
  EXPECT_EQ(p.allow_rules().at(0).paths, (std::vector<std::string>{"/v1/models", "/a%2Fb"}));
  EXPECT_TRUE(Allowed(request(p, "h.example", "GET", "/v1/models")));
  EXPECT_TRUE(Allowed(request(p, "h.example", "GET", "/a%2Fb")));
}

TEST(PolicyTest, InvalidRequestPathIsDeniedWhenTheRuleHasPaths) {
  auto p = compile(kApi);
  for (std::string_view path : {"v1/models", "/v1/%zz", "/v1/a b", "/v1/%", ""}) {
    EXPECT_TRUE(Denied(request(p, "api.example.com", "GET", path), Reason::invalid_path)) << path;
  }
}

TEST(PolicyTest, RuleWithoutPathsAllowsAnyPath) {
  auto p = compile("allow: [h.example]");
  EXPECT_TRUE(Allowed(request(p, "h.example", "GET", "/anything/../at/all?x")));
  EXPECT_TRUE(Allowed(request(p, "h.example", "DELETE", "/")));
}

TEST(PolicyTest, MethodsAreCaseSensitiveUppercase) {
  auto p = compile(kApi);
  EXPECT_TRUE(Allowed(request(p, "api.example.com", "POST", "/v1/x")));
  for (std::string_view m : {"get", "Get", "DELETE", "PUT", "GETX", "GE"}) {
    EXPECT_TRUE(Denied(request(p, "api.example.com", m, "/v1/x"), Reason::method_not_allowed)) << m;
  }
  EXPECT_EQ(reason_text(Reason::method_not_allowed), "the host is allowed, but not for this method");
}

TEST(PolicyTest, ConnectLevelQuestionIgnoresPathsAndMethods) {
  auto p = compile(kApi);
  auto v = connect(p, "api.example.com");
  EXPECT_TRUE(Allowed(v));
  EXPECT_EQ(v.rule, "allow api.example.com methods=[GET,POST] paths=[/v1/*] (global.yaml:2)");
  // ...but still checks the port.
  EXPECT_TRUE(Denied(connect(p, "api.example.com", 8443), Reason::port_not_allowed));
}

TEST(PolicyTest, PathWithoutMethodIsNotConnectLevel) {
  auto p = compile(kApi);
  EXPECT_TRUE(Denied(request(p, "api.example.com", "", "/admin"), Reason::method_not_allowed));
  auto q = compile("allow:\n  - {domain: h.example, paths: [\"/v1/*\"]}\n");
  EXPECT_TRUE(Denied(request(q, "h.example", "", "/admin"), Reason::path_not_allowed));
  EXPECT_TRUE(Allowed(request(q, "h.example", "", "/v1/x")));
}

TEST(PolicyTest, NearMissReportsTheMostSpecificReason) {
  auto p = compile(
      "allow:\n"
      "  - \"h.example:8443\"\n"
      "  - {domain: h.example, methods: [POST]}\n"
      "  - {domain: h.example, methods: [GET], paths: [\"/v1/*\"]}\n");
  // Port matches only the last two rules; method matches only the last; path matches none.
  EXPECT_TRUE(Denied(request(p, "h.example", "GET", "/admin"), Reason::path_not_allowed));
  EXPECT_TRUE(Denied(request(p, "h.example", "PUT", "/v1/x"), Reason::method_not_allowed));
  EXPECT_TRUE(Denied(request(p, "h.example", "GET", "/v1/x", 9000), Reason::port_not_allowed));
  EXPECT_TRUE(Allowed(request(p, "h.example", "GET", "/v1/x")));
  EXPECT_TRUE(Allowed(request(p, "h.example", "PUT", "/v1/x", 8443)));
  EXPECT_EQ(request(p, "h.example", "POST", "/admin").rule, "allow h.example methods=[POST] (global.yaml:3)");
}

TEST(PolicyTest, NearMissesAreDefaultDenyRules) {
  auto p = compile(kApi);
  EXPECT_EQ(request(p, "api.example.com", "GET", "/admin").rule, "default deny");
  EXPECT_EQ(request(p, "api.example.com", "get", "/v1/x").rule, "default deny");
}

}  // namespace
}  // namespace brig::policy
