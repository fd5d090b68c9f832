// brig policy validate|test|show through the binary.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kPolicy = R"({
  "allow": [
    "api.github.com",
    "*.amazonaws.com",
    {"domain": "api.example.com", "paths": ["/v1/*"], "methods": ["GET", "POST"]},
    "registry.local:8443"
  ],
  "deny": ["evil.amazonaws.com"],
  "rate_limits": {"default": {"rate": 100, "burst": 500}}
}
)";

class PolicyCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    policy_ = write("p.json", kPolicy);
  }
  proc::Output test(std::vector<std::string> extra) {
    std::vector<std::string> argv = {"policy", "test", "--policy", policy_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return brig(argv);
  }
  std::string policy_;
};

TEST_F(PolicyCliTest, ValidateSummarises) {
  auto out = brig({"policy", "validate", policy_});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, policy_ + ": valid (4 allow, 1 deny, 0 tls_passthrough rules)\n");
  auto same = brig({"warden", "policy", "validate", policy_});
  EXPECT_EQ(same.out, out.out);
}

TEST_F(PolicyCliTest, ValidateReportsFileLine) {
  auto bad = write("bad.json", "{\n  \"allow\": [\n    \"ok.com\",\n    \"bad host.com\"\n  ],\n  \"dney\": []\n}\n");
  auto out = brig({"policy", "validate", bad});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr(bad + ":6: unknown key \"dney\"; did you mean \"deny\"?"));
}

// An unknown key does not hide a bad rule: every error of the file at once.
TEST_F(PolicyCliTest, ValidateReportsEveryErrorAtOnce) {
  auto bad = write("bad.json", "{\n  \"allow\": [\"ok.com\"],\n  \"deny\": [\"bad host.com\"],\n  \"dney\": []\n}\n");
  auto out = brig({"policy", "validate", bad});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err, "error: " + bad + ":3: deny[0]: \"bad host.com\": host contains a control character or space\n" +
                         "error: " + bad + ":4: unknown key \"dney\"; did you mean \"deny\"?\n");
}

TEST_F(PolicyCliTest, ValidateReportsBadDomainLine) {
  auto bad = write("bad.yaml", "allow:\n  - ok.com\n  - \"*evil.com\"\n");
  auto out = brig({"policy", "validate", bad});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr(bad + ":3: allow[1]: "));
}

TEST_F(PolicyCliTest, OversizedPolicyIsRefused) {
  auto big = write("big.json", "{\"allow\": [\"" + std::string(1100000, 'a') + "\"]}");
  auto out = brig({"policy", "validate", big});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("limit"));
}

