// The `brig cell` verbs on the terminal over a FakeRunner: the cell is checked
// first, then exactly the argv podman_args builds runs on brig's own stdio.
// And the events filter: a cell's events, matched on the "cell" field exactly.
#include "brig/engine/cell_verbs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/engine/host.h"
#include "fakes/fake_runner.h"
#include "unit/engine/engine_test_util.h"

namespace brig::engine {
namespace {

using brig::testing::canned;
using brig::testing::FakeRunner;
using testing::spit;
using testing::TempDir;
using Argv = std::vector<std::string>;

const Argv kStatus = {"podman", "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}"};

class CellVerbs : public ::testing::Test {
 protected:
  TempDir tmp;
  Paths paths{tmp.path()};
  FakeRunner fake;
  Engine engine{fake, paths};

  void SetUp() override {
    ASSERT_TRUE(make_layout(paths).ok());
    write_record("c1");
    set_state("c1", "running");
  }
  void write_record(const std::string& name) {
    CellRecord r;
    r.name = name;
    r.image = "localhost/agent:1";
    r.runtime = "runsc";
    r.subnet = Subnet{1};
    r.workspace = paths.workspace(name);
    r.workspace_mount = "/work";
    spit(paths.cell_state(name) + "/cell-state.json", to_json(r).dump(2));
  }
  void set_state(const std::string& cell, const std::string& state) {
    Argv a = kStatus;
    a.push_back("brig-" + cell);
    fake.on(a, canned(0, state + " 0\n"));
  }
  // The last command run, which must have been handed the terminal.
  Argv last_on_terminal() {
    if (fake.calls.empty()) return {};
    EXPECT_TRUE(fake.calls.back().inherit_stdio);
    return fake.calls.back().argv;
  }
};

TEST_F(CellVerbs, ExecRunsTheBuiltArgvAndReturnsItsExitCode) {
  fake.on({"podman", "exec"}, canned(7));
  auto rc = exec_in_cell(engine, "c1", true, false, {"ls", "/work"});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, 7);
  EXPECT_EQ(last_on_terminal(), cell_exec_args("c1", true, false, {"ls", "/work"}));
}

TEST_F(CellVerbs, ExecWithoutACommandIsUsageAndRunsNothing) {
  auto rc = exec_in_cell(engine, "c1", false, false, {});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::usage);
  EXPECT_EQ(rc.error().message(), "no command given");
  EXPECT_TRUE(fake.calls.empty());
}

TEST_F(CellVerbs, ExecAndShellRefuseAStoppedCell) {
  set_state("c1", "exited");
  for (auto rc : {exec_in_cell(engine, "c1", false, false, {"true"}), shell_in_cell(engine, "c1", true)}) {
    ASSERT_FALSE(rc.ok());
    EXPECT_EQ(rc.error().code(), Errc::exists);  // a conflict with its state (the API says 409)
    EXPECT_EQ(rc.error().message(), "cell c1 is exited");
    EXPECT_EQ(rc.error().fix(), "brig cell start c1");
  }
  for (const auto& c : fake.calls) EXPECT_NE(c.argv[1], "exec");
}

TEST_F(CellVerbs, AnUnknownCellRunsNothingOnTheTerminal) {
  EXPECT_FALSE(cell_top(engine, "nope").ok());
  EXPECT_FALSE(cell_diff(engine, "nope").ok());
  EXPECT_FALSE(follow_logs(engine, "nope", 0).ok());
  EXPECT_FALSE(export_workspace(engine, "nope", "").ok());
  EXPECT_FALSE(copy_files(engine, "nope:/work/x", "x").ok());
  for (const auto& c : fake.calls) EXPECT_FALSE(c.inherit_stdio) << c.argv[0] << " " << c.argv[1];
}

TEST_F(CellVerbs, EachVerbRunsItsBuiltArgv) {
  ASSERT_TRUE(shell_in_cell(engine, "c1", false).ok());
  EXPECT_EQ(last_on_terminal(), cell_shell_args("c1", false));
  ASSERT_TRUE(follow_logs(engine, "c1", 10).ok());
  EXPECT_EQ(last_on_terminal(), cell_logs_args("c1", true, 10));
  HostConfig cfg;
  cfg.runsc = "/usr/bin/runsc";
  ASSERT_TRUE(save_host_config(paths, cfg).ok());
  fake.on({"podman", "container", "inspect", "--format", "{{.Id}}"}, canned(0, "abc123\n"));
  ASSERT_TRUE(cell_top(engine, "c1").ok());
  // Under gVisor, the sandbox's own process list.
  EXPECT_EQ(last_on_terminal(), (Argv{"/usr/bin/runsc", "--root", "/run/runsc", "ps", "abc123"}));
  ASSERT_TRUE(cell_diff(engine, "c1").ok());
  EXPECT_EQ(last_on_terminal(), cell_diff_args("c1"));
  ASSERT_TRUE(export_workspace(engine, "c1", "out.tar").ok());
  EXPECT_EQ(last_on_terminal(), workspace_export_args(paths.workspace("c1"), "out.tar"));
}

