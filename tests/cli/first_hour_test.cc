// The first hour with brig: small things a new user trips on. The real brig
// binary with a temp BRIG_HOME; where a command asks podman (or nft), a fake
// one on PATH that records its arguments; where it needs a terminal, `script`.
#include "cli/cli_harness.h"

#include <gmock/gmock.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace brig::testing {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The fake podman: records "$*" in $BRIG_HOME/podman-calls; a cell's state is
// $FAKE_STATE (default exited); `ps` lists no container; `logs` prints two lines.
constexpr const char* kFakePodman = R"(#!/bin/sh
echo "$*" >> "$BRIG_HOME/podman-calls"
case "$*" in
  "container inspect --format"*) echo "${FAKE_STATE:-exited} 0" ;;
  "ps "*) echo "[]" ;;
  "logs "*) printf 'line1\nline2\n' ;;
esac
exit 0
)";

class FirstHourTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    for (const char* tool : {"podman", "nft"}) {
      const std::string path = write(std::string("bin/") + tool, kFakePodman);
      std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    }
    write("config.json", "{}\n");
  }

  std::vector<std::string> env(const std::string& state = "exited") const {
    return {"BRIG_HOME=" + home_, "NO_COLOR=1", "PATH=" + home_ + "/bin:/usr/bin:/bin", "HOME=" + home_,
            "SHELL=/bin/sh", "FAKE_STATE=" + state};
  }

  // brig with the fakes first on PATH.
  proc::Output brig_faked(std::vector<std::string> args, const std::string& state = "exited") {
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = env(state);
    c.cwd = home_;
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }

  // brig on a terminal (stdin, stdout and stderr a pty, all read as stdout),
  // its stdin fed `input` then closed. exit_code -1 without `script`.
  proc::Output brig_on_tty(const std::string& args, const std::string& input) {
    if (!std::filesystem::exists("/usr/bin/script")) {
      proc::Output none;
      none.exit_code = -1;
      return none;
    }
    proc::Command c;
    c.argv = {"/usr/bin/script", "-qec", std::string(BRIG_BINARY) + " " + args, "/dev/null"};
    c.env = env();
    c.cwd = home_;
    c.stdin_data = input;
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }

  void write_cell(const std::string& name) {
    nlohmann::json r = {{"name", name},       {"image", "localhost/agent:1"},
                        {"runtime", "runsc"}, {"subnet", 1},
                        {"workspace", home_ + "/state/" + name + "/workspace"},
                        {"workspace_mount", "/work"}};
    write("state/" + name + "/cell-state.json", r.dump(2));
  }
};

