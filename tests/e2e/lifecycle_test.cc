// A cell's lifecycle on real podman + runsc: the events in the order things
// happen, and a cell ended by its timeout (exit 124, said, recorded, and
// reported the same by inspect, wait, list and history).
#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

// The "event" of each line of events.jsonl about `cell`, in order.
std::vector<std::string> event_kinds(const std::string& home, const std::string& cell) {
  std::vector<std::string> kinds;
  std::ifstream in(home + "/logs/events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("cell", "") == cell) kinds.push_back(j.value("event", ""));
  }
  return kinds;
}

// The last event `kind` about `cell`, or an empty object.
nlohmann::json last_event(const std::string& home, const std::string& cell, const std::string& kind) {
  nlohmann::json found = nlohmann::json::object();
  std::ifstream in(home + "/logs/events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("cell", "") == cell && j.value("event", "") == kind) found = j;
  }
  return found;
}

TEST_F(Cells, AttachedRunRecordsCreateStartExitRmInOrder) {
  auto out = in_cell("e2e-order", "exit 3");
  EXPECT_EQ(out.exit_code, 3) << out.err;
  EXPECT_EQ(event_kinds(home_, "e2e-order"), (std::vector<std::string>{"create", "start", "exit", "rm"}));
  EXPECT_EQ(last_event(home_, "e2e-order", "exit").value("exit_code", -1), 3);
}

TEST_F(Cells, DetachedRunRecordsCreateStartThenStopAndRm) {
  auto run = brig({"run", "-d", "--name", "e2e-order-d", kBusybox, "--", "sleep", "300"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto again = brig({"cell", "start", "e2e-order-d"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "e2e-order-d is already running\n");
  auto running = brig({"--format", "json", "cell", "list"});
  ASSERT_EQ(running.exit_code, 0) << running.err;
  for (const auto& row : nlohmann::json::parse(running.out)) {
    if (row["name"] == "e2e-order-d") {
      EXPECT_TRUE(row["exit_code"].is_null()) << running.out;
    }
  }
  EXPECT_EQ(brig({"cell", "stop", "--time", "1", "e2e-order-d"}).exit_code, 0);
  EXPECT_EQ(brig({"cell", "rm", "--force", "e2e-order-d"}).exit_code, 0);
  EXPECT_EQ(event_kinds(home_, "e2e-order-d"), (std::vector<std::string>{"create", "start", "stop", "rm"}));
}

TEST_F(Cells, AttachedTimeoutExits124AndIsRecorded) {
  const auto t0 = std::chrono::steady_clock::now();
  auto out = in_cell("e2e-timeout-rec", "sleep 120; echo FINISHED", {"--timeout", "3s"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
  EXPECT_THAT(out.out, Not(HasSubstr("FINISHED")));
  EXPECT_EQ(out.exit_code, 124) << out.err;
  EXPECT_THAT(out.err, HasSubstr("cell e2e-timeout-rec stopped after the 3s timeout"));
  auto exit = last_event(home_, "e2e-timeout-rec", "exit");
  EXPECT_EQ(exit.value("exit_code", -1), 124) << exit.dump();
  EXPECT_EQ(exit.value("reason", ""), "timeout") << exit.dump();
  auto history = brig({"--format", "json", "system", "history"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  bool seen = false;
  for (const auto& row : nlohmann::json::parse(history.out)) {
    if (row["name"] != "e2e-timeout-rec") continue;
    seen = true;
    EXPECT_EQ(row["exit_code"], 124);
    EXPECT_EQ(row["reason"], "timeout");
    EXPECT_FALSE(row["removed"].is_null());
  }
  EXPECT_TRUE(seen) << history.out;
}

TEST_F(Cells, DetachedTimeoutIsReportedByInspectWaitAndList) {
  auto run = brig({"run", "-d", "--timeout", "3s", "--name", "e2e-timeout-d", kBusybox, "--", "sleep", "120"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto wait = brig({"cell", "wait", "e2e-timeout-d"});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_EQ(wait.out, "124\n");
  EXPECT_THAT(wait.err, HasSubstr("stopped after the 3s timeout"));
  auto j = inspect("e2e-timeout-d");
  EXPECT_EQ(j["exit_code"], 124) << j.dump();
  EXPECT_EQ(j["exit_reason"], "timeout") << j.dump();
  auto text = brig({"cell", "inspect", "e2e-timeout-d"});
  EXPECT_THAT(text.out, HasSubstr("exit code        124 (stopped after the 3s timeout)"));
  EXPECT_THAT(text.out, HasSubstr("  timeout        3s"));
  auto list = brig({"--format", "json", "cell", "list", "--all"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const auto& row : nlohmann::json::parse(list.out)) {
    if (row["name"] == "e2e-timeout-d") {
      EXPECT_EQ(row["exit_code"], 124) << list.out;
    }
  }
  EXPECT_EQ(brig({"cell", "rm", "--force", "e2e-timeout-d"}).exit_code, 0);
  EXPECT_EQ(last_event(home_, "e2e-timeout-d", "rm").value("reason", ""), "timeout");
}

TEST_F(Cells, StatsNameTheCellAndHonourJson) {
  auto run = brig({"run", "-d", "--name", "e2e-stats", kBusybox, "--", "sleep", "300"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto json = brig({"--format", "json", "cell", "stats", "e2e-stats"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["cell"], "e2e-stats");
  EXPECT_FALSE(j["pids"].get<std::string>().empty()) << json.out;
  auto text = brig({"cell", "stats", "e2e-stats"});
  EXPECT_THAT(text.out, Not(HasSubstr("brig-e2e-stats")));
  brig({"cell", "rm", "--force", "e2e-stats"});
}

}  // namespace
}  // namespace brig::testing::e2e
