// The thin client's host-socket bridges over a FakeRunner: which commands
// bridge, the order of limactl and ssh calls, rollback and teardown.
#include "brig/vm/bridges.h"

#include <gmock/gmock.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "brig/core/fs.h"
#include "fakes/fake_runner.h"

namespace brig::vm {
namespace {

using ::testing::HasSubstr;
using Argv = std::vector<std::string>;
using K = BridgeStep::Kind;
const std::string L = "/opt/limactl", SSH = "/usr/bin/ssh", CFG = "/Users/a/.lima/brig/ssh.config", VM_HOME = "/vm";

TEST(BridgeStep, WhichCommandsTouchTheBridges) {
  auto is = [](const Argv& args, K kind, const std::string& cell) {
    auto s = bridge_step(args);
    EXPECT_EQ(s.kind, kind) << ::testing::PrintToString(args);
    EXPECT_EQ(s.cell, cell) << ::testing::PrintToString(args);
  };
  is({"run", "--file", "c.yaml"}, K::run, "");
  is({"-q", "--format", "json", "run", "img"}, K::run, "");
  is({"cell", "start", "agent"}, K::start, "agent");
  is({"cell", "restart", "agent"}, K::start, "agent");
  is({"cell", "stop", "--time", "3", "agent"}, K::stop, "agent");
  is({"cell", "--format", "json", "stop", "agent"}, K::stop, "agent");
  is({"cell", "rm", "--force", "agent"}, K::remove, "agent");
  is({"cell", "kill", "agent"}, K::stop, "agent");  // SIGKILL, the default: the cell ends
  is({"cell", "kill", "--signal", "KILL", "agent"}, K::stop, "agent");
  is({"cell", "kill", "--signal", "TERM", "agent"}, K::none, "");  // it may live on
  is({"cell", "kill", "--signal=HUP", "agent"}, K::none, "");
  is({"system", "down"}, K::down, "");
  is({"system", "restart"}, K::down, "");
  is({"system", "up"}, K::none, "");
  is({"cell", "list"}, K::none, "");
  is({"cell", "stop"}, K::none, "");
  is({"cell", "exec", "agent", "--", "rm", "x"}, K::none, "");
  is({"policy", "test", "https://x/"}, K::none, "");
  is({}, K::none, "");
}

class BridgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-bridges-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    // The VM knows no cell until told otherwise.
    runner.on(forward_prefix({"brig", "-q", "cell", "inspect"}), testing::canned(1, "", "error: no cell"));
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  Bridges bridges() {
    return Bridges(runner, BridgeTools{L, SSH, CFG, home_, VM_HOME},
                   [this](const std::string& name, const std::string& host_path) -> Result<std::string> {
                     if (host_path.find("bad") != std::string::npos) {
                       return Error(Errc::invalid, "host socket " + name + ": " + host_path + " is a symlink");
                     }
                     auto moved = moved_.find(host_path);
                     return moved != moved_.end() ? moved->second : "/private" + host_path;
                   });
  }
  static Argv forward_prefix(const Argv& rest) {
    Argv a{L, "shell", "brig", "--", "BRIG_HOME=" + VM_HOME, "BRIG_FORWARDED_FROM=darwin"};
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  }
  static RunBridge agent_run() {
    RunBridge r;
    r.cell = "agent";
    r.sockets = {{"pg", "/tmp/pg.sock", "", ""}, {"docs", "/tmp/docs.sock", "", ""}};
    r.detach = true;
    return r;
  }
  std::string ctl() const { return home_ + "/run/host-socket-bridges/agent.ctl"; }
  std::string state_file() const { return bridge_state_path(home_, "agent"); }
  static const char* env() {
    return "BRIG_HOST_SOCKET_BRIDGES=pg=/tmp/brig-host-sockets/cell-agent/0.sock,"
           "docs=/tmp/brig-host-sockets/cell-agent/1.sock";
  }
  Argv ssh_up() const {
    return {SSH, "-F", CFG, "-o", "ControlMaster=yes", "-o", "ControlPath=\"" + ctl() + "\"", "-o",
            "ControlPersist=no", "-o", "ExitOnForwardFailure=yes", "-f", "-N",
            "-R", "/tmp/brig-host-sockets/cell-agent/0.sock:/private/tmp/pg.sock",
            "-R", "/tmp/brig-host-sockets/cell-agent/1.sock:/private/tmp/docs.sock", "lima-brig"};
  }
  Argv ssh_control(const std::string& cmd) const {
    return {SSH, "-F", CFG, "-o", "ControlPath=\"" + ctl() + "\"", "-O", cmd, "lima-brig"};
  }
  static Argv vm_shell(const Argv& cmd) {
    Argv a{L, "shell", "brig", "--"};
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }
  std::vector<Argv> calls() const {
    std::vector<Argv> out;
    for (const auto& c : runner.calls) out.push_back(c.argv);
    return out;
  }
  bool called(const Argv& argv) const {
    auto all = calls();
    return std::find(all.begin(), all.end(), argv) != all.end();
  }
  // A bridged cell, as a successful `run -d` leaves it.
  void bridged_cell() {
    auto b = bridges();
    ASSERT_TRUE(b.forward({"run", "-d"}, {K::run, ""}, agent_run()).ok());
    runner.calls.clear();
  }

