// brig vm ... and the macOS thin client, through the real binary, with a
// fake `limactl` first on PATH. The fake records its argv (one file per call,
// NUL-terminated arguments) and runs `shell brig -- [NAME=VALUE...] brig ARGS`
// as `env NAME=VALUE... <this brig> ARGS`, the way Lima runs it in the VM.
#include <gmock/gmock.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Argv = std::vector<std::string>;

constexpr const char* kFakeLimactl = R"(#!/bin/bash
# A fake limactl for brig's CLI tests.
n=$(ls "$FAKE_LIMA_DIR" | grep -c '^call-')
for a in "$@"; do printf '%s\0' "$a"; done > "$FAKE_LIMA_DIR/call-$n"
case "$1" in
  list)
    if [ -n "$FAKE_LIMA_STATE" ]; then
      printf '{"name":"brig","status":"%s","dir":"/x/brig","vmType":"vz","arch":"aarch64","cpus":4,"memory":8589934592,"disk":53687091200}\n' "$FAKE_LIMA_STATE"
    fi
    ;;
  shell)
    shift
    [ "$1" = brig ] || exit 90
    shift
    [ "$1" = -- ] && shift
    envs=()
    while [ $# -gt 0 ] && [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    # The VM's environment has no BRIG_PLATFORM: the brig there is native.
    if [ "$1" = brig ]; then shift; exec env -u BRIG_PLATFORM "${envs[@]}" "$REAL_BRIG" "$@"; fi
    exec env -u BRIG_PLATFORM "${envs[@]}" "$@"
    ;;
  *) exit "${FAKE_LIMA_EXIT:-0}" ;;
esac
)";

