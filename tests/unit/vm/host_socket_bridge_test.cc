// Host-socket bridges, the pure part: argv goldens, paths, the VM's variable,
// the Mac's state.
#include "brig/vm/host_socket_bridge.h"

#include <gmock/gmock.h>

#include "brig/spec/validate.h"
#include "brig/vm/limactl.h"

namespace brig::vm {
namespace {

using ::testing::HasSubstr;
using Argv = std::vector<std::string>;

BridgeState agent() {
  return {"agent", "/Users/a/.brig/run/host-socket-bridges/agent.ctl",
          {{"pg", "/tmp/pg.sock", "/private/tmp/pg.sock", "/tmp/brig-host-sockets/cell-agent/0.sock"},
           {"docs", "/Users/a/docs.sock", "/Users/a/docs.sock", "/tmp/brig-host-sockets/cell-agent/1.sock"}}};
}

TEST(HostSocketBridge, SshArgvIsAReverseUnixForwardOverLimasConfig) {
  auto a = bridge_ssh_args("/usr/bin/ssh", "/Users/a/.lima/brig/ssh.config", agent());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(*a, (Argv{"/usr/bin/ssh", "-F", "/Users/a/.lima/brig/ssh.config",
                      "-o", "ControlMaster=yes",
                      "-o", "ControlPath=\"/Users/a/.brig/run/host-socket-bridges/agent.ctl\"",
                      "-o", "ControlPersist=no",
                      "-o", "ExitOnForwardFailure=yes",
                      "-f", "-N",
                      "-R", "/tmp/brig-host-sockets/cell-agent/0.sock:/private/tmp/pg.sock",
                      "-R", "/tmp/brig-host-sockets/cell-agent/1.sock:/Users/a/docs.sock",
                      "lima-brig"}));
}

TEST(HostSocketBridge, ControlArgvChecksOrEndsThatSsh) {
  EXPECT_EQ(bridge_control_args("ssh", "/l/brig/ssh.config", "/h/x 100%.ctl", "exit"),
            (Argv{"ssh", "-F", "/l/brig/ssh.config", "-o", "ControlPath=\"/h/x 100%%.ctl\"", "-O", "exit",
                  "lima-brig"}));
}

TEST(HostSocketBridge, PathsSshCannotCarryAreRefused) {
  auto st = agent();
  st.sockets[1].mac_path = "/Users/a/odd:name.sock";
  auto a = bridge_ssh_args("ssh", "c", st);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message(), "host socket docs: /Users/a/odd:name.sock holds ':', which ssh cannot forward");
  st = agent();
  st.control_path = "/Users/a\"b/x.ctl";
  EXPECT_FALSE(bridge_ssh_args("ssh", "c", st).ok());
}

TEST(HostSocketBridge, Paths) {
  EXPECT_EQ(bridge_vm_dir("agent"), "/tmp/brig-host-sockets/cell-agent");
  EXPECT_EQ(bridge_vm_path("agent", 2), "/tmp/brig-host-sockets/cell-agent/2.sock");
  EXPECT_EQ(bridge_state_path("/Users/a/.brig", "agent"), "/Users/a/.brig/run/host-socket-bridges/agent.json");
  EXPECT_EQ(*bridge_control_path("/Users/a/.brig", "agent"), "/Users/a/.brig/run/host-socket-bridges/agent.ctl");
  EXPECT_EQ(lima_home("/opt/lima", "/Users/a"), "/opt/lima");
  EXPECT_EQ(lima_home(nullptr, "/Users/a"), "/Users/a/.lima");
  EXPECT_EQ(lima_home("", "/Users/a"), "/Users/a/.lima");
  EXPECT_EQ(lima_ssh_config("/Users/a/.lima"), "/Users/a/.lima/brig/ssh.config");
}

// The VM applies spec::engine_socket to the bridged path: a cell or socket
// named after an engine must not make it look like one.
TEST(HostSocketBridge, VmPathsNeverLookLikeAnEngineSocket) {
  for (const std::string cell : {"docker", "podman", "lima", "containerd", "cri-o", "my-docker-agent"}) {
    EXPECT_EQ(spec::engine_socket(bridge_vm_path(cell, 0)), std::nullopt) << cell;
  }
}

TEST(HostSocketBridge, ControlPathLongerThanMacosAllowsIsRefused) {
  const std::string home = "/Users/someone-with-a-long-name/.brig";
  auto p = bridge_control_path(home, std::string(63, 'a'));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message(), HasSubstr("longer than a unix socket path may be on macOS (103)"));
  EXPECT_EQ(p.error().fix(), "give the cell a shorter name, or use a shorter BRIG_HOME");
}

TEST(HostSocketBridge, EnvRoundTrip) {
  const auto st = agent();
  const std::string v = bridges_env_value(st.sockets);
  EXPECT_EQ(v, "pg=/tmp/brig-host-sockets/cell-agent/0.sock,docs=/tmp/brig-host-sockets/cell-agent/1.sock");
  auto m = parse_bridges_env(v.c_str());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (std::map<std::string, std::string>{{"pg", "/tmp/brig-host-sockets/cell-agent/0.sock"},
                                                    {"docs", "/tmp/brig-host-sockets/cell-agent/1.sock"}}));
  EXPECT_TRUE(parse_bridges_env(nullptr)->empty());
  EXPECT_TRUE(parse_bridges_env("")->empty());
  for (const char* bad : {"pg", "pg=", "=/x", "pg=relative", "pg=/a,pg=/b", "pg=/a,,"}) {
    auto r = parse_bridges_env(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), Errc::usage);
    }
  }
}

TEST(HostSocketBridge, ForwardCarriesTheBridgesAsAnAssignment) {
  EXPECT_EQ(limactl_forward_args("limactl", "/h", {"run", "x"}, {"BRIG_HOST_SOCKET_BRIDGES=pg=/p"}),
            (Argv{"limactl", "shell", "brig", "--", "BRIG_HOME=/h", "BRIG_FORWARDED_FROM=darwin",
                  "BRIG_HOST_SOCKET_BRIDGES=pg=/p", "brig", "run", "x"}));
}

TEST(HostSocketBridge, StateRoundTrip) {
  const auto st = agent();
  auto back = parse_bridge_state(bridge_state_json(st), "x.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->cell, st.cell);
  EXPECT_EQ(back->control_path, st.control_path);
  ASSERT_EQ(back->sockets.size(), 2u);
  EXPECT_EQ(back->sockets[1].name, "docs");
  EXPECT_EQ(back->sockets[0].host_path, "/tmp/pg.sock");
  EXPECT_EQ(back->sockets[0].mac_path, "/private/tmp/pg.sock");
  EXPECT_EQ(back->sockets[0].vm_path, "/tmp/brig-host-sockets/cell-agent/0.sock");
  auto bad = parse_bridge_state("{\"cell\": 1}", "/h/x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("/h/x.json is not a host-socket bridge state"));
}

}  // namespace
}  // namespace brig::vm
