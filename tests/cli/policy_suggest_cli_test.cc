// brig policy suggest through the binary: a cell's warden log in, allow
// rules out; re-applied with --apply they let the same requests through.
#include <gmock/gmock.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "brig/core/timefmt.h"
#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// One line of warden's log, as warden::LogWriter writes it (ts with milliseconds).
std::string record(const std::string& ts, const std::string& kind, const std::string& method, const std::string& host,
                   int port, const std::string& path, const std::string& code, const std::string& decision = "deny") {
  nlohmann::json j = {{"ts", ts},         {"cell", "c1"},          {"kind", kind},     {"tls", "mitm"},
                      {"method", method}, {"host", host},          {"port", port},     {"path", path},
                      {"status", 403},    {"decision", decision},  {"rule", "default deny"},
                      {"reason", "default deny: no allow rule matches the host"}};
  if (!code.empty()) j["code"] = code;
  return j.dump() + "\n";
}

class PolicySuggestCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    write("policy/cells/c1.json", R"({"allow": ["ok.test"], "deny": [], "tls_passthrough": []})");
    const std::string now = timefmt::rfc3339(timefmt::now_seconds() - 60);
    recent_ = now.substr(0, 19) + ".250Z";
  }
  // A log of denials: three paths of one directory, a POST, a tunnel to
  // another port, and what suggest must leave out.
  void write_log() {
    const std::string old = "2020-01-01T00:00:00.000Z";
    write("logs/cells/c1.jsonl",
          record(recent_, "http", "GET", "api.y.test", 443, "/v1/users/1", "no_rule") +
              record(recent_, "http", "GET", "api.y.test", 443, "/v1/users/2?page=2", "") +  // an older record: no code
              record(recent_, "http", "POST", "api.y.test", 443, "/v1/users/3", "no_rule") +
              record(recent_, "connect", "CONNECT", "reg.test", 8443, "", "no_rule") +
              record(recent_, "http", "GET", "ok.test", 443, "/", "", "allow") +
              record(recent_, "http", "GET", "evil.test", 443, "/", "denied_by_rule") +
              record(recent_, "ingress", "GET", "in.test", 443, "/", "no_rule") +
              "not json\n" +
              record(old, "connect", "CONNECT", "old.test", 443, "", "no_rule"));
    // A rotated file is read too.
    write("logs/cells/c1.jsonl.1", record(recent_, "http", "GET", "docs.test", 443, "/guide", "no_rule"));
  }
  // brig on a terminal (script(1)), its stdin fed `input`; exit_code -1 without script.
  proc::Output brig_on_tty(const std::string& args, const std::string& input) {
    proc::Output none;
    none.exit_code = -1;
    if (!std::filesystem::exists("/usr/bin/script")) return none;
    proc::Command c;
    c.argv = {"/usr/bin/script", "-qec", std::string(BRIG_BINARY) + " " + args, "/dev/null"};
    c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "NO_COLOR=1", "PATH=/usr/bin:/bin", "HOME=" + home_};
    c.cwd = home_;
    c.stdin_data = input;
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }
  int test_cell(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"policy", "test", "--cell", "c1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return brig(argv).exit_code;
  }
  std::string recent_;
};

constexpr const char* kYaml =
    "allow:\n"
    "  - domain: api.y.test\n"
    "    paths: [\"/v1/users/*\"]\n"
    "    methods: [GET, POST]\n"
    "  - domain: docs.test\n"
    "    paths: [\"/guide\"]\n"
    "    methods: [GET]\n"
    "  - \"reg.test:8443\"\n";