  testing::FakeRunner runner;
  std::string home_;
  std::map<std::string, std::string> moved_;
};

TEST_F(BridgesTest, RunBridgesBeforeForwardingAndKeepsTheBridgeOfADetachedCell) {
  auto b = bridges();
  Argv args{"run", "-d", "--file", "c.yaml"};
  auto rc = b.forward(args, {K::run, ""}, agent_run());
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, std::optional<int>(0));
  Argv fwd = forward_prefix({env(), "brig"});
  fwd.insert(fwd.end(), args.begin(), args.end());
  EXPECT_EQ(calls(), (std::vector<Argv>{forward_prefix({"brig", "-q", "cell", "inspect", "agent"}),
                                        vm_shell({"rm", "-rf", "/tmp/brig-host-sockets/cell-agent"}),
                                        vm_shell({"mkdir", "-p", "-m", "0700", "/tmp/brig-host-sockets/cell-agent"}),
                                        ssh_up(), fwd}));
  EXPECT_TRUE(runner.calls.back().inherit_stdio);  // the user's terminal
  EXPECT_GT(runner.calls[3].timeout.count(), 0);   // a bounded wait for the bridge
  auto st = b.load("agent");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->control_path, ctl());
  ASSERT_EQ((*st)->sockets.size(), 2u);
  EXPECT_EQ((*st)->sockets[0].mac_path, "/private/tmp/pg.sock");
}

TEST_F(BridgesTest, AFailedRunRollsTheBridgeBack) {
  runner.on(forward_prefix({env()}), testing::canned(125));
  auto b = bridges();
  auto rc = b.forward({"run", "-d"}, {K::run, ""}, agent_run());
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, std::optional<int>(125));
  auto all = calls();
  ASSERT_GE(all.size(), 3u);
  // After the forward: is there a cell? No: end the ssh, clear the VM's directory.
  EXPECT_EQ(all[all.size() - 3], forward_prefix({"brig", "-q", "cell", "inspect", "agent"}));
  EXPECT_EQ(all[all.size() - 2], ssh_control("exit"));
  EXPECT_EQ(all.back(), vm_shell({"rm", "-rf", "/tmp/brig-host-sockets/cell-agent"}));
  EXPECT_FALSE(fs::exists(state_file()));
}

TEST_F(BridgesTest, ABridgeThatDoesNotComeUpStopsTheRun) {
  runner.on({SSH, "-F", CFG, "-o", "ControlMaster=yes"},
            testing::canned(255, "", "Error: remote port forwarding failed for listen path /tmp/x\n"));
  auto b = bridges();
  auto rc = b.forward({"run", "-d"}, {K::run, ""}, agent_run());
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(),
            "bridging cell agent's host sockets into the VM failed: Error: remote port forwarding failed for listen "
            "path /tmp/x");
  for (const auto& c : calls()) EXPECT_NE(c.back(), "-d") << "the run was forwarded";
  EXPECT_FALSE(fs::exists(state_file()));
}