constexpr const char* kPolicy = R"({"allow": ["api.github.com", {"domain": "api.example.com", "paths": ["/v1/*"]}]})";

class VmCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    bin_ = home_ + "/fakebin";
    calls_dir_ = home_ + "/limactl-calls";
    write("fakebin/limactl", kFakeLimactl);
    ASSERT_EQ(::chmod((bin_ + "/limactl").c_str(), 0755), 0);
    ASSERT_TRUE(fs::make_dirs(calls_dir_).ok());
  }

  // brig with the fake limactl on PATH and `env` added.
  proc::Output run(Argv args, Argv env, std::string stdin_data = {}, bool with_lima = true) {
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    Argv e{"BRIG_HOME=" + home_, "NO_COLOR=1", "HOME=" + home_, std::string("REAL_BRIG=") + BRIG_BINARY,
           "FAKE_LIMA_DIR=" + calls_dir_, std::string("PATH=") + (with_lima ? bin_ + ":" : "") + "/usr/bin:/bin"};
    e.insert(e.end(), env.begin(), env.end());
    c.env = e;
    c.cwd = home_;
    c.stdin_data = std::move(stdin_data);
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }
  // The thin client (BRIG_PLATFORM=darwin) with the VM in `state`.
  proc::Output mac(Argv args, const std::string& state = "Running", std::string stdin_data = {}) {
    return run(std::move(args), {"BRIG_PLATFORM=darwin", "FAKE_LIMA_STATE=" + state}, std::move(stdin_data));
  }

  // Every limactl call so far, in order, without argv[0].
  std::vector<Argv> calls() {
    std::vector<Argv> out;
    for (int i = 0;; ++i) {
      auto text = fs::read_file(calls_dir_ + "/call-" + std::to_string(i));
      if (!text) break;
      Argv argv;
      std::string cur;
      for (char ch : *text) {
        if (ch == '\0') {
          argv.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      out.push_back(argv);
    }
    return out;
  }
  Argv forwarded(const Argv& args) {
    Argv want{"shell", "brig", "--", "BRIG_HOME=" + home_, "BRIG_FORWARDED_FROM=darwin", "brig"};
    want.insert(want.end(), args.begin(), args.end());
    return want;
  }
  void expect_same(const proc::Output& direct, const proc::Output& via_vm) {
    EXPECT_EQ(via_vm.out, direct.out);
    EXPECT_EQ(via_vm.err, direct.err);
    EXPECT_EQ(via_vm.exit_code, direct.exit_code);
  }

  std::string bin_, calls_dir_;
};

TEST_F(VmCliTest, PolicyTestThroughTheVmMatchesTheDirectCall) {
  auto policy = write("p.json", kPolicy);
  for (const std::string url : {"https://api.github.com/repos", "https://evil.example.org/", "not a url"}) {
    Argv args{"policy", "test", "--policy", policy, url};
    auto direct = brig(args);
    auto via_vm = mac(args);
    expect_same(direct, via_vm);
    EXPECT_EQ(calls().back(), forwarded(args));
  }
  EXPECT_EQ(calls().front(), (Argv{"list", "--json", "brig"}));  // the VM is checked first
}

TEST_F(VmCliTest, ExitCodesPassThrough) {
  auto policy = write("p.json", kPolicy);
  auto allowed = mac({"policy", "test", "--policy", policy, "https://api.github.com/"});
  auto denied = mac({"policy", "test", "--policy", policy, "https://evil.example.org/"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_NE(denied.exit_code, 0);
  auto usage = mac({"policy", "validate"});
  EXPECT_EQ(usage.exit_code, brig({"policy", "validate"}).exit_code);
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(VmCliTest, RunDryRunThroughTheVmMatchesTheDirectCall) {
  auto cell = write("cell.yaml", "name: agent\nimage: localhost/agent:1\nmemory: 3g\n");
  Argv args{"run", "--dry-run", "--file", cell, "--cpus", "2"};
  auto direct = brig(args);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  expect_same(direct, mac(args));
}

// A bound unix socket at `path` (the file stays after close).
void make_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
  ::close(fd);
}

// On the Mac a host_path names the Mac's file: the thin client judges it
// there and tells the brig in the VM where it bridges it (a dry run bridges
// nothing); the brig there takes no host socket it was not told about.
TEST_F(VmCliTest, HostSocketsAreCheckedOnTheMacAndBridgedNames) {
  const std::string sock = home_ + "/pg.sock";
  make_socket(sock);
  auto cell = write("cell.yaml", "image: localhost/agent:1\nhost_sockets:\n  - {name: pg, host_path: " + sock +
                                     ", mount_point: /run/host/pg.sock}\n");
  Argv args{"run", "--dry-run", "--name", "agent", "--file", cell};
  auto direct = brig(args);
  EXPECT_EQ(direct.exit_code, 0) << direct.err;
  auto via_vm = mac(args);
  EXPECT_EQ(via_vm.exit_code, 0) << via_vm.err;
  EXPECT_EQ(via_vm.out, direct.out);
  Argv want{"shell", "brig", "--", "BRIG_HOME=" + home_, "BRIG_FORWARDED_FROM=darwin",
            "BRIG_HOST_SOCKET_BRIDGES=pg=/tmp/brig-host-sockets/cell-agent/0.sock", "brig"};
  want.insert(want.end(), args.begin(), args.end());
  EXPECT_EQ(calls().back(), want);

  // Forwarded without the bridge (an older thin client): refused as before.
  auto unbridged = run(args, {"BRIG_FORWARDED_FROM=darwin"});
  EXPECT_EQ(unbridged.exit_code, 2);
  EXPECT_EQ(unbridged.err, "error: " + cell +
                               ":3: host_sockets: not supported yet on macOS (brig cannot bridge a socket on the Mac "
                               "into its VM today); remove it, or run brig on a Linux host\n");
  auto garbled = run(args, {"BRIG_FORWARDED_FROM=darwin", "BRIG_HOST_SOCKET_BRIDGES=pg"});
  EXPECT_EQ(garbled.exit_code, 2);
  EXPECT_THAT(garbled.err, HasSubstr("BRIG_HOST_SOCKET_BRIDGES: \"pg\" is not NAME=/PATH"));
}

// The Mac's file is judged by the spec's rule before anything is bridged or
// forwarded: a symlink, a file that is no socket, an engine's socket.
TEST_F(VmCliTest, TheMacRefusesWhatItWouldNotBridge) {
  make_socket(home_ + "/pg.sock");
  ASSERT_EQ(::symlink((home_ + "/pg.sock").c_str(), (home_ + "/link.sock").c_str()), 0);
  write("plain.sock", "not a socket");
  ASSERT_EQ(::mkdir((home_ + "/podman").c_str(), 0755), 0);
  make_socket(home_ + "/podman/api.sock");
  ASSERT_EQ(::symlink((home_ + "/podman").c_str(), (home_ + "/sockets").c_str()), 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/link.sock", " is a symlink; give the socket's real path"},
      {"/plain.sock", " is not a unix socket"},
      {"/sockets/api.sock", " resolves to " + home_ + "/podman/api.sock, a podman engine socket; it is never allowed"},
  };
  for (const auto& [rel, why] : cases) {
    auto cell = write("cell.yaml", "name: agent\nimage: localhost/agent:1\nhost_sockets:\n  - {name: pg, host_path: " +
                                       home_ + rel + ", mount_point: /run/host/pg.sock}\n");
    const size_t before = calls().size();
    auto out = mac({"run", "--dry-run", "--file", cell});
    EXPECT_EQ(out.exit_code, 2) << out.err;
    EXPECT_EQ(out.err, "error: host socket pg: " + home_ + rel + why + "\n");
    // Nothing went to the VM.
    for (size_t i = before; i < calls().size(); ++i) EXPECT_NE(calls()[i].back(), cell);
  }
}

TEST_F(VmCliTest, AwkwardArgumentsArriveIntact) {
  const Argv cmd{"echo", "a b", "it's \"quoted\"", "$HOME", "$(touch /tmp/pwned)", "line1\nline2", "X=1", "", "*"};
  Argv args{"--format", "json", "run", "--dry-run", "localhost/x:1", "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  auto direct = brig(args);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  auto via_vm = mac(args);
  expect_same(direct, via_vm);
  EXPECT_EQ(nlohmann::json::parse(via_vm.out)["command"], nlohmann::json(cmd));
  EXPECT_EQ(calls().back(), forwarded(args));  // what limactl received: raw, not pre-quoted
}

TEST_F(VmCliTest, StdinReachesTheVm) {
  auto out = mac({"vm", "shell", "--", "cat"}, "Running", "from the mac\n");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "from the mac\n");
  EXPECT_EQ(calls().back(), (Argv{"shell", "brig", "--", "cat"}));
}

TEST_F(VmCliTest, TheTerminalReachesTheVm) {
  // util-linux `script` gives brig a pty; the command in the "VM" must see it
  // as its stdin and stdout, and its exit code must come back.
  if (!proc::find_executable("script")) GTEST_SKIP() << "no script(1)";
  const std::string inner = std::string(BRIG_BINARY) + " vm shell -- sh -c 'test -t 0 && test -t 1 && echo tty-ok; exit 3'";
  proc::Command c;
  c.argv = {"script", "-qec", inner, "/dev/null"};
  c.env = Argv{"BRIG_HOME=" + home_, "NO_COLOR=1", "HOME=" + home_, "SHELL=/bin/sh", "BRIG_PLATFORM=darwin",
               "FAKE_LIMA_STATE=Running", "FAKE_LIMA_DIR=" + calls_dir_, "PATH=" + bin_ + ":/usr/bin:/bin"};
  c.cwd = home_;
  c.timeout = std::chrono::seconds(30);
  proc::PosixRunner r;
  auto pty = r.run(c);
  ASSERT_TRUE(pty.ok());
  EXPECT_THAT(pty->out, HasSubstr("tty-ok"));
  EXPECT_EQ(pty->exit_code, 3);
}

TEST_F(VmCliTest, StoppedVmSaysBrigVmStart) {
  auto out = mac({"policy", "test", "https://api.github.com/"}, "Stopped");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "error: the brig VM is stopped\nfix: brig vm start\n");
  EXPECT_EQ(calls(), (std::vector<Argv>{{"list", "--json", "brig"}}));  // no `limactl shell` prompt
}

TEST_F(VmCliTest, AbsentVmSaysCreateThenStart) {
  auto out = mac({"cell", "list"}, "");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("error: the brig VM does not exist"));
  EXPECT_THAT(out.err, HasSubstr("fix: brig vm create && brig vm start\n"));
}

TEST_F(VmCliTest, MissingLimactlSaysBrewInstallLima) {
  auto out = run({"run", "--dry-run", "x"}, {"BRIG_PLATFORM=darwin"}, {}, /*with_lima=*/false);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "error: limactl not found in PATH (brig's VM runs under Lima)\nfix: brew install lima\n");
  auto vm = run({"vm", "status"}, {"BRIG_PLATFORM=darwin"}, {}, false);
  EXPECT_EQ(vm.exit_code, 1);
  EXPECT_THAT(vm.err, HasSubstr("fix: brew install lima"));
}