TEST_F(CellVerbs, CopyWithoutACellIsUsage) {
  auto rc = copy_files(engine, "a", "./b/c:d");
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::usage);
  EXPECT_EQ(rc.error().message(), "neither side names a cell");
  EXPECT_THAT(rc.error().fix(), ::testing::HasSubstr("brig cell cp CELL:/work/file ./file"));
  EXPECT_TRUE(fake.calls.empty());
}

TEST_F(CellVerbs, ReadLogsReturnsTextAndState) {
  set_state("c1", "exited");
  fake.on({"podman", "logs"}, canned(0, "out\n", "err\n"));
  auto logs = read_logs(engine, "c1", 3);
  ASSERT_TRUE(logs.ok()) << logs.error().message();
  EXPECT_EQ(logs->text, "out\nerr\n");
  EXPECT_EQ(logs->state, "exited");
  EXPECT_EQ(fake.calls.back().argv, cell_logs_args("c1", false, 3));
}

// --tail 0 is no lines (not every line): nothing is read, and a follow
// prints only what comes next.
TEST_F(CellVerbs, TailZeroPrintsNoLineAndFollowsOnlyNewOnes) {
  fake.on({"podman", "logs"}, canned(0, "old\n"));
  auto logs = read_logs(engine, "c1", 0);
  ASSERT_TRUE(logs.ok()) << logs.error().message();
  EXPECT_EQ(logs->text, "");
  EXPECT_EQ(logs->state, "running");
  for (const auto& c : fake.calls) EXPECT_NE(c.argv[1], "logs");
  ASSERT_TRUE(follow_logs(engine, "c1", 0).ok());
  EXPECT_EQ(last_on_terminal(), (Argv{"podman", "logs", "--follow", "--tail", "0", "brig-c1"}));
  // A negative tail (the CLI's default) is every line.
  auto all = read_logs(engine, "c1", -1);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->text, "old\n");
  EXPECT_EQ(fake.calls.back().argv, (Argv{"podman", "logs", "brig-c1"}));
}

constexpr const char* kEvents =
    "{\"cell\":\"a\",\"event\":\"run\",\"ts\":\"t1\"}\n"
    "{\"cell\":\"ab\",\"event\":\"run\",\"ts\":\"t2\"}\n"
    "{\"event\":\"up\",\"ts\":\"t3\",\"note\":\"\\\"cell\\\":\\\"a\\\"\"}\n"
    "not json \"cell\":\"a\"\n"
    "{\"cell\":\"xa\",\"event\":\"rm\",\"ts\":\"t4\",\"other\":{\"cell\":\"a\"}}\n"
    "{\"cell\": \"a\", \"event\": \"stop\", \"ts\": \"t5\"}\n"
    "{\"cell\":\"a\",\"event\":\"run\"}\n"  // no ts: not an event (state::parse_event)
    "[\"cell\",\"a\"]\n"
    "\n";

TEST(CellEvents, MatchesTheCellFieldExactly) {
  EXPECT_EQ(filter_cell_events(kEvents, "a"),
            (Argv{"{\"cell\":\"a\",\"event\":\"run\",\"ts\":\"t1\"}", "{\"cell\": \"a\", \"event\": \"stop\", \"ts\": \"t5\"}"}));
  EXPECT_EQ(filter_cell_events(kEvents, "ab"), (Argv{"{\"cell\":\"ab\",\"event\":\"run\",\"ts\":\"t2\"}"}));
  EXPECT_TRUE(filter_cell_events(kEvents, "b").empty());
  EXPECT_TRUE(filter_cell_events("", "a").empty());
}

TEST(CellEvents, ReadsTheEventsLog) {
  TempDir tmp;
  Paths paths{tmp.path()};
  EXPECT_TRUE(cell_events(paths, "a").empty());  // no log yet
  spit(paths.events_log(), kEvents);
  EXPECT_EQ(cell_events(paths, "ab"), (Argv{"{\"cell\":\"ab\",\"event\":\"run\",\"ts\":\"t2\"}"}));
}

}  // namespace
}  // namespace brig::engine
