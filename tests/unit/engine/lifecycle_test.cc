// A cell's lifecycle as brig records and reports it: the events in the order
// things happen, a run ended by its timeout (exit 124, said and recorded),
// the exit code only once there is one, start of a running cell, stats.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

const Argv kRunFacts = {"podman", "container", "inspect", "--format",
                        "{{.State.OOMKilled}} {{.State.StartedAt.UnixNano}} {{.State.FinishedAt.UnixNano}}", "brig-c1"};
// The attached run: no -d, the container's name follows the verb.
const Argv kAttachedRun = {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run",
                           "--name", "brig-c1"};
constexpr const char* kRanThreeSeconds = "false 1700000000000000000 1700000003100000000\n";

class Lifecycle : public EngineTest {
 protected:
  static spec::Resolved with_timeout(const std::string& timeout) {
    spec::Resolved r = resolved();
    r.spec.timeout.set(timeout, spec::Origin::flag("--timeout"));
    return r;
  }
  // The events of events.jsonl, in order.
  std::vector<nlohmann::json> events() const {
    std::vector<nlohmann::json> out;
    for (const auto& line : str_lines(slurp(paths.events_log()))) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& e : events()) out.push_back(e["event"]);
    return out;
  }
  nlohmann::json last(const std::string& kind) const {
    nlohmann::json found;
    for (const auto& e : events()) {
      if (e["event"] == kind) found = e;
    }
    return found;
  }
  // Cell c1 with `timeout` in its recorded spec.
  void write_record_with_timeout(const std::string& timeout) {
    write_record("c1", 1);
    auto j = nlohmann::json::parse(slurp(paths.cell_state("c1") + "/cell-state.json"));
    j["spec"] = {{"timeout", timeout}, {"memory", "512m"}};
    spit(paths.cell_state("c1") + "/cell-state.json", j.dump());
  }
};

// --- the order of events ---

TEST_F(Lifecycle, AttachedRunRecordsCreateStartExitInThatOrder) {
  fake.on(kAttachedRun, out(3));
  auto rc = engine.run(resolved(), RunOptions{});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, 3);
  EXPECT_EQ(kinds(), (std::vector<std::string>{"create", "start", "exit"}));
  EXPECT_EQ(last("exit")["exit_code"], 3);
  EXPECT_FALSE(last("exit").contains("reason"));
  EXPECT_EQ(last("create")["image"], "localhost/agent:1");
}

TEST_F(Lifecycle, AttachedRunWithRmRecordsTheRemovalLast) {
  fake.on(kCellStatus, out(0, "exited 0\n"));
  auto rc = engine.run(resolved(), RunOptions{.rm = true});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(kinds(), (std::vector<std::string>{"create", "start", "exit", "rm"}));
  EXPECT_EQ(last("rm")["exit_code"], 0);
}

TEST_F(Lifecycle, DetachedRunRecordsCreateThenStart) {
  run_ok(resolved());
  EXPECT_EQ(kinds(), (std::vector<std::string>{"create", "start"}));
}

TEST_F(Lifecycle, AFailedStartIsRecordedAfterTheCreateItUndid) {
  fake.on({"podman", "--runtime-flag"}, out(125, "", "Error: runsc failed"));
  ASSERT_FALSE(engine.run(resolved(), RunOptions{.detach = true}).ok());
  EXPECT_EQ(kinds(), (std::vector<std::string>{"create", "start", "rollback"}));
}

// --- the timeout ---

TEST_F(Lifecycle, AttachedRunEndedByItsTimeoutExits124AndSaysSo) {
  fake.on(kAttachedRun, out(255));
  fake.on(kRunFacts, out(0, kRanThreeSeconds));
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_timeout("3s"), RunOptions{});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, 124);
  EXPECT_EQ(err, "cell c1 stopped after the 3s timeout\n");
  const auto e = last("exit");
  EXPECT_EQ(e["exit_code"], 124);
  EXPECT_EQ(e["reason"], "timeout");
  EXPECT_EQ(e["podman_exit_code"], 255);
  EXPECT_EQ(e["duration_s"], 3.1);
  EXPECT_THAT(str(run_argv()), HasSubstr("--timeout 3"));
}

TEST_F(Lifecycle, AnEarlyFailureOfACellWithATimeoutIsNoTimeout) {
  fake.on(kAttachedRun, out(255));
  fake.on(kRunFacts, out(0, "false 1700000000000000000 1700000000500000000\n"));  // 0.5 s
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_timeout("3s"), RunOptions{});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 255);
  EXPECT_FALSE(last("exit").contains("reason"));
}

TEST(ClassifyExit, EveryCase) {
  EXPECT_EQ(classify_exit(0, 3, 3.5, false).exit_code, 0);
  EXPECT_EQ(classify_exit(0, 3, 3.5, false).reason, "");
  auto t = classify_exit(255, 3, 3.0, false);
  EXPECT_EQ(t.exit_code, 124);
  EXPECT_EQ(t.reason, "timeout");
  EXPECT_EQ(t.podman_exit_code, 255);
  EXPECT_EQ(classify_exit(-1, 3, 2.2, false).exit_code, 124);  // whole seconds: 1 s of slack
  EXPECT_EQ(classify_exit(255, 3, 1.9, false).exit_code, 255);
  EXPECT_EQ(classify_exit(255, 3, -1, false).exit_code, 255);  // how long it ran is unknown
  EXPECT_EQ(classify_exit(255, 0, 100, false).exit_code, 255);  // no timeout
  auto oom = classify_exit(137, 3, 5, true);
  EXPECT_EQ(oom.exit_code, 137);
  EXPECT_EQ(oom.reason, "oom");
}