// -v says what brig runs: each command, as a shell would take it back.
TEST_F(FirstHourTest, VerboseLogsEachCommandBrigRuns) {
  auto out = brig_faked({"-v", "cell", "list"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("debug: brig "));
  EXPECT_THAT(out.err, HasSubstr("BRIG_HOME " + home_ + "\n"));
  EXPECT_THAT(out.err, HasSubstr("\ndebug: run: podman ps --all --filter label=brig.cell --format json\n"));
  write_cell("c1");
  auto status = brig_faked({"cell", "stop", "c1", "--verbose"});
  EXPECT_THAT(status.err, HasSubstr("debug: run: podman stop --time 10 brig-c1\n"));
  auto quiet = brig_faked({"cell", "list"});
  EXPECT_THAT(quiet.err, Not(HasSubstr("debug:")));
}

// A cell that has made no request yet has no warden log: not an error.
TEST_F(FirstHourTest, CellNetworkOfAQuietCellSaysNoRequestsYet) {
  write_cell("c1");
  auto text = brig({"cell", "network", "c1"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "");
  EXPECT_EQ(text.err, "no requests yet (follow them with: brig cell network -f c1)\n");
  auto json = brig({"--format", "json", "cell", "network", "c1"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out, "[]\n");
  EXPECT_EQ(json.err, "");
  // An unknown cell stays an error.
  auto unknown = brig({"cell", "network", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.err, "error: no cell named \"nope\"\nfix: list cells with: brig cell list --all\n");
  auto unknown_json = brig({"--format", "json", "cell", "network", "nope"});
  EXPECT_EQ(unknown_json.exit_code, 1);
  EXPECT_EQ(unknown_json.out, "");
}

TEST_F(FirstHourTest, CellNetworkJsonListsTheRecords) {
  write("logs/cells/c1.jsonl",
        R"({"ts":"t1","cell":"c1","kind":"http","tls":"none","method":"GET","host":"a.test","port":80,"path":"/",)"
        R"("status":200,"decision":"allow","duration_ms":1})" "\n"
        R"({"ts":"t2","cell":"c1","kind":"http","tls":"none","method":"GET","host":"b.test","port":80,"path":"/",)"
        R"("status":403,"decision":"deny","reason":"no rule","duration_ms":1})" "\n");
  auto json = brig({"--format", "json", "cell", "network", "c1"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto arr = nlohmann::json::parse(json.out);
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1]["host"], "b.test");
  auto blocked = brig({"--format", "json", "cell", "network", "c1", "--blocked"});
  EXPECT_EQ(nlohmann::json::parse(blocked.out).size(), 1u);
}

TEST_F(FirstHourTest, KeepWorkspaceWithoutRmIsRefused) {
  auto out = brig({"run", "--keep-workspace", "--dry-run", "localhost/agent:1"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: --keep-workspace only applies with --rm (without --rm the cell and its workspace stay)\n"
            "fix: add --rm, or drop --keep-workspace (later: brig cell rm --keep-workspace CELL)\n");
  auto with_rm = brig({"run", "--rm", "--keep-workspace", "--dry-run", "localhost/agent:1"});
  EXPECT_EQ(with_rm.exit_code, 0) << with_rm.err;
}

TEST_F(FirstHourTest, OneByteIsSingular) {
  auto add = brig({"secrets", "add", "k", "-"}, "x");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(add.out, StartsWith("stored secret k (1 byte): "));
  auto list = brig({"secrets", "list"});
  EXPECT_THAT(list.out, HasSubstr(" 1 byte\n"));
  ASSERT_EQ(brig({"secrets", "add", "two", "-"}, "xy").exit_code, 0);
  EXPECT_THAT(brig({"secrets", "list"}).out, HasSubstr(" 2 bytes\n"));
}

TEST_F(FirstHourTest, ExportRefusesToWriteATarToATerminal) {
  write_cell("c1");
  auto out = brig_on_tty("cell export c1", "");
  if (out.exit_code == -1) GTEST_SKIP() << "no /usr/bin/script";
  EXPECT_EQ(out.exit_code, 2) << out.out;
  EXPECT_THAT(out.out, HasSubstr("error: refusing to write a tar stream to a terminal; use -o FILE or redirect\r\n"
                                 "fix: brig cell export c1 -o c1.tar\r\n"));
  EXPECT_FALSE(std::filesystem::exists(home_ + "/podman-calls"));
}

TEST_F(FirstHourTest, LogsTailZeroPrintsNothing) {
  write_cell("c1");
  auto none = brig_faked({"cell", "logs", "c1", "--tail", "0"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "");
  EXPECT_THAT(read("podman-calls"), Not(HasSubstr("logs ")));
  auto all = brig_faked({"cell", "logs", "c1"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "line1\nline2\n");
  EXPECT_THAT(read("podman-calls"), HasSubstr("\nlogs brig-c1\n"));
  EXPECT_EQ(brig_faked({"cell", "logs", "c1", "--tail", "-1"}).exit_code, 2);
}

TEST_F(FirstHourTest, CpAndConfigGetExplainThemselves) {
  auto cp = brig({"cell", "cp", "--help"});
  EXPECT_EQ(cp.exit_code, 0);
  EXPECT_THAT(cp.out, HasSubstr("what to copy: CELL:PATH (a path inside the cell) or a host path"));
  EXPECT_THAT(cp.out, HasSubstr("where to: a host path, or CELL:PATH when SRC is on the host"));
  EXPECT_THAT(cp.out, HasSubstr("brig cell cp agent:/work/out.txt ./out.txt"));
  auto get = brig({"config", "get", "--help"});
  EXPECT_EQ(get.exit_code, 0);
  EXPECT_THAT(get.out, HasSubstr("runsc_network, ops_port, warden_threads, spare_networks, ulimits, ingress_publish, ingress_domain, "
                                 "ingress_cert, ingress_key, ingress_max_body, cgroup, runsc_version"));
  EXPECT_THAT(get.out, HasSubstr("brig config list"));
}

TEST_F(FirstHourTest, PruneKeepsStoppedCellsWhoseWorkspaceHoldsFiles) {
  write_cell("c1");
  write_cell("c2");
  write("state/c1/workspace/result.txt", "precious");
  auto out = brig_faked({"system", "prune", "--cells", "--dry-run"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "would remove cell c2 (missing)\n"
            "would keep cell c1: the workspace of c1 holds 1 file\n"
            "  fix: brig cell rm c1 --force (delete it) or --keep-workspace\n");
}

TEST_F(FirstHourTest, DownSaysWhichCellsItStoppedAndHowToStartThem) {
  write_cell("c1");
  auto out = brig_faked({"system", "down"}, "running");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, EndsWith("stopped 1 cell: c1\n  start again: brig cell start c1\n"));
  EXPECT_THAT(read("podman-calls"), HasSubstr("stop --time 10 brig-c1\n"));
}

// rm asks before deleting a workspace that holds files; anything but yes
// (an empty line, EOF) leaves the cell untouched and exits 1.
TEST_F(FirstHourTest, RmPromptAnsweredNoRemovesNothing) {
  write_cell("c1");
  write("state/c1/workspace/result.txt", "precious");
  for (const char* answer : {"n\n", "\n", ""}) {
    auto out = brig_on_tty("cell rm c1", answer);
    if (out.exit_code == -1) GTEST_SKIP() << "no /usr/bin/script";
    EXPECT_EQ(out.exit_code, 1) << out.out;
    EXPECT_THAT(out.out, HasSubstr("the workspace of c1 holds 1 file; delete it? [y/N] "));
    EXPECT_THAT(out.out, HasSubstr("error: not removed: c1 and its workspace are untouched\r\n"
                                   "fix: brig cell rm c1 --keep-workspace (removes the cell, keeps the files)\r\n"));
    EXPECT_EQ(read("state/c1/workspace/result.txt"), "precious");
    EXPECT_TRUE(std::filesystem::exists(home_ + "/state/c1/cell-state.json"));
    EXPECT_THAT(read("podman-calls"), Not(HasSubstr("rm ")));
  }
}

// `cell exec CELL CMD...` without "--", as run takes its command: the
// command's own flags (-c, -la) are not brig's.
TEST_F(CliTest, ExecTakesTheCommandAfterTheCellWithoutDashDash) {
  for (std::vector<std::string> a : {std::vector<std::string>{"cell", "exec", "nope", "sh", "-c", "echo hi"},
                                     {"cell", "exec", "-it", "nope", "ls", "-la", "/work"},
                                     {"cell", "exec", "nope", "--", "ls", "-la"}}) {
    auto out = brig(a);
    EXPECT_THAT(out.err, Not(HasSubstr("unknown flag"))) << a[2];
    EXPECT_THAT(out.err, HasSubstr("nope")) << a[2];
  }
}

}  // namespace
}  // namespace brig::testing
