// Errors that tell the truth: a bad flag or setting is named for what it is,
// every problem is reported at once, and a fix line is a command that works.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// --- brig run: flags ---

TEST_F(CliTest, RunAllowGivenAUrlSaysGiveAHost) {
  auto out = brig({"run", "--dry-run", "--allow", "https://api.example.com/", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: --allow: \"https://api.example.com/\" is a URL; give a host, not a URL: --allow api.example.com\n");
  // The hint works as printed.
  EXPECT_EQ(brig({"run", "--dry-run", "--allow", "api.example.com", "img"}).exit_code, 0);
}

TEST_F(CliTest, RunPidsLimitThatIsNotANumberIsNotCli11sMessage) {
  auto out = brig({"run", "--dry-run", "--pids-limit", "abc", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: --pids-limit: must be a whole number, e.g. --pids-limit 4096 (got \"abc\")\n");
  EXPECT_THAT(out.err, Not(HasSubstr("Could not convert")));
  EXPECT_EQ(brig({"run", "--dry-run", "--pids-limit", "4096", "img"}).exit_code, 0);
}

// Every flag problem at once, the pids limit among them.
TEST_F(CliTest, RunReportsEveryBadFlagAtOnce) {
  auto out = brig({"run", "--dry-run", "--env", "NOEQ", "--memory", "2x", "--pids-limit", "x", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("error: --env: \"NOEQ\" is not KEY=VALUE"));
  EXPECT_THAT(out.err, HasSubstr("error: --memory: memory: invalid size \"2x\""));
  EXPECT_THAT(out.err, HasSubstr("error: --pids-limit: must be a whole number"));
}

// A spec file: an unknown key, a wrongly typed field and a bad value, all at once.
TEST_F(CliTest, SpecFileReportsUnknownKeyWrongTypeAndTheOthersAtOnce) {
  auto file = write("cell.yaml", "image: img\nmemroy: 2g\npids_limit: lots\ntimeout: soon\n"
                                 "policy: {deny: [\"evil.example:443\"]}\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr(file + ":2: unknown key \"memroy\""));
  EXPECT_THAT(out.err, HasSubstr(file + ":3: pids_limit: "));
  EXPECT_THAT(out.err, HasSubstr(file + ":4: timeout: invalid duration \"soon\""));
  EXPECT_THAT(out.err, HasSubstr(file + ":5: policy.deny[0]: \"evil.example:443\" has a port, but a deny rule blocks "
                                        "a host on every port; give the host: evil.example"));
}

// --cpus beyond the host is a host check (brig run, brig cell preflight), not
// a spec rule: a dry run, which asks nothing of the host, accepts it.
TEST_F(CliTest, RunDryRunLeavesCpusToTheHostChecks) {
  auto out = brig({"run", "--dry-run", "--cpus", "2000", "img"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(brig({"run", "--dry-run", "--cpus", "0", "img"}).exit_code, 2);
}

// --- brig policy set: flags are judged as flags ---

TEST_F(CliTest, PolicySetDenyWithAPortNamesTheFlagNotAFile) {
  const std::string before = R"({"allow": ["api.github.com"], "deny": [], "tls_passthrough": []})";
  write("policy/cells/c1.json", before);
  auto out = brig({"policy", "set", "c1", "--deny", "host.example:443"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: --deny: \"host.example:443\" has a port, but a deny rule blocks a host on every port; give the "
            "host: --deny host.example\n"
            "fix: brig policy set c1 --deny host.example\n");
  EXPECT_THAT(out.err, Not(HasSubstr("IPv6")));
  EXPECT_THAT(out.err, Not(HasSubstr("c1.json")));
  EXPECT_EQ(read("policy/cells/c1.json"), before);
  // The fix works as printed.
  auto fixed = brig({"policy", "set", "c1", "--deny", "host.example"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["deny"], nlohmann::json::array({"host.example"}));
}

TEST_F(CliTest, PolicySetReportsEveryBadFlagWithOneCorrectedCommand) {
  write("policy/cells/c1.json", R"({"allow": [], "deny": [], "tls_passthrough": []})");
  auto out = brig({"policy", "set", "c1", "--allow", "https://x.example/", "--deny", "evil.example"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: --allow: \"https://x.example/\" is a URL; give a host, not a URL: --allow x.example\n"
            "fix: brig policy set c1 --allow x.example --deny evil.example\n");
  auto two = brig({"policy", "set", "c1", "--allow", "http://a.example:8080", "--deny", "bad host"});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_THAT(two.err, HasSubstr("error: --allow: \"http://a.example:8080\" is a URL"));
  EXPECT_THAT(two.err, HasSubstr("\nerror: --deny: \"bad host\": "));
  EXPECT_THAT(two.err, HasSubstr("fix: brig policy set --help\n"));
}

// --- brig warden serve: the resolver and transparent listeners ---

TEST_F(CliTest, WardenServeRefusesABadTransparentOrResolverAddressBeforeListening) {
  auto port = brig({"warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--http-listen",
                    "0.0.0.0"});
  EXPECT_NE(port.exit_code, 0);
  EXPECT_THAT(port.err, HasSubstr("0.0.0.0"));
  auto v6 = brig({"warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--dns-listen",
                  "[::1]:0"});
  EXPECT_NE(v6.exit_code, 0);
  EXPECT_THAT(v6.err, HasSubstr("invalid DNS listen address [::1]:0"));
  EXPECT_THAT(v6.err, HasSubstr("an IPv4 ADDR:PORT, e.g. 0.0.0.0:53"));
}

}  // namespace
}  // namespace brig::testing
