// The fixture of the engine tests (run_test, verbs_test, system_test): the
// engine over a FakeRunner in a throwaway $BRIG_HOME, with a clock that never
// sleeps.
#pragma once

#include "brig/engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>

#include "brig/engine/secrets.h"
#include "brig/engine/subnets.h"
#include "fakes/fake_runner.h"
#include "unit/engine/engine_test_util.h"

namespace brig::engine::testing {

using ::testing::HasSubstr;
using ::testing::Not;
using brig::testing::canned;
using brig::testing::FakeRunner;

inline constexpr const char* kCa = "-----BEGIN CERTIFICATE-----\nMIIBbrigtestca\n-----END CERTIFICATE-----\n";
inline const Argv kWardenRunning = {"podman", "container", "inspect", "--format", "{{.State.Running}}", "brig-warden"};
inline const Argv kCellStatus = {"podman", "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                          "brig-c1"};
inline const Argv kBridgeOf = {"podman", "network", "inspect", "--format", "{{.NetworkInterface}}"};
inline constexpr const char* kBridge = "podman7";
// The one podman process that makes and starts cell c1 (the fixture's host:
// runsc, network=host), attached or detached (-d follows).
inline const Argv kRun = {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run"};

// A clock that never sleeps: it only adds up what it was asked to wait.
class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::time_point(slept); }
  void sleep_for(std::chrono::milliseconds d) override { slept += d; }
  std::chrono::milliseconds slept{0};
};

inline proc::Output out(int exit_code, std::string stdout_text = {}, std::string stderr_text = {}) {
  return canned(exit_code, std::move(stdout_text), std::move(stderr_text));
}

inline bool starts_with(const Argv& argv, const Argv& prefix) {
  return prefix.size() <= argv.size() && std::equal(prefix.begin(), prefix.end(), argv.begin());
}

// `flag value` appears as two adjacent arguments.
inline bool has_pair(const Argv& argv, const std::string& flag, const std::string& value) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

inline std::vector<std::string> str_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// `podman [--runtime-flag X]... run ...`: the argv that makes and starts a cell.
inline bool is_cell_run(const Argv& argv) {
  std::size_t i = 1;
  while (i + 1 < argv.size() && argv[i] == "--runtime-flag") i += 2;
  return !argv.empty() && argv[0] == "podman" && i < argv.size() && argv[i] == "run";
}

inline std::string str(const Argv& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

class EngineTest : public ::testing::Test {
 protected:
  TempDir tmp;
  Paths paths{tmp.path()};
  FakeRunner fake;
  FakeClock clock;
  const std::string proc_sys = tmp.path() + "/proc-sys";
  Engine engine{fake, paths, HostSeams{&clock, proc_sys}};

  void SetUp() override {
    ASSERT_TRUE(make_layout(paths).ok());
    save_config("host");
    spit(paths.ca_cert(), kCa);
    fake.on(kWardenRunning, out(0, "true\n"));
    fake.on({"podman", "image", "exists"}, out(0));
    fake.on({"podman", "container", "exists"}, out(1));
    fake.on(kCellStatus, out(0, "running 0\n"));
    fake.on(kBridgeOf, out(0, std::string(kBridge) + "\n"));
    spit(disable_ipv6(), "0\n");
    // podman run --cidfile writes the ID once it has made the container:
    // not when it fails with 125 before that (unless a test says the cell
    // itself exited 125).
    fake.after = [this](const proc::Command& c, const proc::Output& o) {
      auto at = std::find(c.argv.begin(), c.argv.end(), "--cidfile");
      if (at == c.argv.end() || at + 1 == c.argv.end() || (o.exit_code == 125 && !cell_exits_125)) return;
      spit(*(at + 1), "0123abcd\n");
    };
  }
  bool cell_exits_125 = false;

  std::string disable_ipv6() const { return proc_sys + "/net/ipv6/conf/" + kBridge + "/disable_ipv6"; }
  std::string ca_bundle() const { return paths.cell_state("c1") + "/brig/ca-bundle.crt"; }

  void save_config(const std::string& runsc_network) {
    HostConfig cfg;
    cfg.podman = "/usr/bin/podman";
    cfg.runsc = "/usr/bin/runsc";
    cfg.runsc_network = runsc_network;
    cfg.sandbox_network_works = runsc_network == "sandbox";
    cfg.ulimits = {"nofile=1024:1024"};
    cfg.runsc_exec_tty = true;  // no runsc quirks here (plan_test covers their workarounds)
    cfg.runsc_stat_ok = true;
    ASSERT_TRUE(save_host_config(paths, cfg).ok());
  }

  bool spit_secret(const std::string& name) { return secret_add(paths, name, "s3cr3t").ok(); }

  static spec::Resolved resolved(const std::string& name = "c1") {
    spec::Resolved r;
    r.spec.name.set(name, spec::Origin::flag("--name"));
    r.spec.image.set("localhost/agent:1", spec::Origin::flag("IMAGE"));
    r.spec.command.set({"sh", "-c", "sleep 1000"}, spec::Origin::flag("--"));
    // What spec::resolve always fills (the engine has no defaults of its own).
    const auto o = spec::Origin::builtin();
    r.spec.profile.set("supervised", o);
    r.spec.runtime.set("runsc", o);
    r.spec.workspace_mount.set("/work", o);
    r.spec.pids_limit.set(1024, o);
    r.spec.writable_rootfs.set(false, o);
    r.spec.trust_warden_ca.set(true, o);
    return r;
  }

  // A successful detached run.
  void run_ok(const spec::Resolved& r) {
    auto rc = engine.run(r, RunOptions{.detach = true});
    ASSERT_TRUE(rc.ok()) << rc.error().message() << " / " << rc.error().fix();
    EXPECT_EQ(*rc, 0);
  }

  // Index of the first call at or after `from` whose argv starts with `prefix`; -1 if none.
  long find_call(const Argv& prefix, long from = 0) const {
    for (std::size_t i = static_cast<std::size_t>(from); i < fake.calls.size(); ++i) {
      if (starts_with(fake.calls[i].argv, prefix)) return static_cast<long>(i);
    }
    return -1;
  }
  bool called(const Argv& prefix) const { return find_call(prefix) >= 0; }
  // podman run fails before the container exists (exit 125, podman's words
  // on stderr), and podman then knows no container brig-c1.
  void fail_create(const std::string& podman_err) {
    fake.on(kRun, out(125, "", podman_err));
    fake.on(kCellStatus, out(125, "", "Error: no such container brig-c1\n"));
  }
  std::string all_calls() const {
    std::string s;
    for (const auto& c : fake.calls) s += str(c.argv) + "\n";
    return s;
  }
  // Index of the first `podman [runtime flags] run` (the cell's); -1 if none.
  long find_run() const {
    for (std::size_t i = 0; i < fake.calls.size(); ++i) {
      if (is_cell_run(fake.calls[i].argv)) return static_cast<long>(i);
    }
    return -1;
  }
  // The argv of the (only) `podman run` of a cell.
  Argv run_argv() const {
    long i = find_run();
    EXPECT_GE(i, 0) << all_calls();
    return i < 0 ? Argv{} : fake.calls[static_cast<std::size_t>(i)].argv;
  }
  SubnetMap subnet_map() const {
    auto m = read_subnet_map(paths);
    EXPECT_TRUE(m.ok());
    return m ? *m : SubnetMap{};
  }
  void write_record(const std::string& name, int subnet) {
    CellRecord r;
    r.name = name;
    r.image = "localhost/agent:1";
    r.runtime = "runsc";
    r.runsc_network = "host";
    r.subnet = Subnet{subnet};
    r.workspace = paths.workspace(name);
    r.workspace_mount = "/work";
    spit(paths.cell_state(name) + "/cell-state.json", to_json(r).dump(2));
  }
  // Nothing of cell c1 is left on disk.
  void expect_no_trace_of_c1() {
    EXPECT_FALSE(exists(paths.cell_state("c1")));
    EXPECT_FALSE(exists(paths.cell_policy("c1")));
    EXPECT_EQ(subnet_map().count("10.60.1.0/24"), 0u);
    for (const auto& [cidr, owner] : subnet_map()) EXPECT_NE(owner, "c1") << cidr;
  }
};

inline constexpr const char* kPs = R"([
  {"Names": ["brig-c1"], "State": "running", "ExitCode": 0, "StartedAt": 1700000000},
  {"Names": ["my-brig-x"], "State": "running", "ExitCode": 0},
  {"Names": ["brig-warden"], "State": "running", "ExitCode": 0}
])";

}  // namespace brig::engine::testing
