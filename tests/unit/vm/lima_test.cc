// The Lima driver over a FakeRunner: argv, states and their errors.
#include "brig/vm/lima.h"

#include <gmock/gmock.h>
#include <stdlib.h>

#include <filesystem>

#include "brig/core/fs.h"
#include "fakes/fake_runner.h"

namespace brig::vm {
namespace {

using ::testing::HasSubstr;
using Argv = std::vector<std::string>;
const std::string L = "/usr/local/bin/limactl";

proc::Output listing(const std::string& status) {
  proc::Output o;
  if (!status.empty()) o.out = R"({"name":"brig","status":")" + status + R"(","cpus":2})" "\n";
  return o;
}

class LimaTest : public ::testing::Test {
 protected:
  testing::FakeRunner runner;
  Lima lima{runner, L};

  void state(const std::string& status) { runner.on({L, "list"}, listing(status)); }
  std::vector<Argv> calls() const {
    std::vector<Argv> out;
    for (const auto& c : runner.calls) out.push_back(c.argv);
    return out;
  }
};

TEST_F(LimaTest, StatusAsksLimactlListJson) {
  state("Running");
  auto st = lima.status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, State::running);
  EXPECT_EQ(calls(), (std::vector<Argv>{{L, "list", "--json", "brig"}}));
}

TEST_F(LimaTest, StatusTreatsNoInstanceMessageAsAbsent) {
  proc::Output o;
  o.exit_code = 1;
  o.err = "level=fatal msg=\"No instance matching brig found.\"\n";
  runner.on({L, "list"}, o);
  EXPECT_EQ(lima.status()->state, State::absent);
}

TEST_F(LimaTest, StatusReportsOtherLimactlFailures) {
  proc::Output o;
  o.exit_code = 1;
  o.err = "permission denied\n";
  runner.on({L, "list"}, o);
  auto st = lima.status();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("permission denied"));
  EXPECT_EQ(st.error().fix(), "check Lima itself: limactl list");
}

TEST_F(LimaTest, CreateRendersTheTemplateAndRunsLimactlCreate) {
  state("");
  char tmpl[] = "/tmp/brig-vm-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string home = tmpl;
  TemplateValues v{home, BRIG_SOURCE_DIR, 2, "4GiB", "20GiB"};
  ASSERT_TRUE(lima.create(v, home + "/lima.yaml").ok());
  ASSERT_EQ(runner.calls.size(), 2u);
  EXPECT_EQ(runner.calls[1].argv, (Argv{L, "create", "--name=brig", "--tty=false", home + "/lima.yaml"}));
  EXPECT_TRUE(runner.calls[1].inherit_stdio);  // Lima's progress reaches the user
  auto text = fs::read_file(home + "/lima.yaml");
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("memory: \"4GiB\""));
  std::filesystem::remove_all(home);
}

TEST_F(LimaTest, CreateRefusesAnExistingVm) {
  state("Stopped");
  auto st = lima.create(TemplateValues{"/tmp/h", BRIG_SOURCE_DIR}, "/nonexistent/lima.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::exists);
  EXPECT_EQ(st.error().message(), "the brig VM already exists (Stopped)");
  EXPECT_THAT(st.error().fix(), HasSubstr("brig vm delete"));
  EXPECT_EQ(runner.calls.size(), 1u);
}

TEST_F(LimaTest, StartOnlyAStoppedVm) {
  state("Stopped");
  ASSERT_TRUE(lima.start().ok());
  EXPECT_EQ(calls().back(), (Argv{L, "start", "--tty=false", "brig"}));

  testing::FakeRunner running;
  running.on({L, "list"}, listing("Running"));
  ASSERT_TRUE(Lima(running, L).start().ok());
  EXPECT_EQ(running.calls.size(), 1u);  // already running: nothing to do
}

TEST_F(LimaTest, StartAbsentSaysCreate) {
  state("");
  auto st = lima.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "the brig VM does not exist");
  EXPECT_EQ(st.error().fix(), "brig vm create");
}

TEST_F(LimaTest, StartFailureCarriesTheExitCode) {
  state("Stopped");
  proc::Output bad;
  bad.exit_code = 3;
  runner.on({L, "start"}, bad);
  auto st = lima.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "limactl start failed (exit 3)");
  EXPECT_THAT(st.error().fix(), HasSubstr("docs/macos.md"));
}

TEST_F(LimaTest, Stop) {
  state("Running");
  ASSERT_TRUE(lima.stop().ok());
  EXPECT_EQ(calls().back(), (Argv{L, "stop", "brig"}));
}

TEST_F(LimaTest, DeleteARunningVmNeedsForce) {
  state("Running");
  auto st = lima.remove(false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "the brig VM is running");
  EXPECT_THAT(st.error().fix(), HasSubstr("--force"));
  ASSERT_TRUE(lima.remove(true).ok());
  EXPECT_EQ(calls().back(), (Argv{L, "delete", "--force", "brig"}));
}

TEST_F(LimaTest, DeleteStoppedAndAbsent) {
  state("Stopped");
  ASSERT_TRUE(lima.remove(false).ok());
  EXPECT_EQ(calls().back(), (Argv{L, "delete", "brig"}));
  testing::FakeRunner none;
  none.on({L, "list"}, listing(""));
  auto st = Lima(none, L).remove(true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
}

TEST_F(LimaTest, RequireRunningNamesTheFix) {
  struct Case {
    std::string status, message, fix;
  } cases[] = {
      {"", "the brig VM does not exist (on macOS brig runs cells inside it)", "brig vm create && brig vm start"},
      {"Stopped", "the brig VM is stopped", "brig vm start"},
      {"Starting", "the brig VM is not running (Lima reports \"Starting\")", "brig vm start"},
  };
  for (const auto& c : cases) {
    testing::FakeRunner r;
    r.on({L, "list"}, listing(c.status));
    auto st = Lima(r, L).require_running();
    ASSERT_FALSE(st.ok()) << c.status;
    EXPECT_EQ(st.error().message(), c.message);
    EXPECT_EQ(st.error().fix(), c.fix);
    EXPECT_EQ(st.error().exit_code(), 1);
  }
  state("Running");
  EXPECT_TRUE(lima.require_running().ok());
}

TEST(FindLimactl, MissingSaysBrewInstallLima) {
  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent-brig-test", 1);
  auto p = find_limactl();
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Errc::not_found);
  EXPECT_EQ(p.error().fix(), "brew install lima");
}

}  // namespace
}  // namespace brig::vm
