// brig policy validate|test|show through the binary.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "brig/core/paths.h"
#include "brig/core/timefmt.h"
#include "brig/policy/target.h"
#include "cli/cli_harness.h"
#include "warden/metrics.h"
#include "warden/snapshot.h"

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
  // The decision once: the matching rule already starts with "allow".
  EXPECT_EQ(allow.out, "allow api.github.com (" + policy_ + ":3)\n");

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
  EXPECT_EQ(j["resolves"], false);
}

// What the cell's resolver answers: a name some rule names resolves, even
// where this request is denied (its path, method or port); others do not.
TEST_F(PolicyCliTest, JsonSaysWhetherTheNameResolves) {
  auto cell = write("paths.yaml", "image: x\npolicy:\n  allow:\n    - domain: api.test\n      paths: [/v1/*]\n");
  auto json = [&](const std::string& target) {
    return nlohmann::json::parse(brig({"--format", "json", "policy", "test", "--file", cell, target}).out);
  };
  EXPECT_EQ(json("https://api.test/v1/x")["resolves"], true);
  auto path = json("https://api.test/v2/x");
  EXPECT_EQ(path["decision"], "deny");
  EXPECT_EQ(path["resolves"], true);
  EXPECT_EQ(json("https://other.test/")["resolves"], false);
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

// `policy show` prints the rate limit warden enforces (policy::effective).
TEST_F(PolicyCliTest, ShowPrintsTheResolvedRateLimit) {
  auto out = brig({"policy", "show", "--policy", policy_});
  EXPECT_THAT(out.out, ::testing::EndsWith("\nrate limit: 100 requests/s, burst 500\n"));
  write("policy/cells/c1.json", R"({"allow": ["x.test"], "rate_limits": {"default": {"rate": 2, "burst": 4}}})");
  out = brig({"policy", "show", "c1", "--policy", policy_});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("allow x.test ("));
  EXPECT_THAT(out.out, ::testing::EndsWith("\nrate limit: 2 requests/s, burst 4\n"));
  auto json = brig({"--format", "json", "policy", "show", "c1", "--policy", policy_});
  EXPECT_EQ(nlohmann::json::parse(json.out)["rate_limit"], nlohmann::json::parse(R"({"rate": 2.0, "burst": 4.0})"));
  EXPECT_EQ(brig({"policy", "show"}).out, "no allow rules: everything is denied (default deny)\nrate limit: none\n");
  write("policy/cells/air.json", R"({"allow": [], "airgapped": true})");
  EXPECT_THAT(brig({"policy", "show", "air"}).out, StartsWith("airgapped: everything is denied\n"));
}

// `policy show CELL` names the cell's host services, as warden's table has them.
TEST_F(PolicyCliTest, ShowNamesTheCellsHostServices) {
  write("policy/cells/c1.json", R"({"allow": []})");
  write("state/system/host-services.json",
        R"({"c1": {"address": "10.60.3.10", "running": true, "services": [{"name": "db", "port": 5432, "protocol": "tcp"},)"
        R"( {"name": "llm", "port": 4000, "protocol": "http"}]}})");
  auto out = brig({"policy", "show", "c1", "--policy", policy_});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, ::testing::EndsWith("host service db: tcp://db.host.brig:5432 -> this host's port 5432\n"
                                           "host service llm: http://llm.host.brig/ -> this host's port 4000\n"));
  auto json = nlohmann::json::parse(brig({"--format", "json", "policy", "show", "c1", "--policy", policy_}).out);
  EXPECT_EQ(json["host_services"][0]["name"], "db");
  EXPECT_EQ(json["host_services"][1]["protocol"], "http");
}