TEST_F(PolicySuggestCliTest, PrintsTheSmallestAllowRulesAsYaml) {
  write_log();
  auto out = brig({"policy", "suggest", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, StartsWith("# 5 denials of cell c1 since "));
  EXPECT_THAT(out.out, ::testing::EndsWith(std::string("\n") + kYaml));
  EXPECT_THAT(out.out, ::testing::Not(HasSubstr("old.test")));  // outside --since
  EXPECT_THAT(out.out, ::testing::Not(HasSubstr("evil.test")));  // a deny rule: no allow lifts it
  EXPECT_THAT(out.out, ::testing::Not(HasSubstr("in.test")));    // ingress
  // Ready to paste: it is a valid policy document.
  auto file = write("suggested.yaml", out.out);
  auto valid = brig({"policy", "validate", file});
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_THAT(valid.out, HasSubstr("valid (3 allow, 0 deny"));
  // A longer window takes the old record in.
  EXPECT_THAT(brig({"policy", "suggest", "c1", "--since", "36500d"}).out, HasSubstr("  - old.test\n"));
}

TEST_F(PolicySuggestCliTest, JsonIsAPolicyDocument) {
  write_log();
  auto out = brig({"policy", "suggest", "c1", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(nlohmann::json::parse(out.out), nlohmann::json::parse(R"({"allow": [
    {"domain": "api.y.test", "paths": ["/v1/users/*"], "methods": ["GET", "POST"]},
    {"domain": "docs.test", "paths": ["/guide"], "methods": ["GET"]},
    "reg.test:8443"]})"));
  // The global --format json too.
  EXPECT_EQ(nlohmann::json::parse(brig({"--format", "json", "policy", "suggest", "c1"}).out),
            nlohmann::json::parse(out.out));
}

// The suggestion re-applied lets each formerly denied request through, and
// only those.
TEST_F(PolicySuggestCliTest, ApplyLiftsEveryDenial) {
  write_log();
  const std::vector<std::vector<std::string>> denied = {
      {"https://api.y.test/v1/users/1"}, {"https://api.y.test/v1/users/2?page=2"},
      {"--method", "POST", "https://api.y.test/v1/users/3"}, {"reg.test:8443"}, {"https://docs.test/guide"}};
  for (const auto& t : denied) EXPECT_EQ(test_cell(t), 1) << t.back();
  // stdin is not a terminal: no question.
  auto out = brig({"policy", "suggest", "c1", "--apply"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("cell c1: 4 allow, 0 deny"));
  for (const auto& t : denied) EXPECT_EQ(test_cell(t), 0) << t.back();
  EXPECT_EQ(test_cell({"--method", "DELETE", "https://api.y.test/v1/users/1"}), 1);
  EXPECT_EQ(test_cell({"https://api.y.test/v2/x"}), 1);
  EXPECT_EQ(test_cell({"https://old.test/"}), 1);
  // Applied again: nothing left to suggest, nothing added twice.
  auto again = brig({"policy", "suggest", "c1", "--apply"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, ::testing::MatchesRegex("no denials since [-0-9T:]+Z that the cell's policy still refuses "
                                                 "\\(5 are allowed now\\)\n"));
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"].size(), 4u);
}

// On a terminal --apply asks first; anything but yes leaves the file alone.
TEST_F(PolicySuggestCliTest, ApplyAsksOnATerminal) {
  write_log();
  const std::string before = read("policy/cells/c1.json");
  auto no = brig_on_tty("policy suggest c1 --apply", "n\n");
  if (no.exit_code == -1) GTEST_SKIP() << "no /usr/bin/script";
  EXPECT_EQ(no.exit_code, 1) << no.out;
  EXPECT_THAT(no.out, HasSubstr("apply 3 rules to cell c1? [y/N] "));
  EXPECT_THAT(no.out, HasSubstr("error: not applied: cell c1's policy is unchanged\r\n"
                                "fix: brig policy suggest c1 --since 1h --apply --yes\r\n"));
  EXPECT_EQ(read("policy/cells/c1.json"), before);
  auto yes = brig_on_tty("policy suggest c1 --apply", "y\n");
  EXPECT_EQ(yes.exit_code, 0) << yes.out;
  EXPECT_THAT(yes.out, HasSubstr("cell c1: 4 allow"));
  // --yes does not ask.
  write("policy/cells/c1.json", before);
  auto forced = brig_on_tty("policy suggest c1 --apply --yes", "");
  EXPECT_EQ(forced.exit_code, 0) << forced.out;
  EXPECT_THAT(forced.out, ::testing::Not(HasSubstr("[y/N]")));
  EXPECT_EQ(nlohmann::json::parse(read("policy/cells/c1.json"))["allow"].size(), 4u);
}

TEST_F(PolicySuggestCliTest, NoDenials) {
  auto none = brig({"policy", "suggest", "c1"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, ::testing::MatchesRegex("no denials since [-0-9T:]+Z\n"));
  auto json = brig({"policy", "suggest", "c1", "--format", "json"});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(json.out), nlohmann::json::parse(R"({"allow": []})"));
  // Only old denials: none in the window.
  write("logs/cells/c1.jsonl", record("2020-01-01T00:00:00.000Z", "http", "GET", "x.test", 443, "/", "no_rule"));
  EXPECT_THAT(brig({"policy", "suggest", "c1", "--since", "2h"}).out, StartsWith("no denials since "));
}

TEST_F(PolicySuggestCliTest, BadInput) {
  auto since = brig({"policy", "suggest", "c1", "--since", "soon"});
  EXPECT_EQ(since.exit_code, 2);
  EXPECT_EQ(since.err,
            "error: invalid --since \"soon\"; give a positive duration such as 90s, 15m, 2h or 1d\n"
            "fix: brig policy suggest c1 --since 1h\n");
  EXPECT_EQ(brig({"policy", "suggest", "c1", "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(brig({"policy", "suggest", "../c1"}).exit_code, 2);
  // --apply needs the cell's policy file; the file is left alone otherwise.
  write("logs/cells/gone.jsonl", record(recent_, "http", "GET", "x.test", 443, "/", "no_rule"));
  EXPECT_THAT(brig({"policy", "suggest", "gone"}).out, HasSubstr("  - domain: x.test\n"));
  auto gone = brig({"policy", "suggest", "gone", "--apply"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("no policy for cell \"gone\""));
}

TEST_F(PolicySuggestCliTest, AirgappedCellRefusesApply) {
  const std::string before = R"({"allow": [], "airgapped": true})";
  write("policy/cells/c1.json", before);
  write_log();
  auto out = brig({"policy", "suggest", "c1", "--apply", "--yes"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("cell c1 is airgapped: it may reach nothing"));
  EXPECT_EQ(read("policy/cells/c1.json"), before);
}

}  // namespace
}  // namespace brig::testing