TEST_F(BridgesTest, AMacSocketThatFailsTheCheckIsNeverBridged) {
  auto r = agent_run();
  r.sockets[1].host_path = "/tmp/bad.sock";
  auto b = bridges();
  auto rc = b.forward({"run", "-d"}, {K::run, ""}, r);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "host socket docs: /tmp/bad.sock is a symlink");
  for (const auto& c : calls()) EXPECT_NE(c[0], SSH);
  EXPECT_FALSE(fs::exists(state_file()));
}

TEST_F(BridgesTest, AnExistingCellOfThatNameIsRefused) {
  runner.on(forward_prefix({"brig", "-q", "cell", "inspect", "agent"}), testing::canned(0, "{}"));
  auto b = bridges();
  auto rc = b.forward({"run", "-d"}, {K::run, ""}, agent_run());
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::exists);
  EXPECT_EQ(calls().size(), 1u);
}

TEST_F(BridgesTest, ARunWithHostSocketsNeedsAName) {
  auto r = agent_run();
  r.cell.clear();
  auto b = bridges();
  auto rc = b.forward({"run"}, {K::run, ""}, r);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().exit_code(), 2);
  EXPECT_EQ(rc.error().fix(), "give it a name: brig run --name NAME ... (or name: in the file)");
  EXPECT_TRUE(calls().empty());
}

TEST_F(BridgesTest, ADryRunBridgesNothingButTellsTheVmThePaths) {
  auto r = agent_run();
  r.dry_run = true;
  auto b = bridges();
  auto rc = b.forward({"run", "--dry-run"}, {K::run, ""}, r);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(calls(), (std::vector<Argv>{forward_prefix({env(), "brig", "run", "--dry-run"})}));
}

TEST_F(BridgesTest, AnAttachedRunEndsTheBridgeWhenTheCellExitsAndKeepsItsState) {
  auto r = agent_run();
  r.detach = false;
  auto b = bridges();
  ASSERT_TRUE(b.forward({"run"}, {K::run, ""}, r).ok());
  EXPECT_EQ(calls().back(), ssh_control("exit"));
  EXPECT_TRUE(fs::exists(state_file()));
}

TEST_F(BridgesTest, AnAttachedRunWithRmForgetsTheBridge) {
  auto r = agent_run();
  r.detach = false;
  r.rm = true;
  auto b = bridges();
  ASSERT_TRUE(b.forward({"run", "--rm"}, {K::run, ""}, r).ok());
  EXPECT_TRUE(called(ssh_control("exit")));
  EXPECT_FALSE(fs::exists(state_file()));
}

TEST_F(BridgesTest, ARunWithoutHostSocketsIsNotTouched) {
  auto b = bridges();
  auto rc = b.forward({"run", "img"}, {K::run, ""}, std::nullopt);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, std::nullopt);
  EXPECT_TRUE(calls().empty());
}

TEST_F(BridgesTest, StopEndsTheBridgeAndKeepsTheState) {
  bridged_cell();
  auto b = bridges();
  auto rc = b.forward({"cell", "stop", "agent"}, bridge_step({"cell", "stop", "agent"}), std::nullopt);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, std::optional<int>(0));
  EXPECT_EQ(calls(), (std::vector<Argv>{forward_prefix({"brig", "cell", "stop", "agent"}), ssh_control("exit")}));
  EXPECT_TRUE(fs::exists(state_file()));
}

TEST_F(BridgesTest, AFailedStopLeavesTheBridgeUp) {
  bridged_cell();
  runner.on(forward_prefix({"brig", "cell", "stop"}), testing::canned(1));
  auto b = bridges();
  auto rc = b.forward({"cell", "stop", "agent"}, {K::stop, "agent"}, std::nullopt);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, std::optional<int>(1));
  EXPECT_FALSE(called(ssh_control("exit")));
}

TEST_F(BridgesTest, RmEndsAndForgetsTheBridge) {
  bridged_cell();
  auto b = bridges();
  ASSERT_TRUE(b.forward({"cell", "rm", "agent"}, {K::remove, "agent"}, std::nullopt).ok());
  EXPECT_EQ(calls(), (std::vector<Argv>{forward_prefix({"brig", "cell", "rm", "agent"}), ssh_control("exit"),
                                        vm_shell({"rm", "-rf", "/tmp/brig-host-sockets/cell-agent"})}));
  EXPECT_FALSE(fs::exists(state_file()));
}