TEST_F(Lifecycle, StatusAndInspectOfATimedOutCellSay124) {
  write_record_with_timeout("3s");
  fake.on(kCellStatus, out(0, "exited 255\n"));
  fake.on(kRunFacts, out(0, kRanThreeSeconds));
  auto st = engine.status("c1");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->exit_code, 124);
  EXPECT_EQ(st->exit_reason, "timeout");
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["exit_code"], 124);
  EXPECT_EQ((*j)["exit_reason"], "timeout");
  EXPECT_EQ((*j)["exit_detail"], "stopped after the 3s timeout");
}

TEST_F(Lifecycle, InspectOfARunningCellHasNoExitCode) {
  write_record_with_timeout("3s");
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE((*j)["exit_code"].is_null());
  EXPECT_TRUE((*j)["exit_reason"].is_null());
  EXPECT_FALSE(called(kRunFacts));
}

TEST_F(Lifecycle, InspectSaysOutOfMemory) {
  write_record_with_timeout("1h");
  fake.on(kCellStatus, out(0, "exited 137\n"));
  fake.on(kRunFacts, out(0, "true 1700000000000000000 1700000003100000000\n"));
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["exit_code"], 137);
  EXPECT_EQ((*j)["exit_detail"], "killed: out of memory (memory limit 512m)");
}

TEST_F(Lifecycle, WaitReportsTheTimeoutWhenPodmanLostTheExitCode) {
  write_record_with_timeout("3s");
  const long long started = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                (std::chrono::system_clock::now() - std::chrono::seconds(10)).time_since_epoch())
                                .count();
  fake.on({"podman", "wait", "brig-c1"}, out(0, "-1\n"));
  fake.on(kRunFacts, out(0, "false " + std::to_string(started) + " 0\n"));
  auto e = engine.wait("c1");
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->exit_code, 124);
  EXPECT_EQ(e->reason, "timeout");
}

TEST_F(Lifecycle, WaitPassesAPlainExitCodeThrough) {
  write_record_with_timeout("3s");
  fake.on({"podman", "wait", "brig-c1"}, out(0, "0\n"));
  auto e = engine.wait("c1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(e->reason, "");
}

TEST_F(Lifecycle, ListTellsATimeoutFromPodmansTimes) {
  write_record_with_timeout("3s");
  fake.on({"podman", "ps"},
          out(0, R"([{"Names": ["brig-c1"], "State": "exited", "ExitCode": 255, "StartedAt": 1700000000, "ExitedAt": 1700000003}])"));
  auto all = engine.list(true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].exit_code, 124);
  EXPECT_EQ((*all)[0].exit_reason, "timeout");
}

TEST_F(Lifecycle, RemoveRecordsHowTheCellEnded) {
  write_record_with_timeout("3s");
  fake.on(kCellStatus, out(0, "exited 255\n"));
  fake.on(kRunFacts, out(0, kRanThreeSeconds));
  ASSERT_TRUE(engine.remove("c1", false).ok());
  const auto rm = last("rm");
  EXPECT_EQ(rm["exit_code"], 124);
  EXPECT_EQ(rm["reason"], "timeout");
  EXPECT_EQ(rm["duration_s"], 3.1);
}

// --- start of a running cell ---

TEST_F(Lifecycle, StartOfARunningCellDoesNothing) {
  write_record("c1", 1);
  fake.on({"podman", "container", "inspect", "--format", "{{.State.Running}}", "brig-c1"}, out(0, "true\n"));
  auto started = engine.start("c1");
  ASSERT_TRUE(started.ok()) << started.error().message();
  EXPECT_FALSE(*started);
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
  EXPECT_FALSE(called({"podman", "start"})) << all_calls();
}

TEST_F(Lifecycle, StartOfAStoppedCellStartsIt) {
  write_record("c1", 1);
  auto started = engine.start("c1");
  ASSERT_TRUE(started.ok()) << started.error().message();
  EXPECT_TRUE(*started);
}

// --- stats ---

TEST_F(Lifecycle, UsageIsPodmansFiguresUnderTheCellsName) {
  write_record("c1", 1);
  fake.on(cell_stats_args("c1"),
          out(0, R"([{"id": "abc", "name": "brig-c1", "cpu_percent": "1.50%", "mem_usage": "10MB / 512MB",
                      "mem_percent": "1.95%", "net_io": "1kB / 2kB", "block_io": "0B / 0B", "pids": "3"}])"));
  auto u = engine.cells().usage("c1");
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->cell, "c1");
  EXPECT_EQ(u->cpu_percent, "1.50%");
  EXPECT_EQ(u->memory_usage, "10MB / 512MB");
  EXPECT_EQ(u->memory_percent, "1.95%");
  EXPECT_EQ(u->net_io, "1kB / 2kB");
  EXPECT_EQ(u->block_io, "0B / 0B");
  EXPECT_EQ(u->pids, "3");
}

TEST_F(Lifecycle, UsageOfAStoppedCellSaysHowToStartIt) {
  write_record("c1", 1);
  fake.on(kCellStatus, out(0, "exited 0\n"));
  auto u = engine.cells().usage("c1");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message(), "cell c1 is exited");
  EXPECT_EQ(u.error().fix(), "brig cell start c1");
  EXPECT_FALSE(called(cell_stats_args("c1")));
}

}  // namespace
}  // namespace brig::engine