TEST_F(VmCliTest, VersionConfigAndHelpStayOnTheMac) {
  auto version = mac({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, StartsWith("brig "));
  EXPECT_EQ(mac({}).exit_code, 0);
  EXPECT_EQ(mac({"--help"}).exit_code, 0);
  mac({"config", "list"});
  EXPECT_TRUE(calls().empty());
}

TEST_F(VmCliTest, UnknownPlatformIsAUsageError) {
  auto out = run({"vm", "status"}, {"BRIG_PLATFORM=macos"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: BRIG_PLATFORM must be darwin or linux, got \"macos\"\n"
            "fix: unset BRIG_PLATFORM, or set it to darwin (thin client) or linux (native)\n");
}

TEST_F(VmCliTest, NativeLinuxStatusSaysNative) {
  auto out = brig({"vm", "status"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, StartsWith("native:"));
  auto j = brig({"--format", "json", "vm", "status"});
  EXPECT_EQ(nlohmann::json::parse(j.out)["mode"], "native");
}

TEST_F(VmCliTest, NativeLinuxOtherVerbsExplainAndFail) {
  for (const char* verb : {"create", "start", "stop", "shell", "delete"}) {
    auto out = brig({"vm", verb});
    EXPECT_EQ(out.exit_code, 1) << verb;
    EXPECT_THAT(out.err, StartsWith(std::string("error: this Linux host runs cells natively; 'brig vm ") + verb));
    EXPECT_THAT(out.err, HasSubstr("fix: run brig commands directly (see 'brig vm status'); to manage a Lima VM "
                                   "anyway, add --force-vm\n"));
  }
}

TEST_F(VmCliTest, ForceVmOnLinuxDrivesLima) {
  auto out = run({"vm", "start", "--force-vm"}, {"FAKE_LIMA_STATE=Stopped"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(calls().back(), (Argv{"start", "--tty=false", "brig"}));
}

TEST_F(VmCliTest, StatusOnTheMac) {
  auto out = mac({"vm", "status"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "vm: running (4 CPUs, 8 GiB memory, 50 GiB disk, aarch64, vz)\n");
  auto j = nlohmann::json::parse(mac({"--format", "json", "vm", "status"}, "Stopped").out);
  EXPECT_EQ(j["platform"], "darwin");
  EXPECT_EQ(j["state"], "stopped");
  EXPECT_EQ(j["vm"]["cpus"], 4);
  auto absent = mac({"vm", "status"}, "");
  EXPECT_EQ(absent.out, "vm: absent (create it with 'brig vm create')\n");
}

TEST_F(VmCliTest, CreateRendersIntoBrigHomeAndCallsLimactlCreate) {
  auto out = mac({"vm", "create", "--cpus", "2", "--memory", "4GiB", "--disk", "30GiB"}, "");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(calls().back(), (Argv{"create", "--name=brig", "--tty=false", home_ + "/lima.yaml"}));
  // Where the VM's runsc comes from, out of the box: gVisor's signed apt repository.
  EXPECT_THAT(out.out, HasSubstr("\ngVisor: runsc 20"));
  EXPECT_THAT(out.out, HasSubstr(": from gVisor's signed apt repository (suite release), archive key "));
  auto yaml = fs::read_file(home_ + "/lima.yaml");
  ASSERT_TRUE(yaml.ok());
  EXPECT_THAT(*yaml, HasSubstr("cpus: 2\n"));
  EXPECT_THAT(*yaml, HasSubstr("location: \"" + home_ + "\""));
  EXPECT_THAT(*yaml, HasSubstr(std::string("location: \"") + BRIG_SOURCE_DIR + "\""));
}

TEST_F(VmCliTest, CreateRefusesAnExistingVm) {
  auto out = mac({"vm", "create"}, "Stopped");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err,
            "error: the brig VM already exists (Stopped)\n"
            "fix: start it with 'brig vm start', or 'brig vm delete' it to create it anew\n");
}

TEST_F(VmCliTest, CreateRejectsBadSizesAndSources) {
  auto mem = mac({"vm", "create", "--memory", "8GB"}, "");
  EXPECT_EQ(mem.exit_code, 2);
  EXPECT_EQ(mem.err,
            "error: --memory must be a size like 8GiB, got \"8GB\"\n"
            "fix: use a whole number with MiB, GiB or TiB, e.g. --memory 8GiB\n");
  auto cpus = mac({"vm", "create", "--cpus", "0"}, "");
  EXPECT_EQ(cpus.exit_code, 2);
  EXPECT_THAT(cpus.err, HasSubstr("fix: e.g. --cpus 4"));
  auto src = mac({"vm", "create", "--source", home_}, "");
  EXPECT_EQ(src.exit_code, 2);
  EXPECT_EQ(src.err, "error: no brig source tree at " + home_ +
                         " (the VM builds brig from it)\nfix: pass the checkout with --source DIR\n");
  EXPECT_TRUE(calls().empty());
}

TEST_F(VmCliTest, StartStopDelete) {
  EXPECT_EQ(mac({"vm", "start"}, "Stopped").exit_code, 0);
  EXPECT_EQ(calls().back(), (Argv{"start", "--tty=false", "brig"}));
  EXPECT_EQ(mac({"vm", "stop"}, "Running").exit_code, 0);
  EXPECT_EQ(calls().back(), (Argv{"stop", "brig"}));
  auto del = mac({"vm", "delete"}, "Running");
  EXPECT_EQ(del.exit_code, 1);
  EXPECT_EQ(del.err,
            "error: the brig VM is running\nfix: stop it first with 'brig vm stop', or use 'brig vm delete --force'\n");
  EXPECT_EQ(mac({"vm", "delete", "--force"}, "Running").exit_code, 0);
  EXPECT_EQ(calls().back(), (Argv{"delete", "--force", "brig"}));
  auto absent = mac({"vm", "start"}, "");
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_EQ(absent.err, "error: the brig VM does not exist\nfix: brig vm create\n");
}

TEST_F(VmCliTest, LimactlFailureIsReported) {
  auto out = run({"vm", "start"}, {"BRIG_PLATFORM=darwin", "FAKE_LIMA_STATE=Stopped", "FAKE_LIMA_EXIT=4"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, StartsWith("error: limactl start failed (exit 4)\nfix: "));
}

TEST_F(VmCliTest, ShellNeedsARunningVm) {
  auto out = mac({"vm", "shell"}, "Stopped");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("fix: brig vm start"));
}

}  // namespace
}  // namespace brig::testing