TEST_F(BridgesTest, SystemDownEndsEveryBridge) {
  bridged_cell();
  auto b = bridges();
  ASSERT_TRUE(b.forward({"system", "down"}, {K::down, ""}, std::nullopt).ok());
  EXPECT_EQ(calls(), (std::vector<Argv>{forward_prefix({"brig", "system", "down"}), ssh_control("exit")}));
  EXPECT_TRUE(fs::exists(state_file()));
}

TEST_F(BridgesTest, ACellWithoutABridgeIsNotTouched) {
  auto b = bridges();
  for (const Argv& args : {Argv{"cell", "stop", "other"}, Argv{"cell", "start", "other"}, Argv{"system", "down"}}) {
    auto rc = b.forward(args, bridge_step(args), std::nullopt);
    ASSERT_TRUE(rc.ok());
    EXPECT_EQ(*rc, std::nullopt);
  }
  EXPECT_TRUE(calls().empty());
}

TEST_F(BridgesTest, StartBringsADeadBridgeUpFirst) {
  bridged_cell();
  runner.on(ssh_control("check"), testing::canned(255, "", "Control socket connect: No such file or directory"));
  auto b = bridges();
  ASSERT_TRUE(b.forward({"cell", "start", "agent"}, {K::start, "agent"}, std::nullopt).ok());
  EXPECT_EQ(calls(), (std::vector<Argv>{ssh_control("check"),
                                        vm_shell({"rm", "-rf", "/tmp/brig-host-sockets/cell-agent"}),
                                        vm_shell({"mkdir", "-p", "-m", "0700", "/tmp/brig-host-sockets/cell-agent"}),
                                        ssh_up(), forward_prefix({"brig", "cell", "start", "agent"})}));
}

TEST_F(BridgesTest, StartReusesALiveBridge) {
  bridged_cell();
  auto b = bridges();
  ASSERT_TRUE(b.forward({"cell", "restart", "agent"}, {K::start, "agent"}, std::nullopt).ok());
  EXPECT_EQ(calls(), (std::vector<Argv>{ssh_control("check"), forward_prefix({"brig", "cell", "restart", "agent"})}));
}

TEST_F(BridgesTest, StartRefusesAMacSocketThatNowResolvesElsewhere) {
  bridged_cell();
  moved_["/tmp/docs.sock"] = "/Users/a/other.sock";
  auto b = bridges();
  auto rc = b.forward({"cell", "start", "agent"}, {K::start, "agent"}, std::nullopt);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(),
            "host socket docs: /tmp/docs.sock now resolves to /Users/a/other.sock, not to /private/tmp/docs.sock "
            "(what cell agent was created with)");
  EXPECT_EQ(rc.error().exit_code(), 125);
  EXPECT_TRUE(calls().empty());
}

TEST_F(BridgesTest, AFailedStartEndsTheBridge) {
  bridged_cell();
  runner.on(forward_prefix({"brig", "cell", "start"}), testing::canned(125));
  runner.on(forward_prefix({"brig", "-q", "cell", "inspect", "agent"}), testing::canned(0, "{}"));
  auto b = bridges();
  auto rc = b.forward({"cell", "start", "agent"}, {K::start, "agent"}, std::nullopt);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, std::optional<int>(125));
  EXPECT_EQ(calls().back(), ssh_control("exit"));
  EXPECT_TRUE(fs::exists(state_file()));
}

TEST_F(BridgesTest, WithoutSshNothingIsBridged) {
  Bridges b(runner, BridgeTools{L, "", CFG, home_, VM_HOME},
            [](const std::string&, const std::string& p) -> Result<std::string> { return p; });
  auto rc = b.forward({"run", "-d"}, {K::run, ""}, agent_run());
  ASSERT_FALSE(rc.ok());
  EXPECT_THAT(rc.error().message(), HasSubstr("ssh not found"));
  EXPECT_FALSE(fs::exists(state_file()));
}

}  // namespace
}  // namespace brig::vm
