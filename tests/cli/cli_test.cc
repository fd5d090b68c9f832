// The CLI surface: cheat-sheet, version, unknown commands and flags, stubs.
#include "cli/cli_harness.h"

#include <gmock/gmock.h>

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(CliTest, BareBrigPrintsGroupedCheatSheet) {
  auto out = brig({});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("Cells\n"));
  EXPECT_THAT(out.out, HasSubstr("Policy\n"));
  EXPECT_THAT(out.out, HasSubstr("System\n"));
  EXPECT_THAT(out.out, HasSubstr("brig run"));
}

TEST_F(CliTest, VersionIsSemver) {
  auto out = brig({"--version"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, ::testing::MatchesRegex("brig [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_F(CliTest, UnknownCommandSuggests) {
  auto out = brig({"clel", "list"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown command \"clel\" for 'brig'; did you mean 'cell'?\n"));
}

TEST_F(CliTest, UnknownVerbSuggests) {
  auto out = brig({"cell", "lst"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown command \"lst\" for 'brig cell'; did you mean 'list'?\n"));
}

TEST_F(CliTest, UnknownFlagSuggests) {
  auto out = brig({"policy", "test", "--metod", "GET", "https://x.com/"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown flag \"--metod\" for 'brig policy test'; did you mean '--method'?\n"));
}

TEST_F(CliTest, UnknownCommandWithoutCloseMatchHasNoSuggestion) {
  auto out = brig({"zzzzzz"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: unknown command \"zzzzzz\" for 'brig'\nfix: see 'brig --help'\n");
}

TEST_F(CliTest, MissingRequiredArgumentIsUsageError) {
  auto out = brig({"policy", "validate"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: "));
}

TEST_F(CliTest, VerbsFromLaterIssuesFailLoudly) {
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"cell", "list"}, {"system", "up"}, {"secrets", "list"}, {"image", "build", "."}, {"warden", "health"}}) {
    auto out = brig(argv);
    EXPECT_EQ(out.exit_code, 1) << argv[0] << " " << argv[1];
    EXPECT_THAT(out.err, HasSubstr("is not available yet")) << argv[0] << " " << argv[1];
    EXPECT_EQ(out.out, "");
  }
}

TEST_F(CliTest, RunWithoutDryRunIsNotAvailableYet) {
  auto out = brig({"run", "localhost/x:latest", "true"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("'brig run' is not available yet"));
}

TEST_F(CliTest, NounAloneShowsItsVerbs) {
  auto out = brig({"cell"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("inspect"));
  EXPECT_THAT(out.out, HasSubstr("preflight"));
}

TEST_F(CliTest, EverySpecVerbIsRegistered) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> tree = {
      {"cell", {"list", "inspect", "logs", "exec", "shell", "stop", "kill", "start", "restart", "rm", "wait", "cp",
                "read", "stats", "top", "network", "events", "preflight", "diff", "export"}},
      {"image", {"build", "pull", "verify"}},
      {"system", {"init", "up", "down", "restart", "doctor", "verify", "prune", "stats", "events", "history"}},
      {"policy", {"validate", "show", "test", "set", "rm"}},
      {"secrets", {"add", "list", "rm"}},
      {"config", {"get", "set", "list"}},
      {"vm", {"create", "start", "stop", "status", "shell", "delete"}},
      {"warden", {"serve", "status", "stats", "health", "policy"}},
  };
  for (const auto& [noun, verbs] : tree) {
    for (const auto& verb : verbs) {
      auto out = brig({noun, verb, "--help"});
      EXPECT_EQ(out.exit_code, 0) << noun << " " << verb;
      EXPECT_THAT(out.out, HasSubstr(verb)) << noun << " " << verb;
    }
  }
}

TEST_F(CliTest, VmStatusOnLinuxSaysNative) {
  auto out = brig({"vm", "status"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("native"));
  auto js = brig({"--format", "json", "vm", "status"});
  EXPECT_THAT(js.out, HasSubstr("\"mode\": \"native\""));
}

TEST_F(CliTest, BadFormatValueIsUsageError) {
  auto out = brig({"--format", "yaml", "vm", "status"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: "));
}

}  // namespace
}  // namespace brig::testing
