// The system side: prune, doctor's health wait.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "brig/engine/subnets.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

// --- prune ---

TEST_F(EngineTest, PruneDryRunListsAndKeeps) {
  ASSERT_TRUE(allocate_subnet(paths, "c1").ok());
  write_record("c1", 1);
  fake.on({"podman", "ps"}, out(0, kPs));
  spit(paths.cell_state("orphan") + "/workspace/f", "x");
  ASSERT_TRUE(allocate_subnet(paths, "ghost").ok());

  auto done = engine.prune(PruneOptions{.dry_run = true});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(*done, (std::vector<std::string>{"orphan state " + paths.cell_state("orphan"),
                                             "stale subnet 10.60.2.0/24 (ghost)"}));
  EXPECT_TRUE(exists(paths.cell_state("orphan") + "/workspace/f"));
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}, {"10.60.2.0/24", "ghost"}}));
  EXPECT_FALSE(called({"podman", "rm"}));
}

TEST_F(EngineTest, PruneRemovesOrphansButKeepsRunningCells) {
  ASSERT_TRUE(allocate_subnet(paths, "c1").ok());
  write_record("c1", 1);
  fake.on({"podman", "ps"}, out(0, kPs));
  spit(paths.cell_state("orphan") + "/workspace/f", "x");
  ASSERT_TRUE(allocate_subnet(paths, "ghost").ok());

  auto done = engine.prune(PruneOptions{});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->size(), 2u);
  EXPECT_FALSE(exists(paths.cell_state("orphan")));
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}}));
  EXPECT_TRUE(exists(paths.cell_state("c1") + "/cell-state.json"));
  EXPECT_FALSE(called({"podman", "rm"}));
}

// --- doctor waits for warden's /healthz on the injected clock ---

TEST_F(EngineTest, DoctorWaitsForHealthOnTheInjectedClock) {
  fake.on({"curl"}, out(7, "", "connection refused"));
  auto checks = engine.doctor(false);
  auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "warden"; });
  ASSERT_NE(it, checks.end());
  EXPECT_EQ(it->level, Check::Level::fail);
  EXPECT_THAT(it->detail, HasSubstr("running but unhealthy: warden did not become healthy on 127.0.0.1:9464"));
  // 1.5 s in 200 ms steps, none of it slept for real.
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(1600));
  long curls = std::count_if(fake.calls.begin(), fake.calls.end(),
                             [](const proc::Command& c) { return !c.argv.empty() && c.argv[0] == "curl"; });
  EXPECT_EQ(curls, 8);
}

TEST_F(EngineTest, DoctorSeesAHealthyWardenAtOnce) {
  auto checks = engine.doctor(false);
  auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "warden"; });
  ASSERT_NE(it, checks.end());
  EXPECT_EQ(it->level, Check::Level::ok) << it->detail;
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace brig::engine