// `brig policy test --cell` and warden's snapshot (warden::build_snapshot)
// read the same files and reach the same verdict through the same rule.
TEST_F(PolicyCliTest, PolicyTestAgreesWithWarden) {
  const Paths paths(home_);
  write("policy/network-policy.json", R"({
  "allow": ["g.test", "*.shared.test", {"domain": "api.test", "paths": ["/v1/*"], "methods": ["GET"]}],
  "deny": ["bad.shared.test"]
})");
  write("policy/cells/c1.json", R"({"allow": ["bad.shared.test", "own.test:8443", "api.test"], "deny": ["g.test"]})");
  write("policy/cells/c2.json", R"({"allow": ["own.test"], "airgapped": true})");
  write("state/system/subnet-map.json", R"({"10.60.1.0/24": "c1", "10.60.2.0/24": "c2"})");
  ASSERT_EQ(paths.subnet_map(), home_ + "/state/system/subnet-map.json");
  ASSERT_EQ(paths.global_policy(), home_ + "/policy/network-policy.json");

  auto source = [](const std::string& path) { return warden::SourceFile{path, fs::read_file(path)}; };
  warden::SnapshotSources in;
  in.subnet_map = source(paths.subnet_map());
  in.global_policy = source(paths.global_policy());
  for (const char* c : {"c1", "c2"}) in.cell_policies.emplace(c, source(paths.cell_policy(c)));
  warden::Metrics metrics;
  const auto built = warden::build_snapshot(in, warden::Snapshot{}, metrics);
  ASSERT_TRUE(built.errors.empty()) << built.errors.front();

  int allowed = 0, denied = 0;
  for (const char* cell : {"c1", "c2"}) {
    const warden::CellState* state = built.snapshot->cell_named(cell);
    ASSERT_NE(state, nullptr) << cell;
    for (const char* target : {"https://g.test/", "https://x.shared.test/", "https://bad.shared.test/",
                               "own.test:8443", "https://own.test/", "https://api.test/v1/x",
                               "https://api.test/v2/x", "http://api.test/v1/x", "https://else.test/"}) {
      auto cli = brig({"--format", "json", "policy", "test", "--cell", cell, target});
      ASSERT_TRUE(cli.exit_code == 0 || cli.exit_code == 1) << cell << " " << target << ": " << cli.err;
      const auto j = nlohmann::json::parse(cli.out);
      auto t = policy::parse_target(target);
      ASSERT_TRUE(t) << target;
      const std::string method = t->connect_only ? "" : "GET";
      const auto v = state->policy->evaluate({t->host, t->port, method, t->path});
      const std::string what = std::string(cell) + " " + target;
      EXPECT_EQ(j["decision"], v.allowed() ? "allow" : "deny") << what;
      EXPECT_EQ(j["rule"], std::string(v.rule)) << what;
      EXPECT_EQ(j["reason"], std::string(policy::reason_text(v.reason))) << what;
      EXPECT_EQ(cli.exit_code, v.allowed() ? 0 : 1) << what;
      (v.allowed() ? allowed : denied)++;
    }
  }
  // Both sides of the comparison were exercised.
  EXPECT_GT(allowed, 0);
  EXPECT_GT(denied, 0);
  // The cases that show the assembly: a cell's allow does not lift a global
  // deny, a cell's deny beats a global allow, airgapped wins over all.
  auto rule = [&](const char* cell, const char* target) {
    return nlohmann::json::parse(brig({"--format", "json", "policy", "test", "--cell", cell, target}).out)["rule"];
  };
  EXPECT_EQ(rule("c1", "https://bad.shared.test/"), "deny bad.shared.test (" + paths.global_policy() + ":3)");
  EXPECT_EQ(rule("c1", "https://g.test/"), "deny g.test (" + paths.cell_policy("c1") + ":1)");
  EXPECT_EQ(nlohmann::json::parse(brig({"--format", "json", "policy", "test", "--cell", "c2", "https://own.test/"}).out)["reason"],
            "the cell is airgapped: no egress at all");
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
  // Host services: the spec's rules, one line and a fix, nothing changed.
  auto no_port = brig({"policy", "set", "c1", "--host-service", "db"});
  EXPECT_EQ(no_port.exit_code, 2);
  EXPECT_EQ(no_port.err, "error: --host-service db: give NAME:PORT[/tcp]\n"
                         "fix: e.g. --host-service db:5432/tcp or --host-service llm:4000\n");
  auto reserved = brig({"policy", "set", "c1", "--host-service", "db:8443/tcp", "--allow", "example.com"});
  EXPECT_EQ(reserved.exit_code, 2);
  EXPECT_THAT(reserved.err, HasSubstr("8443 is reserved by warden"));
  EXPECT_EQ(read("policy/cells/c1.json"), before);  // the --allow of the same command did not land either
  auto no_cell = brig({"policy", "set", "nope", "--host-service", "db:5432/tcp"});
  EXPECT_EQ(no_cell.exit_code, 1);
  EXPECT_THAT(no_cell.err, HasSubstr("no cell named \"nope\""));
  write("policy/cells/air.json", R"({"allow": [], "airgapped": true})");
  auto air = brig({"policy", "set", "air", "--allow", "example.com"});
  EXPECT_EQ(air.exit_code, 2);
  EXPECT_THAT(air.err, HasSubstr("airgapped"));
}