TEST_F(PolicyCliTest, AllowAndDenyExitCodes) {
  auto allow = test({"https://api.github.com/repos"});
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_THAT(allow.out, StartsWith("allow allow api.github.com (" + policy_ + ":3)"));

  auto wildcard = test({"https://s3.eu.amazonaws.com/"});
  EXPECT_EQ(wildcard.exit_code, 0);

  auto denied = test({"https://evil.amazonaws.com/"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.out, StartsWith("deny denied by a deny rule (deny evil.amazonaws.com"));

  auto nothing = test({"https://example.org/"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_THAT(nothing.out, HasSubstr("default deny"));
  EXPECT_THAT(nothing.out, HasSubstr("fix: brig policy set CELL --allow example.org"));
}

TEST_F(PolicyCliTest, MethodsPathsAndPorts) {
  EXPECT_EQ(test({"--method", "POST", "https://api.example.com/v1/x"}).exit_code, 0);
  EXPECT_EQ(test({"--method", "DELETE", "https://api.example.com/v1/x"}).exit_code, 1);
  EXPECT_EQ(test({"https://api.example.com/v2/x"}).exit_code, 1);
  EXPECT_EQ(test({"https://api.example.com/v1/../admin"}).exit_code, 1);
  EXPECT_EQ(test({"api.example.com"}).exit_code, 0);  // CONNECT-level: paths are checked inside
  EXPECT_EQ(test({"registry.local:8443"}).exit_code, 0);
  EXPECT_EQ(test({"registry.local"}).exit_code, 1);
  EXPECT_EQ(test({"api.github.com:22"}).exit_code, 1);
}

// The printed fix is policy::fix_for's, and it works: the port is part of it
// when a rule without one would not cover the port.
TEST_F(PolicyCliTest, FixHintNamesThePortWhenNeeded) {
  auto port = test({"api.github.com:22"});
  EXPECT_EQ(port.out,
            "deny the host is allowed, but not on this port\nfix: brig policy set CELL --allow api.github.com:22\n");
  EXPECT_THAT(test({"https://registry.local/"}).out, HasSubstr("fix: brig policy set CELL --allow registry.local\n"));
  EXPECT_THAT(test({"http://new.example:8080/x"}).out,
              HasSubstr("fix: brig policy set CELL --allow new.example:8080\n"));
  // The hint applied to a cell's policy lifts the denial.
  write("policy/cells/c1.json", R"({"allow": [], "deny": [], "tls_passthrough": []})");
  ASSERT_EQ(brig({"policy", "set", "c1", "--allow", "api.github.com:22"}).exit_code, 0);
  EXPECT_EQ(test({"--cell", "c1", "api.github.com:22"}).exit_code, 0);
  EXPECT_THAT(test({"evil.amazonaws.com"}).out, ::testing::Not(HasSubstr("fix:")));  // a deny rule: no fix
}

TEST_F(PolicyCliTest, JsonOutput) {
  auto out = brig({"--format", "json", "policy", "test", "--policy", policy_, "https://x.org/"});
  EXPECT_EQ(out.exit_code, 1);
  auto j = nlohmann::json::parse(out.out);
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["rule"], "default deny");
  EXPECT_EQ(j["reason"], "default deny: no allow rule matches the host");
}

TEST_F(PolicyCliTest, NoGlobalPolicyDeniesAll) {
  auto out = brig({"policy", "test", "https://api.github.com/"});
  EXPECT_EQ(out.exit_code, 1);
  write("policy/network-policy.json", "{\"allow\": [\"api.github.com\"]}");
  EXPECT_EQ(brig({"policy", "test", "https://api.github.com/"}).exit_code, 0);
}

TEST_F(PolicyCliTest, CellFileExtendsGlobalAndAirgappedDeniesAll) {
  auto cell = write("cell.yaml", "image: x\npolicy:\n  allow: [pypi.org]\n");
  EXPECT_EQ(test({"--file", cell, "https://pypi.org/simple"}).exit_code, 0);
  EXPECT_EQ(test({"--file", cell, "https://api.github.com/"}).exit_code, 0);
  auto air = write("air.yaml", "image: x\nprofile: airgapped\n");
  auto out = test({"--file", air, "https://api.github.com/"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.out, HasSubstr("airgapped"));
}

TEST_F(PolicyCliTest, BadTargetsAreUsageErrors) {
  EXPECT_EQ(test({"ftp://x.com/"}).exit_code, 2);
  EXPECT_EQ(test({"https://user@x.com/"}).exit_code, 2);
  EXPECT_EQ(test({"x.com/path"}).exit_code, 2);
  EXPECT_EQ(test({"--method", "GET", "x.com"}).exit_code, 2);
  auto invalid = brig({"policy", "test", "--policy", write("bad.json", "{\"allow\": 3}"), "x.com"});
  EXPECT_EQ(invalid.exit_code, 2);
}

TEST_F(PolicyCliTest, ShowListsRules) {
  auto out = brig({"policy", "show", "--policy", policy_});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("deny evil.amazonaws.com"));
  EXPECT_THAT(out.out, HasSubstr("allow *.amazonaws.com"));
  EXPECT_THAT(out.out, HasSubstr("allow api.example.com methods=[GET,POST] paths=[/v1/*]"));
  auto unknown = brig({"policy", "show", "nosuchcell"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no policy for cell \"nosuchcell\""));
}

TEST_F(PolicyCliTest, SetAddsAndRemovesRulesOfACell) {
  write("policy/cells/c1.json", R"({"allow": ["api.github.com"], "deny": [], "tls_passthrough": []})");
  auto out = brig({"policy", "set", "c1", "--allow", "example.com", "--deny", "evil.example", "--remove", "api.github.com"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("cell c1: 1 allow, 1 deny"));
  auto j = nlohmann::json::parse(read("policy/cells/c1.json"));
  EXPECT_EQ(j["allow"], nlohmann::json::array({"example.com"}));
  EXPECT_EQ(j["deny"], nlohmann::json::array({"evil.example"}));
  // Idempotent: the same rule twice is kept once.
  ASSERT_EQ(brig({"policy", "set", "c1", "--allow", "example.com"}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"].size(), 1u);
  ASSERT_EQ(brig({"policy", "rm", "c1"}).exit_code, 0);
  EXPECT_TRUE(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"].empty());
}

TEST_F(PolicyCliTest, SetRefusesBadRulesAndLeavesTheFileAlone) {
  const std::string before = R"({"allow": ["api.github.com"], "deny": [], "tls_passthrough": []})";
  write("policy/cells/c1.json", before);
  auto bad = brig({"policy", "set", "c1", "--allow", "exa mple.com"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, StartsWith("error: "));
  EXPECT_EQ(read("policy/cells/c1.json"), before);
  auto missing = brig({"policy", "set", "nope", "--allow", "example.com"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("fix: check the name with: brig cell list --all"));
  auto invalid = brig({"policy", "set", "../c1", "--allow", "example.com"});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_EQ(invalid.err,
            "error: invalid cell name \"../c1\"; use 1-63 lowercase letters, digits and '-', starting with a letter "
            "or digit\nfix: check the name with: brig cell list --all\n");
  auto nothing = brig({"policy", "set", "c1"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_THAT(nothing.err, HasSubstr("nothing to change"));
  write("policy/cells/air.json", R"({"allow": [], "airgapped": true})");
  auto air = brig({"policy", "set", "air", "--allow", "example.com"});
  EXPECT_EQ(air.exit_code, 2);
  EXPECT_THAT(air.err, HasSubstr("airgapped"));
}

// `policy set --passthrough` runs the cell spec's own passthrough rule
// (spec::check_passthrough): covered by an allow entry, never for untrusted.
class PolicySetPassthroughTest : public PolicyCliTest {
 protected:
  // A cell as `brig run` leaves it: its policy file and its record.
  void cell(const std::string& name, const std::string& profile, const std::string& policy) {
    write("policy/cells/" + name + ".json", policy);
    nlohmann::json rec = {{"name", name},         {"image", "img"},           {"runtime", "runsc"},
                          {"subnet", 1},          {"workspace", "/w"},        {"workspace_mount", "/work"},
                          {"spec", {{"profile", profile}, {"labels", {{"brig.profile", profile}}}}}};
    write("state/" + name + "/cell-state.json", rec.dump());
  }
};

TEST_F(PolicySetPassthroughTest, MustBeCoveredByAnAllowRule) {
  const std::string before = R"({"allow": ["api.github.com"], "deny": [], "tls_passthrough": []})";
  cell("c1", "supervised", before);
  auto out = brig({"policy", "set", "c1", "--passthrough", "chatgpt.com"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: cell c1: tls_passthrough[0]: chatgpt.com is not covered by any allow entry; add it (or a wildcard "
            "covering it) to allow\n"
            "fix: brig policy set c1 --allow chatgpt.com --passthrough chatgpt.com\n");
  EXPECT_EQ(read("policy/cells/c1.json"), before);
  // The printed fix works.
  auto fixed = brig({"policy", "set", "c1", "--allow", "chatgpt.com", "--passthrough", "chatgpt.com"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["tls_passthrough"],
            nlohmann::json::array({"chatgpt.com"}));
  // A wildcard covers it too; removing the cover is refused like adding without one.
  auto wild = brig({"policy", "set", "c1", "--allow", "*.openai.com", "--passthrough", "auth.openai.com"});
  EXPECT_EQ(wild.exit_code, 0) << wild.err;
  auto uncover = brig({"policy", "set", "c1", "--remove", "*.openai.com"});
  EXPECT_EQ(uncover.exit_code, 2);
  EXPECT_THAT(uncover.err, HasSubstr("auth.openai.com is not covered by any allow entry"));
}

TEST_F(PolicySetPassthroughTest, AllowRestrictedToPathsDoesNotCover) {
  cell("c1", "supervised", R"({"allow": [{"domain": "x.com", "paths": ["/v1/*"]}], "tls_passthrough": []})");
  auto out = brig({"policy", "set", "c1", "--passthrough", "x.com"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: cell c1: tls_passthrough[0]: x.com is allowed only for some paths or methods, which passthrough "
            "cannot enforce; allow the whole host or drop the passthrough\n"
            "fix: brig policy set c1 --remove x.com --allow x.com --passthrough x.com\n");
  EXPECT_EQ(brig({"policy", "set", "c1", "--remove", "x.com", "--allow", "x.com", "--passthrough", "x.com"}).exit_code, 0);
}

TEST_F(PolicySetPassthroughTest, UntrustedCellRefusesIt) {
  const std::string before = R"({"allow": ["x.com"], "deny": [], "tls_passthrough": []})";
  cell("u1", "untrusted", before);
  auto out = brig({"policy", "set", "u1", "--passthrough", "x.com"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: cell u1: tls_passthrough: the untrusted profile forbids TLS passthrough (uninspected egress)\n"
            "fix: run it again without --passthrough\n");
  EXPECT_EQ(read("policy/cells/u1.json"), before);
  EXPECT_EQ(brig({"policy", "set", "u1", "--allow", "y.com"}).exit_code, 0);  // other edits still work
}

}  // namespace
}  // namespace brig::testing
