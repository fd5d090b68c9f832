// Golden argv for every podman command brig builds (pure functions, no I/O).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "brig/engine/podman.h"

namespace brig::engine {
namespace {

using Argv = std::vector<std::string>;

// A plan with every knob set, as `brig run` builds it for a runsc cell.
CellPlan full_plan() {
  CellPlan p;
  p.name = "c1";
  p.image = "localhost/agent:1";
  p.command = {"python3", "-c", "print(1)"};
  p.env = {{"HTTP_PROXY", "http://10.60.3.2:3128"}, {"A", "1"}};
  p.labels = {{"brig.cell", "c1"}, {"user.team", "x"}};
  p.runtime = "runsc";
  p.runsc_network = "host";
  p.subnet = Subnet{3};
  p.network = "brig_net_3";
  p.memory = "512m";
  p.cpus = "1.5";
  p.pids_limit = 256;
  p.mounts = {{"/h/state/c1/workspace", "/work", false}, {"/h/state/c1/brig", "/run/brig", true}};
  p.workdir = "/work";
  p.seccomp_profile = "/h/run/seccomp-cell.json";
  p.ulimits = {"nofile=1024:1024", "nproc=32768:32768"};
  p.timeout_seconds = 60;
  return p;
}

bool contains(const Argv& a, const std::string& s) { return std::find(a.begin(), a.end(), s) != a.end(); }

// The runtime of full_plan's cell, as its record keeps it.
const CellRuntime kRunscHost = {"runsc", "host", ""};

TEST(CellRunArgs, FullPlanGolden) {
  const Argv want = {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run", "-d",
                     "--name", "brig-c1", "--hostname", "c1", "--runtime", "runsc",
                     "--network", "brig_net_3", "--ip", "10.60.3.10", "--mac-address", "02:62:72:67:03:0a", "--dns", "10.60.3.2",
                     "--dns-search", ".", "--read-only",
                     "--tmpfs", "/tmp:rw,size=256m,noexec,nosuid,nodev",
                     "--tmpfs", "/run:rw,size=64m,noexec,nosuid,nodev",
                     "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                     "--security-opt", "seccomp=/h/run/seccomp-cell.json",
                     "--memory", "512m", "--memory-swap", "512m", "--cpus", "1.5", "--pids-limit", "256",
                     "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=32768:32768", "--timeout", "60",
                     "--volume", "/h/state/c1/workspace:/work:rw", "--volume", "/h/state/c1/brig:/run/brig:ro",
                     "--env", "A=1", "--env", "HTTP_PROXY=http://10.60.3.2:3128",
                     "--label", "brig.cell=c1", "--label", "user.team=x",
                     "--workdir", "/work", "--pull", "never", "localhost/agent:1", "python3", "-c", "print(1)"};
  EXPECT_EQ(cell_run_args(full_plan(), kRunscHost, true), want);
}

// Attached is the same without -d: podman run forwards stdout and stderr,
// and stdin only for an interactive plan.
TEST(CellRunArgs, AttachedDiffersOnlyByDetach) {
  Argv want = cell_run_args(full_plan(), kRunscHost, true);
  want.erase(std::find(want.begin(), want.end(), "-d"));
  EXPECT_EQ(cell_run_args(full_plan(), kRunscHost, false), want);
  EXPECT_FALSE(contains(want, "--interactive"));
  EXPECT_FALSE(contains(want, "--tty"));
  EXPECT_FALSE(contains(want, "--attach"));
}

TEST(CellRunArgs, InteractiveAndTtyFollowTheVerbsFirstFlags) {
  CellPlan p = full_plan();
  p.interactive = true;
  p.tty = true;
  const Argv a = cell_run_args(p, kRunscHost, false);
  ASSERT_GE(a.size(), 15u);
  EXPECT_EQ(Argv(a.begin() + 5, a.begin() + 14), (Argv{"run", "--name", "brig-c1", "--hostname", "c1", "--runtime",
                                                       "runsc", "--interactive", "--tty"}));
}

TEST(CellRunArgs, RuntimeFlagsGoBeforeTheVerbOnly) {
  // --runtime-flag is global (podman's, not run's): before `run`, never after.
  auto a = cell_run_args(full_plan(), kRunscHost, true);
  auto run = std::find(a.begin(), a.end(), "run");
  ASSERT_NE(run, a.end());
  EXPECT_EQ(std::find(run, a.end(), "--runtime-flag"), a.end());
  EXPECT_EQ(Argv(a.begin(), run), (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host"}));
}

TEST(CellRunArgs, RuncRuntimeHasNoRuntimeFlags) {
  CellPlan p = full_plan();
  p.runtime = "runc";
  p.runsc_network = "";
  auto a = cell_run_args(p, {"runc", "", ""}, true);
  EXPECT_EQ(Argv(a.begin(), a.begin() + 3), (Argv{"podman", "run", "-d"}));
  auto it = std::find(a.begin(), a.end(), "--runtime");
  ASSERT_NE(it, a.end());
  EXPECT_EQ(*(it + 1), "runc");
  EXPECT_FALSE(contains(a, "--runtime-flag"));
  EXPECT_FALSE(contains(a, "runsc"));
}

TEST(CellRunArgs, WritableRootfsDropsReadOnlyOnly) {
  CellPlan p = full_plan();
  p.read_only_rootfs = false;
  Argv want = cell_run_args(full_plan(), kRunscHost, true);
  want.erase(std::find(want.begin(), want.end(), "--read-only"));
  EXPECT_EQ(cell_run_args(p, kRunscHost, true), want);
}

TEST(CellRunArgs, NoSeccompProfileLeavesPodmansDefault) {
  CellPlan p = full_plan();
  p.seccomp_profile = "";
  Argv want = cell_run_args(full_plan(), kRunscHost, true);
  auto it = std::find(want.begin(), want.end(), "seccomp=/h/run/seccomp-cell.json");
  ASSERT_NE(it, want.end());
  want.erase(it - 1, it + 1);
  EXPECT_EQ(cell_run_args(p, kRunscHost, true), want);
  // no-new-privileges stays.
  EXPECT_TRUE(contains(cell_run_args(p, kRunscHost, true), "no-new-privileges"));
}

TEST(CellRunArgs, MinimalPlanUsesImageDefaultCommand) {
  CellPlan p;
  p.name = "c2";
  p.image = "busybox";
  p.subnet = Subnet{254};
  p.network = "brig_net_254";
  const Argv want = {"podman", "--runtime-flag", "oci-seccomp", "run",
                     "--name", "brig-c2", "--hostname", "c2", "--runtime", "runsc",
                     "--network", "brig_net_254", "--ip", "10.60.254.10", "--mac-address", "02:62:72:67:fe:0a", "--dns", "10.60.254.2",
                     "--dns-search", ".", "--read-only",
                     "--tmpfs", "/tmp:rw,size=256m,noexec,nosuid,nodev",
                     "--tmpfs", "/run:rw,size=64m,noexec,nosuid,nodev",
                     "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pull", "never", "busybox"};
  EXPECT_EQ(cell_run_args(p, {"runsc", "sandbox", ""}, false), want);
}

TEST(RuntimeFlags, RunscHostNetwork) {
  EXPECT_EQ(runtime_flags({"runsc", "host", ""}),
            (Argv{"--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host"}));
}

TEST(RuntimeFlags, RunscSandboxNetworkOnlyOciSeccomp) {
  EXPECT_EQ(runtime_flags({"runsc", "sandbox", ""}), (Argv{"--runtime-flag", "oci-seccomp"}));
  EXPECT_EQ(runtime_flags({"runsc", "", ""}), (Argv{"--runtime-flag", "oci-seccomp"}));
}

TEST(RuntimeFlags, RuncHasNone) {
  EXPECT_EQ(runtime_flags({"runc", "host", ""}), Argv{});
  EXPECT_EQ(runtime_flags({"runc", "", ""}), Argv{});
  EXPECT_EQ(runtime_flags({"runc", "", "host-uds=open"}), Argv{});  // runc reaches a mounted socket as it is
}

// A cell with host sockets: runsc is told to let it connect to them, at
// every start (the flag is not stored with the container).
TEST(RuntimeFlags, HostSocketsAddTheRecordedFlag) {
  EXPECT_EQ(runtime_flags({"runsc", "host", "host-uds=open"}),
            (Argv{"--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "--runtime-flag", "host-uds=open"}));
  EXPECT_EQ(runtime_flags({"runsc", "sandbox", "fsgofer-host-uds"}),
            (Argv{"--runtime-flag", "oci-seccomp", "--runtime-flag", "fsgofer-host-uds"}));
  EXPECT_EQ(cell_start_args("c1", {"runsc", "sandbox", "host-uds=open"}),
            (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "host-uds=open", "start", "brig-c1"}));
  const Argv run = cell_run_args(full_plan(), {"runsc", "sandbox", "host-uds=open"}, false);
  EXPECT_EQ(Argv(run.begin(), run.begin() + 6),
            (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "host-uds=open", "run"}));
}

TEST(CellRunArgs, HostSocketIsAVolumeWithItsMode) {
  CellPlan p = full_plan();
  p.mounts.push_back({"/run/postgresql/.s.PGSQL.5432", "/run/host/.s.PGSQL.5432", false});
  p.mounts.push_back({"/tmp/echo.sock", "/run/host/echo.sock", true});
  const Argv a = cell_run_args(p, kRunscHost, true);
  auto it = std::find(a.begin(), a.end(), "/h/state/c1/brig:/run/brig:ro");
  ASSERT_NE(it, a.end());
  EXPECT_EQ(Argv(it + 1, it + 5), (Argv{"--volume", "/run/postgresql/.s.PGSQL.5432:/run/host/.s.PGSQL.5432:rw",
                                        "--volume", "/tmp/echo.sock:/run/host/echo.sock:ro"}));
}

// `brig cell start` of an existing cell: detached, the runtime's flags again.
TEST(CellStartArgs, Golden) {
  EXPECT_EQ(cell_start_args("c1", {"runsc", "host", ""}),
            (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "start", "brig-c1"}));
  EXPECT_EQ(cell_start_args("c1", {"runsc", "sandbox", ""}),
            (Argv{"podman", "--runtime-flag", "oci-seccomp", "start", "brig-c1"}));
  EXPECT_EQ(cell_start_args("c1", {"runc", "", ""}), (Argv{"podman", "start", "brig-c1"}));
}

TEST(NetworkArgs, CreateIsInternalWithoutDns) {
  EXPECT_EQ(network_create_args("brig_net_7", Subnet{7}, "c1"),
            (Argv{"podman", "network", "create", "--internal", "--disable-dns", "--subnet", "10.60.7.0/24",
                  "--gateway", "10.60.7.1", "--label", "brig.cell=c1", "brig_net_7"}));
}

// A cell network is named after its subnet, never like a cell's (no '_').
TEST(NetworkArgs, SubnetNetworkNames) {
  EXPECT_EQ(subnet_network(Subnet{7}), "brig_net_7");
  EXPECT_TRUE(is_subnet_network("brig_net_254"));
  for (const char* n : {"brig-net-7", "brig_net_", "brig_net_07", "brig_net_1000", "brig_net_7x", "x_brig_net_7"}) {
    EXPECT_FALSE(is_subnet_network(n)) << n;
  }
}

TEST(NetworkArgs, Connect) {
  EXPECT_EQ(network_connect_args("brig-c1", "brig-warden", "10.60.7.2"),
            (Argv{"podman", "network", "connect", "--ip", "10.60.7.2", "brig-c1", "brig-warden"}));
}

TEST(NetworkArgs, ExternalNetwork) {
  EXPECT_EQ(external_network_create_args(),
            (Argv{"podman", "network", "create", "--subnet", "10.59.0.0/24", "--label", "brig.role=infrastructure",
                  "brig-ext"}));
}

TEST(WardenRunArgs, Golden) {
  WardenPlan p;
  p.image = "localhost/brig-warden:0.1.0";
  p.home = "/h";
  p.ops_port = 9500;
  p.threads = 4;
  p.extra_ro_files = {"/etc/brig/upstream-ca.pem"};
  p.ulimits = {"nofile=1024:1024"};
  p.config_id = "abc123";
  const Argv want = {
      "podman", "run", "-d", "--name", "brig-warden", "--runtime", "runc", "--read-only", "--user", "65534:65534",
      "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "brig-ext", "--ip", "10.59.0.2",
      "--publish", "127.0.0.1:9500:9464", "--publish", "127.0.0.1:8443:8443", "--sysctl", "net.ipv4.ip_forward=0",
      "--sysctl", "net.ipv4.ip_unprivileged_port_start=1", "--tmpfs", "/brig/run:rw,size=1m,mode=1777,noexec,nosuid,nodev", "--label", "brig.role=warden",
      "--label", "brig.config=abc123", "--env", "BRIG_HOME=/brig",
      "--volume", "/h/policy:/brig/policy:ro", "--volume", "/h/state/system:/brig/state/system:ro",
      "--volume", "/h/run/warden-ca:/brig/ca:ro", "--volume", "/h/logs/cells:/brig/logs/cells:rw",
      "--volume", "/h/warden.yaml:/brig/warden.yaml:ro", "--volume", "/h/run/host-relay:/brig/host-relay:ro",
      "--volume", "/etc/brig/upstream-ca.pem:/etc/brig/upstream-ca.pem:ro",
      "--ulimit", "nofile=1024:1024",
      "localhost/brig-warden:0.1.0", "warden", "serve", "--proxy-listen", "0.0.0.0:3128",
      "--dns-listen", "0.0.0.0:53", "--http-listen", "0.0.0.0:80", "--https-listen", "0.0.0.0:443",
      "--ops-listen", "10.59.0.2:9464", "--threads", "4", "--host-relay", "/brig/host-relay/relay.sock",
      "--ingress-listen", "10.59.0.2:8443", "--ingress-domain", "localhost", "--ingress-max-body", "67108864"};
  EXPECT_EQ(warden_run_args(p), want);
}

// Ingress published where the user said, with their domain, body limit and
// certificate (mounted read-only from run/warden-ingress).
TEST(WardenRunArgs, IngressSettingsAndCertificate) {
  WardenPlan p;
  p.image = "img";
  p.home = "/h";
  p.ingress_publish = "0.0.0.0:9443";
  p.ingress_domain = "cells.example.com";
  p.ingress_max_body = 1048576;
  p.ingress_tls = true;
  const Argv a = warden_run_args(p);
  EXPECT_TRUE(contains(a, "0.0.0.0:9443:8443"));
  EXPECT_TRUE(contains(a, "/h/run/warden-ingress:/brig/ingress:ro"));
  const auto image = std::find(a.begin(), a.end(), "img");
  ASSERT_NE(image, a.end());
  EXPECT_EQ(Argv(image, a.end()),
            (Argv{"img", "warden", "serve", "--proxy-listen", "0.0.0.0:3128", "--dns-listen", "0.0.0.0:53",
                  "--http-listen", "0.0.0.0:80", "--https-listen", "0.0.0.0:443", "--ops-listen", "10.59.0.2:9464",
                  "--threads", "2", "--host-relay", "/brig/host-relay/relay.sock", "--ingress-listen", "10.59.0.2:8443",
                  "--ingress-domain", "cells.example.com",
                  "--ingress-max-body", "1048576", "--ingress-cert", "/brig/ingress/cert.pem", "--ingress-key",
                  "/brig/ingress/key.pem"}));
}

TEST(WardenRunArgs, OnlyLogsAreWritable) {
  WardenPlan p;
  p.image = "img";
  p.home = "/h";
  auto a = warden_run_args(p);
  std::vector<std::string> rw;
  for (std::size_t i = 0; i + 1 < a.size(); ++i) {
    if (a[i] == "--volume" && a[i + 1].size() > 3 && a[i + 1].substr(a[i + 1].size() - 3) != ":ro") rw.push_back(a[i + 1]);
  }
  EXPECT_EQ(rw, (Argv{"/h/logs/cells:/brig/logs/cells:rw"}));
  EXPECT_TRUE(contains(a, "127.0.0.1:9464:9464"));
}

TEST(CellPsArgs, AllAndRunning) {
  EXPECT_EQ(cell_ps_args(true), (Argv{"podman", "ps", "--all", "--filter", "label=brig.cell", "--format", "json"}));
  EXPECT_EQ(cell_ps_args(false), (Argv{"podman", "ps", "--filter", "label=brig.cell", "--format", "json"}));
}

TEST(IsCellContainerName, AnchoredAndExcludesWarden) {
  EXPECT_TRUE(is_cell_container_name("brig-x"));
  EXPECT_TRUE(is_cell_container_name("brig-cell-0a1b2c"));
  EXPECT_FALSE(is_cell_container_name("brig-warden"));
  EXPECT_FALSE(is_cell_container_name("my-brig-x"));
  EXPECT_FALSE(is_cell_container_name("brig-UPPER"));
  EXPECT_FALSE(is_cell_container_name("brig-"));
  EXPECT_FALSE(is_cell_container_name("brig-x\n"));
  EXPECT_FALSE(is_cell_container_name("brig-" + std::string(64, 'a')));
}

TEST(Names, ContainerAndNetwork) {
  EXPECT_EQ(cell_container("c1"), "brig-c1");
  EXPECT_EQ(cell_network("c1"), "brig-c1");
}

TEST(Subnet, Addresses) {
  Subnet s{42};
  EXPECT_EQ(s.cidr(), "10.60.42.0/24");
  EXPECT_EQ(s.gateway(), "10.60.42.1");
  EXPECT_EQ(s.warden_ip(), "10.60.42.2");
  EXPECT_EQ(s.cell_ip(), "10.60.42.10");
  EXPECT_EQ(Subnet{1}.cidr(), "10.60.1.0/24");
  EXPECT_EQ(Subnet{254}.cell_ip(), "10.60.254.10");
}

// brig cell logs / exec / shell / cp / stats / top / diff / export: the argv
// cli/cell.cc has always run, now built here.
TEST(CellVerbArgs, LogsGolden) {
  EXPECT_EQ(cell_logs_args("c1", false, -1), (Argv{"podman", "logs", "brig-c1"}));
  EXPECT_EQ(cell_logs_args("c1", true, 0), (Argv{"podman", "logs", "--follow", "--tail", "0", "brig-c1"}));
  EXPECT_EQ(cell_logs_args("c1", true, 20), (Argv{"podman", "logs", "--follow", "--tail", "20", "brig-c1"}));
  EXPECT_EQ(cell_logs_args("c1", false, 5), (Argv{"podman", "logs", "--tail", "5", "brig-c1"}));
  EXPECT_EQ(cell_logs_args("c1", true, -3), (Argv{"podman", "logs", "--follow", "brig-c1"}));
}

TEST(CellVerbArgs, ExecGolden) {
  const Argv cmd = {"ls", "-l", "/work"};
  EXPECT_EQ(cell_exec_args("c1", false, false, cmd), (Argv{"podman", "exec", "brig-c1", "ls", "-l", "/work"}));
  EXPECT_EQ(cell_exec_args("c1", true, false, cmd),
            (Argv{"podman", "exec", "--interactive", "brig-c1", "ls", "-l", "/work"}));
  EXPECT_EQ(cell_exec_args("c1", false, true, cmd), (Argv{"podman", "exec", "--tty", "brig-c1", "ls", "-l", "/work"}));
  EXPECT_EQ(cell_exec_args("c1", true, true, {"sh"}), (Argv{"podman", "exec", "--interactive", "--tty", "brig-c1", "sh"}));
}

TEST(CellVerbArgs, ShellGolden) {
  EXPECT_EQ(cell_shell_args("c1", true),
            (Argv{"podman", "exec", "--interactive", "--tty", "brig-c1", "/bin/sh", "-c",
                  "command -v bash >/dev/null 2>&1 && exec bash || exec sh"}));
  EXPECT_EQ(cell_shell_args("c1", false),
            (Argv{"podman", "exec", "--interactive", "--interactive", "brig-c1", "/bin/sh", "-c",
                  "command -v bash >/dev/null 2>&1 && exec bash || exec sh"}));
}

TEST(CellVerbArgs, StatsTopDiffGolden) {
  EXPECT_EQ(cell_stats_args("c1"), (Argv{"podman", "stats", "--no-stream", "--format", "json", "brig-c1"}));
  EXPECT_EQ(cell_top_args("c1"), (Argv{"podman", "top", "brig-c1"}));
  EXPECT_EQ(cell_diff_args("c1"), (Argv{"podman", "diff", "brig-c1"}));
}

TEST(CellVerbArgs, WorkspaceExportGolden) {
  EXPECT_EQ(workspace_export_args("/h/state/c1/workspace", ""),
            (Argv{"tar", "--numeric-owner", "-C", "/h/state/c1/workspace", "-cf", "-", "."}));
  EXPECT_EQ(workspace_export_args("/h/state/c1/workspace", "out.tar"),
            (Argv{"tar", "--numeric-owner", "-C", "/h/state/c1/workspace", "-cf", "out.tar", "."}));
}

}  // namespace
}  // namespace brig::engine