// `policy set --ttl`: a time-boxed grant, written with its end, shown with
// the time left; once lapsed, show and test leave it out as warden does.
TEST_F(PolicyCliTest, SetTtlAddsATimeBoxedGrant) {
  write("policy/cells/c1.json", R"({"allow": ["perm.test"], "deny": [], "tls_passthrough": []})");
  const auto before = timefmt::now_seconds();
  auto out = brig({"policy", "set", "c1", "--allow", "api.x.test", "--ttl", "15m"});
  const auto after = timefmt::now_seconds();
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const auto j = nlohmann::json::parse(read("policy/cells/c1.json"));
  ASSERT_EQ(j["allow"].size(), 2u);
  ASSERT_TRUE(j["allow"][1].is_object()) << j.dump();
  EXPECT_EQ(j["allow"][1]["domain"], "api.x.test");
  const std::string ends = j["allow"][1]["expires"];
  const auto t = timefmt::parse_rfc3339(ends);
  ASSERT_TRUE(t) << ends;
  EXPECT_GE(*t, before + 900);
  EXPECT_LE(*t, after + 900);
  EXPECT_THAT(out.out, StartsWith("allow api.x.test until " + ends + " (15m)\ncell c1: 2 allow, 0 deny"));

  auto show = brig({"policy", "show", "c1"});
  EXPECT_THAT(show.out, ::testing::ContainsRegex("allow api.x.test \\(.*c1.json:[0-9]+\\) until " + ends +
                                                 " \\(1[45]m left\\)\n"));
  auto json = nlohmann::json::parse(brig({"--format", "json", "policy", "show", "c1"}).out);
  EXPECT_EQ(json["cell"]["allow"][1]["expires"], ends);
  auto test = brig({"policy", "test", "--cell", "c1", "https://api.x.test/"});
  EXPECT_EQ(test.exit_code, 0);
  EXPECT_THAT(test.out, ::testing::ContainsRegex("^allow api.x.test .* until " + ends + " \\(1[45]m left\\)\n$"));

  // A permanent rule stays permanent; --allow without --ttl makes a grant permanent.
  auto perm = brig({"policy", "set", "c1", "--allow", "perm.test", "--ttl", "1h"});
  EXPECT_EQ(perm.exit_code, 0) << perm.err;
  EXPECT_THAT(perm.out, StartsWith("allow perm.test: already allowed without a time limit (kept)\n"));
  auto renew = brig({"policy", "set", "c1", "--allow", "api.x.test", "--ttl", "2h"});
  EXPECT_THAT(renew.out, HasSubstr("allow api.x.test until "));
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"].size(), 2u);
  auto keep = brig({"policy", "set", "c1", "--allow", "api.x.test"});
  EXPECT_THAT(keep.out, StartsWith("allow api.x.test: now without a time limit\n"));
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"],
            nlohmann::json::parse(R"(["perm.test", "api.x.test"])"));
}

TEST_F(PolicyCliTest, LapsedGrantIsNotAllowedAndIsDroppedOnTheNextSet) {
  write("policy/cells/c1.json", R"({"allow": ["perm.test", {"domain": "old.test", "expires": "2020-01-01T00:00:00Z"}]})");
  auto show = brig({"policy", "show", "c1"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("allow perm.test"));
  EXPECT_THAT(show.out, ::testing::Not(HasSubstr("old.test")));
  auto json = brig({"--format", "json", "policy", "show", "c1"});
  EXPECT_EQ(nlohmann::json::parse(json.out)["cell"]["allow"], nlohmann::json::parse(R"(["perm.test"])"));
  auto test = brig({"policy", "test", "--cell", "c1", "https://old.test/"});
  EXPECT_EQ(test.exit_code, 1);
  EXPECT_THAT(test.out, StartsWith("deny default deny"));
  auto set = brig({"policy", "set", "c1", "--deny", "evil.test"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, StartsWith("dropped 1 lapsed time-boxed rule\n"));
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"], nlohmann::json::parse(R"(["perm.test"])"));
}

TEST_F(PolicyCliTest, BadTtlIsAUsageError) {
  const std::string before = R"({"allow": ["perm.test"], "deny": [], "tls_passthrough": []})";
  write("policy/cells/c1.json", before);
  for (const char* bad : {"0", "soon", "-5m"}) {
    auto out = brig({"policy", "set", "c1", "--allow", "a.test", "--allow", "b.test", "--ttl", bad});
    EXPECT_EQ(out.exit_code, 2) << bad;
    EXPECT_EQ(out.err, std::string("error: invalid --ttl \"") + bad +
                           "\"; give a positive duration such as 90s, 15m, 2h or 1d\n"
                           "fix: brig policy set c1 --allow a.test --allow b.test --ttl 15m\n");
  }
  auto alone = brig({"policy", "set", "c1", "--deny", "x.test", "--ttl", "15m"});
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_EQ(alone.err,
            "error: --ttl limits the --allow rules of the same command, and there are none\n"
            "fix: brig policy set c1 --allow HOST --ttl 15m\n");
  EXPECT_EQ(read("policy/cells/c1.json"), before);
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
