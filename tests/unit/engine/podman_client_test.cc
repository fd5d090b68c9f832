// The podman client: argv, the not-installed error, and each typed query.
#include "brig/engine/podman_client.h"

#include <gtest/gtest.h>

#include "fakes/fake_runner.h"

namespace brig::engine {
namespace {

using brig::testing::canned;
using brig::testing::FakeRunner;
using Argv = std::vector<std::string>;

TEST(Podman, RunPrefixesPodmanOnceAndSetsTheTimeout) {
  FakeRunner fake;
  Podman p(fake);
  ASSERT_TRUE(p.run({"ps"}, std::chrono::seconds(7)).ok());
  ASSERT_TRUE(p.run({"podman", "ps"}).ok());
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[0].argv, (Argv{"podman", "ps"}));
  EXPECT_EQ(fake.calls[0].timeout, std::chrono::seconds(7));
  EXPECT_EQ(fake.calls[1].argv, (Argv{"podman", "ps"}));
  EXPECT_EQ(fake.calls[1].timeout, std::chrono::seconds(120));
}

TEST(Podman, NotInstalledIsUnavailableWithTheInstallFix) {
  FakeRunner fake;
  fake.fail({"podman"}, Error(Errc::not_found, "podman: command not found"));
  Podman p(fake);
  auto out = p.run({"ps"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code(), Errc::unavailable);
  EXPECT_EQ(out.error().message(), "podman is not installed");
  EXPECT_EQ(out.error().fix(), "sudo apt-get install podman (or scripts/bootstrap.sh)");
  auto running = p.is_warden_running();
  ASSERT_FALSE(running.ok());
  EXPECT_EQ(running.error().code(), Errc::unavailable);
  EXPECT_FALSE(p.image_exists("x"));
}

TEST(Podman, IsWardenRunning) {
  const Argv q = {"podman", "container", "inspect", "--format", "{{.State.Running}}", "brig-warden"};
  for (const auto& [code, text, want] : std::vector<std::tuple<int, std::string, bool>>{
           {0, "true\n", true}, {0, "false\n", false}, {125, "", false}}) {
    FakeRunner fake;
    fake.on(q, canned(code, text));
    auto r = Podman(fake).is_warden_running();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, want) << text;
    EXPECT_EQ(fake.calls.at(0).argv, q);
  }
}

TEST(Podman, ExistsQueries) {
  FakeRunner fake;
  fake.on({"podman", "image", "exists", "img"}, canned(0));
  fake.on({"podman", "image", "exists", "other"}, canned(1));
  fake.on({"podman", "container", "exists", "brig-c1"}, canned(0));
  fake.on({"podman", "container", "exists", "brig-c2"}, canned(1));
  fake.on({"podman", "network", "exists", "brig-c1"}, canned(0));
  fake.on({"podman", "network", "exists", "brig-c2"}, canned(1));
  Podman p(fake);
  EXPECT_TRUE(p.image_exists("img"));
  EXPECT_FALSE(p.image_exists("other"));
  EXPECT_TRUE(p.container_exists("brig-c1"));
  EXPECT_FALSE(p.container_exists("brig-c2"));
  EXPECT_TRUE(p.network_exists("brig-c1"));
  EXPECT_FALSE(p.network_exists("brig-c2"));
}

TEST(Podman, ContainerState) {
  const Argv q = {"podman", "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "brig-c1"};
  FakeRunner fake;
  fake.on(q, canned(0, "exited 137\n"));
  auto st = Podman(fake).container_state("brig-c1");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->has_value());
  EXPECT_EQ((*st)->status, "exited");
  EXPECT_EQ((*st)->exit_code, 137);

  FakeRunner none;
  none.on(q, canned(125, "", "no such container"));
  auto missing = Podman(none).container_state("brig-c1");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST(Podman, OnTerminalInheritsStdioAndReturnsTheExitCode) {
  FakeRunner fake;
  fake.on({"podman", "logs"}, canned(3));
  proc::Command c;
  c.argv = {"podman", "logs", "brig-c1"};
  auto rc = Podman(fake).on_terminal(c);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 3);
  EXPECT_TRUE(fake.calls.at(0).inherit_stdio);
}

}  // namespace
}  // namespace brig::engine
