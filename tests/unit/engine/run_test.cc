// brig run over a FakeRunner: the argv it runs, the files it leaves, what it undoes, what it refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "brig/engine/subnets.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

// --- run: the happy path ---

TEST_F(EngineTest, RunDetachedRunsTheStepsInOrder) {
  run_ok(resolved());
  long net = find_call({"podman", "network", "create", "--internal", "--disable-dns", "--subnet", "10.60.1.0/24",
                        "--gateway", "10.60.1.1", "--label", "brig.cell=c1", "brig_net_1"});
  ASSERT_GE(net, 0) << all_calls();
  long connect = find_call({"podman", "network", "connect", "--ip", "10.60.1.2", "brig_net_1", "brig-warden"}, net + 1);
  ASSERT_GE(connect, 0) << all_calls();
  // One podman process makes and starts the cell, detached.
  long run = find_call({"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run", "-d",
                        "--name", "brig-c1"},
                       connect + 1);
  ASSERT_GE(run, 0) << all_calls();
  EXPECT_EQ(find_run(), run) << all_calls();
  EXPECT_FALSE(called({"podman", "create"})) << all_calls();
  EXPECT_FALSE(called({"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "start"}))
      << all_calls();
  // Validation happened before any change; the image and the name are left
  // to podman run (--pull never, --cidfile).
  const long warden = find_call(kWardenRunning);
  EXPECT_GE(warden, 0) << all_calls();
  EXPECT_LT(warden, net);
  EXPECT_FALSE(called({"podman", "image", "exists"})) << all_calls();
  EXPECT_FALSE(called({"podman", "container", "exists"})) << all_calls();
  // Nothing was undone.
  EXPECT_FALSE(called({"podman", "network", "rm"})) << all_calls();
  EXPECT_FALSE(called({"podman", "rm"})) << all_calls();
}

TEST_F(EngineTest, RunArgv) {
  run_ok(resolved());
  const Argv a = run_argv();
  EXPECT_TRUE(starts_with(a, {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run", "-d",
                              "--name", "brig-c1", "--hostname", "c1"}))
      << str(a);
  EXPECT_TRUE(has_pair(a, "--runtime", "runsc")) << str(a);
  EXPECT_TRUE(has_pair(a, "--network", "brig_net_1")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ip", "10.60.1.10")) << str(a);
  EXPECT_TRUE(has_pair(a, "--dns", "10.60.1.2")) << str(a);  // warden, the only resolver
  EXPECT_TRUE(has_pair(a, "--dns-search", ".")) << str(a);
  EXPECT_TRUE(std::count(a.begin(), a.end(), "--read-only") == 1) << str(a);
  EXPECT_TRUE(has_pair(a, "--pids-limit", "1024")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ulimit", "nofile=1024:1024")) << str(a);
  EXPECT_TRUE(has_pair(a, "--security-opt", "seccomp=" + paths.run_dir() + "/seccomp-cell.json")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "HTTP_PROXY=http://10.60.1.2:3128")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "HTTPS_PROXY=http://10.60.1.2:3128")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "NODE_USE_ENV_PROXY=1")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "SSL_CERT_FILE=/run/brig/ca-bundle.crt")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "BRIG_CELL=c1")) << str(a);
  EXPECT_TRUE(has_pair(a, "--volume", tmp.path() + "/state/c1/brig:/run/brig:ro")) << str(a);
  EXPECT_TRUE(has_pair(a, "--volume", tmp.path() + "/state/c1/workspace:/work:rw")) << str(a);
  EXPECT_TRUE(has_pair(a, "--workdir", "/work")) << str(a);
  EXPECT_TRUE(has_pair(a, "--label", "brig.cell=c1")) << str(a);
  ASSERT_GE(a.size(), 4u);
  EXPECT_EQ(Argv(a.end() - 4, a.end()), (Argv{"localhost/agent:1", "sh", "-c", "sleep 1000"}));
  EXPECT_TRUE(exists(paths.run_dir() + "/seccomp-cell.json"));
}

TEST_F(EngineTest, RunLeavesStateFiles) {
  run_ok(resolved());
  ASSERT_TRUE(exists(paths.cell_policy("c1")));
  EXPECT_EQ(nlohmann::json::parse(slurp(paths.cell_policy("c1"))), nlohmann::json::object());

  auto rec = record_from_json(nlohmann::json::parse(slurp(paths.cell_state("c1") + "/cell-state.json")));
  ASSERT_TRUE(rec.ok()) << rec.error().message();
  EXPECT_EQ(rec->name, "c1");
  EXPECT_EQ(rec->image, "localhost/agent:1");
  EXPECT_EQ(rec->runtime, "runsc");
  EXPECT_EQ(rec->runsc_network, "host");
  EXPECT_EQ(rec->subnet.index, 1);
  EXPECT_EQ(rec->workspace, paths.workspace("c1"));
  EXPECT_FALSE(rec->airgapped);
  EXPECT_TRUE(std::filesystem::is_directory(paths.workspace("c1")));

  const std::string cell_json = slurp(paths.cell_state("c1") + "/brig/cell.json");
  EXPECT_THAT(cell_json, Not(HasSubstr(tmp.path()))) << "a host path leaked into the cell";
  auto cj = nlohmann::json::parse(cell_json);
  EXPECT_EQ(cj["name"], "c1");
  EXPECT_EQ(cj["proxy"], "http://10.60.1.2:3128");
  EXPECT_EQ(cj["workspace_mount"], "/work");
  EXPECT_EQ(cj["airgapped"], false);

  EXPECT_THAT(slurp(paths.cell_state("c1") + "/brig/ca-bundle.crt"), HasSubstr(kCa));
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}}));
}

// Detached --rm: a reaper (brig cell rm --wait) is started detached once the
// cell runs, and only then.
TEST_F(EngineTest, DetachedRmStartsTheReaper) {
  ASSERT_TRUE(engine.run(resolved(), RunOptions{.detach = true, .rm = true, .reaper_binary = "/usr/bin/brig"}).ok());
  ASSERT_EQ(fake.detached.size(), 1u);
  EXPECT_EQ(fake.detached[0].argv,
            (std::vector<std::string>{"/usr/bin/brig", "cell", "rm", "--wait", "--force", "c1"}));
  EXPECT_EQ(reaper_args("b", "c1", true), (std::vector<std::string>{"b", "cell", "rm", "--wait", "--keep-workspace", "c1"}));
}

// An attached --rm --keep-workspace run says where the workspace went.
TEST_F(EngineTest, AttachedRmKeepWorkspacePrintsWhereTheWorkspaceIs) {
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(resolved(), RunOptions{.rm = true, .keep_workspace = true});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  const std::string kept = paths.home() + "/workspaces/c1";
  EXPECT_TRUE(exists(kept));
  EXPECT_THAT(err, HasSubstr("workspace of c1 kept in " + kept + "\n"));
  EXPECT_FALSE(exists(paths.cell_state("c1")));
}

TEST_F(EngineTest, NoReaperWithoutRmOrWhenTheRunFails) {
  ASSERT_TRUE(engine.run(resolved(), RunOptions{.detach = true, .reaper_binary = "/usr/bin/brig"}).ok());
  EXPECT_TRUE(fake.detached.empty());
}

// --- run: rollback ---

// podman run -d failing before its container exists (image unknown, name in
// use, bad limits) reads as the failed create it is, and the run is undone.
TEST_F(EngineTest, FailedCreateIsRolledBack) {
  fail_create("Error: bad image\n");
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "podman could not create the cell: Error: bad image");
  EXPECT_EQ(rc.error().fix(), "check the image and limits with: brig cell preflight, or brig run --dry-run");
  expect_no_trace_of_c1();
  long run = find_run();
  ASSERT_GE(run, 0);
  // No container ID written: none was made, so none is removed (one of that
  // name would be another's).
  EXPECT_LT(find_call({"podman", "rm"}, run + 1), 0) << all_calls();
  EXPECT_GE(find_call({"podman", "network", "rm", "--force", "brig_net_1"}, run + 1), 0) << all_calls();
  EXPECT_THAT(slurp(paths.events_log()), HasSubstr("\"event\":\"rollback\""));
}

// The same failure attached: podman's words went to the terminal as they came
// (not held back), so the error says what it knows; still nothing is left.
TEST_F(EngineTest, FailedCreateOfAnAttachedRunIsRolledBack) {
  fail_create("");
  auto rc = engine.run(resolved(), RunOptions{});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "podman could not create the cell");
  EXPECT_EQ(rc.error().fix(), "check the image and limits with: brig cell preflight, or brig run --dry-run");
  expect_no_trace_of_c1();
  EXPECT_TRUE(starts_with(run_argv(), {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host",
                                       "run", "--name", "brig-c1"}))
      << str(run_argv());
  EXPECT_GE(find_call({"podman", "network", "rm", "--force", "brig_net_1"}, find_run() + 1), 0) << all_calls();
  EXPECT_THAT(slurp(paths.events_log()), Not(HasSubstr("\"event\":\"exit\"")));
}

// An attached run whose container was made but never started: a failed
// start (podman's held-back words explained), the container removed too.
TEST_F(EngineTest, AttachedRunThatNeverStartedIsRolledBack) {
  // podman run says 126 when the runtime cannot start the cell (as docker does).
  fake.on(kRun, out(126, "", "Error: OCI runtime error: runsc: boom\n"));
  fake.on(kCellStatus, out(0, "created 0\n"));
  auto rc = engine.run(resolved(), RunOptions{});
  ASSERT_FALSE(rc.ok());
  EXPECT_THAT(rc.error().message(), ::testing::StartsWith("cell c1 did not start: "));
  expect_no_trace_of_c1();
  EXPECT_GE(find_call({"podman", "rm", "--force", "0123abcd"}, find_run() + 1), 0) << "removed by its ID: " << all_calls();
}

// An attached cell that itself exits 125 is not a failed create: its
// container exists, and its exit code is the run's.
TEST_F(EngineTest, AttachedCellExiting125IsItsExitCode) {
  cell_exits_125 = true;
  fake.on(kRun, out(125));
  fake.on(kCellStatus, out(0, "exited 125\n"));
  auto rc = engine.run(resolved(), RunOptions{});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, 125);
  EXPECT_FALSE(called({"podman", "rm"})) << all_calls();
}

// The history records what happened; it is not part of it. A run whose event
// cannot be written (events.jsonl is a directory here) still succeeds, and
// says so in a warning.
TEST_F(EngineTest, UnwritableHistoryDoesNotFailARun) {
  std::filesystem::create_directories(paths.events_log());
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(log)));
  run_ok(resolved());
  spdlog::set_default_logger(previous);
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}}));
  EXPECT_TRUE(exists(paths.cell_policy("c1")));
  EXPECT_THAT(log.str(), HasSubstr("cannot record the create event in brig's history: cannot open " +
                                   paths.events_log() + ": Is a directory"));
}

TEST_F(EngineTest, FailedConnectIsRolledBack) {
  fake.on({"podman", "network", "connect"}, out(125, "", "Error: netavark: boom\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "connecting warden to brig_net_1: Error: netavark: boom");
  EXPECT_EQ(rc.error().fix(), "is warden running? brig system up");
  expect_no_trace_of_c1();
  long connect = find_call({"podman", "network", "connect"});
  ASSERT_GE(connect, 0);
  EXPECT_GE(find_call({"podman", "network", "rm", "--force", "brig_net_1"}, connect + 1), 0) << all_calls();
  EXPECT_LT(find_run(), 0);
}

TEST_F(EngineTest, FailedStartRemovesTheContainerToo) {
  fake.on({"podman", "--runtime-flag"}, out(126, "", "Error: OCI runtime error\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cell c1 did not start: OCI runtime error");
  EXPECT_EQ(rc.error().exit_code(), 125);
  expect_no_trace_of_c1();
  long start = find_call({"podman", "--runtime-flag"});
  long rm = find_call({"podman", "rm", "--force", "0123abcd"}, start + 1);
  EXPECT_GE(rm, 0) << all_calls();
  EXPECT_GE(find_call({"podman", "network", "rm", "--force", "brig_net_1"}, rm + 1), 0) << all_calls();
}

TEST_F(EngineTest, SubnetOfTheFailedRunIsReusable) {
  fail_create("bad image");
  ASSERT_FALSE(engine.run(resolved(), RunOptions{.detach = true}).ok());
  fake.on(kRun, out(0));
  fake.on(kCellStatus, out(0, "running 0\n"));
  run_ok(resolved());
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}}));
}

// --- run: refusals before any change ---

TEST_F(EngineTest, RefusesWhenWardenIsNotRunning) {
  fake.on(kWardenRunning, out(0, "false\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::unavailable);
  EXPECT_EQ(rc.error().message(), "warden is not running, so a cell would have no way out");
  EXPECT_EQ(rc.error().fix(), "brig system up");
  EXPECT_FALSE(called({"podman", "network", "create"})) << all_calls();
  EXPECT_FALSE(exists(paths.cell_state("c1")));
}

TEST_F(EngineTest, RefusesWhenWardenContainerIsAbsent) {
  fake.on(kWardenRunning, out(125, "", "Error: no such container brig-warden\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().fix(), "brig system up");
  EXPECT_FALSE(called({"podman", "network", "create"}));
}

TEST_F(EngineTest, RefusesAMissingSecret) {
  ASSERT_TRUE(spit_secret("present"));
  spec::Resolved r = resolved();
  r.spec.secrets.set(spec::secret_files({"present", "api-key"}), spec::Origin::flag("--secret"));
  auto rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::not_found);
  EXPECT_EQ(rc.error().message(), "secret \"api-key\" does not exist");
  EXPECT_EQ(rc.error().fix(), "brig secrets add api-key - < FILE");
  EXPECT_FALSE(called({"podman", "network", "create"}));
  EXPECT_FALSE(exists(paths.cell_state("c1")));
}

TEST_F(EngineTest, RefusesRunscWithoutAnAcceptedNetwork) {
  save_config("");
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::unavailable);
  EXPECT_THAT(rc.error().message() + " " + rc.error().fix(), HasSubstr("--accept-weaker-network"));
  EXPECT_TRUE(fake.calls.empty()) << all_calls();
}

// brig run leaves these to its podman run (no podman question before it):
// the same words as preflight's, the run undone, and the other container kept.
TEST_F(EngineTest, RefusesAnExistingContainer) {
  fake.on(kRun, out(125, "", "Error: creating container storage: the container name \"brig-c1\" is already in use by 1a2b. "
                             "You have to remove that container to be able to reuse that name: that name is already in use\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::exists);
  EXPECT_THAT(rc.error().message(), HasSubstr("a cell named \"c1\" already exists"));
  EXPECT_THAT(rc.error().fix(), HasSubstr("brig cell rm c1"));
  EXPECT_FALSE(called({"podman", "container", "exists"}));
  EXPECT_FALSE(called({"podman", "rm"})) << "not ours: " << all_calls();
  EXPECT_TRUE(subnet_map().empty());
  EXPECT_TRUE(called({"podman", "network", "rm", "--force", "brig_net_1"})) << all_calls();
}

// Attached with --rm (podman's line held back, as the terminal would not
// show it twice): refused the same way, and neither the undo nor --rm
// removes the container that holds the name.
TEST_F(EngineTest, AttachedRunWithTheNameTakenRemovesNothingOfAnothers) {
  fake.on(kRun, out(125, "", "Error: creating container storage: the container name \"brig-c1\" is already in use by 1a2b\n"));
  auto rc = engine.run(resolved(), RunOptions{.rm = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::exists);
  EXPECT_FALSE(called({"podman", "rm"})) << all_calls();
  const auto& held = fake.calls[static_cast<std::size_t>(find_run())].hold_stderr_lines;
  EXPECT_THAT(held, ::testing::Contains(::testing::StartsWith("Error: creating container storage: the container name \"brig-c1\"")));
  EXPECT_THAT(held, ::testing::Contains("Error: localhost/agent:1: image not known"));
  expect_no_trace_of_c1();
}

TEST_F(EngineTest, RefusesAnExistingStateDirAndKeepsIt) {
  spit(paths.workspace("c1") + "/file", "precious");
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::exists);
  EXPECT_EQ(slurp(paths.workspace("c1") + "/file"), "precious");
  EXPECT_FALSE(called({"podman", "network", "create"}));
  EXPECT_TRUE(subnet_map().empty());
}

TEST_F(EngineTest, RefusesAMissingImage) {
  fake.on(kRun, out(125, "", "Error: localhost/agent:1: image not known\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::not_found);
  EXPECT_EQ(rc.error().message(), "image \"localhost/agent:1\" is not in local storage");
  EXPECT_EQ(rc.error().fix(), "brig image build DIR -t localhost/agent:1 (the directory with its Containerfile)");
  EXPECT_FALSE(called({"podman", "image", "exists"}));
  EXPECT_TRUE(subnet_map().empty());
  expect_no_trace_of_c1();
}

// --- run: environment and policy ---

TEST_F(EngineTest, SpecCaVariableWinsButProxyPointsAtWarden) {
  spec::Resolved r = resolved();
  r.spec.env.set({{"SSL_CERT_FILE", "/mine"}, {"HTTP_PROXY", "http://evil:1"}, {"FOO", "bar"}},
                 spec::Origin::flag("--env"));
  run_ok(r);
  const Argv a = run_argv();
  EXPECT_TRUE(has_pair(a, "--env", "SSL_CERT_FILE=/mine")) << str(a);
  EXPECT_FALSE(has_pair(a, "--env", "SSL_CERT_FILE=/run/brig/ca-bundle.crt")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "HTTP_PROXY=http://10.60.1.2:3128")) << str(a);
  EXPECT_FALSE(has_pair(a, "--env", "HTTP_PROXY=http://evil:1")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "REQUESTS_CA_BUNDLE=/run/brig/ca-bundle.crt")) << str(a);
  EXPECT_TRUE(has_pair(a, "--env", "FOO=bar")) << str(a);
}

TEST_F(EngineTest, NoCaWhenNotTrusted) {
  spec::Resolved r = resolved();
  r.spec.trust_warden_ca.set(false, spec::Origin::flag("--no-trust-warden-ca"));
  run_ok(r);
  const Argv a = run_argv();
  for (const auto& arg : a) {
    EXPECT_THAT(arg, Not(HasSubstr("ca-bundle.crt"))) << str(a);
    EXPECT_THAT(arg, Not(::testing::StartsWith("SSL_CERT_FILE="))) << str(a);
  }
  EXPECT_FALSE(exists(paths.cell_state("c1") + "/brig/ca-bundle.crt"));
  EXPECT_TRUE(has_pair(a, "--env", "HTTP_PROXY=http://10.60.1.2:3128")) << str(a);
}

TEST_F(EngineTest, AirgappedPolicyFile) {
  spec::Resolved r = resolved();
  r.airgapped = true;
  run_ok(r);
  auto policy = nlohmann::json::parse(slurp(paths.cell_policy("c1")));
  EXPECT_EQ(policy.value("airgapped", false), true) << policy.dump();
  EXPECT_FALSE(exists(paths.cell_state("c1") + "/brig/ca-bundle.crt"));
  EXPECT_EQ(nlohmann::json::parse(slurp(paths.cell_state("c1") + "/brig/cell.json"))["airgapped"], true);
  EXPECT_TRUE(nlohmann::json::parse(slurp(paths.cell_state("c1") + "/cell-state.json"))["airgapped"].get<bool>());
}

TEST_F(EngineTest, SecretsAreMountedReadOnly) {
  ASSERT_TRUE(spit_secret("api-key"));
  spec::Resolved r = resolved();
  r.spec.secrets.set(spec::secret_files({"api-key"}), spec::Origin::flag("--secret"));
  run_ok(r);
  const Argv a = run_argv();
  EXPECT_TRUE(has_pair(a, "--volume", paths.secret("api-key") + ":/run/secrets/api-key:ro")) << str(a);
  for (const auto& arg : a) EXPECT_THAT(arg, Not(HasSubstr("s3cr3t"))) << "secret value in argv";
}

// --- IPv6 off on the cell bridge: a security control, so it fails closed ---

TEST_F(EngineTest, RunSwitchesIpv6OffOnTheBridge) {
  run_ok(resolved());
  EXPECT_EQ(slurp(disable_ipv6()), "1\n");
  long connect = find_call({"podman", "network", "connect"});
  long inspect = find_call(kBridgeOf);
  ASSERT_GE(inspect, 0) << all_calls();
  EXPECT_LT(connect, inspect) << "the bridge exists once warden is attached";
  EXPECT_EQ(fake.calls[static_cast<std::size_t>(inspect)].argv.back(), "brig_net_1");
}

TEST_F(EngineTest, RunIsRolledBackWhenPodmanCannotNameTheBridge) {
  fake.on(kBridgeOf, out(125, "", "Error: boom\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cannot switch IPv6 off on the bridge of brig_net_1: podman network inspect failed: Error: boom");
  EXPECT_EQ(rc.error().fix(), "podman network inspect brig_net_1");
  expect_no_trace_of_c1();
  EXPECT_GE(find_call({"podman", "network", "rm", "--force", "brig_net_1"}, find_call(kBridgeOf) + 1), 0) << all_calls();
  EXPECT_LT(find_run(), 0) << all_calls();
}

TEST_F(EngineTest, RunIsRolledBackWhenTheBridgeIsMissing) {
  fake.on(kBridgeOf, out(0, "podman9\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cannot switch IPv6 off on the bridge of brig_net_1: bridge podman9 does not exist");
  expect_no_trace_of_c1();
  EXPECT_LT(find_run(), 0);
}

TEST_F(EngineTest, RunIsRolledBackWhenPodmanNamesNoBridge) {
  fake.on(kBridgeOf, out(0, "\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cannot switch IPv6 off on the bridge of brig_net_1: podman names no bridge interface for it (\"\")");
  expect_no_trace_of_c1();
}

TEST_F(EngineTest, RunIsRolledBackWhenTheSysctlCannotBeWritten) {
  std::filesystem::remove(disable_ipv6());
  std::filesystem::create_directories(disable_ipv6());  // a directory: opening it for writing fails
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_THAT(rc.error().message(), HasSubstr("cannot switch IPv6 off on the bridge of brig_net_1: opening " + disable_ipv6()));
  EXPECT_EQ(rc.error().fix(), "sudo sysctl -w net.ipv6.conf.podman7.disable_ipv6=1");
  expect_no_trace_of_c1();
}

TEST_F(EngineTest, AKernelWithoutIpv6NeedsNothingSwitchedOff) {
  std::filesystem::remove_all(proc_sys + "/net/ipv6");
  run_ok(resolved());
}

TEST_F(EngineTest, StartFailsWhenIpv6CannotBeSwitchedOff) {
  run_ok(resolved());
  fake.on(kBridgeOf, out(125, "", "Error: boom\n"));
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "cannot switch IPv6 off on the bridge of brig_net_1: podman network inspect failed: Error: boom");
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << "not started: " << all_calls();
}

TEST_F(EngineTest, StartSwitchesIpv6OffAgain) {
  run_ok(resolved());
  spit(disable_ipv6(), "0\n");  // a recreated bridge comes back with IPv6 on
  ASSERT_TRUE(engine.start("c1").ok());
  EXPECT_EQ(slurp(disable_ipv6()), "1\n");
}

// --- rollback: an undo that fails is reported, not logged as undone ---

TEST_F(EngineTest, FailedUndoIsReportedToTheUserAndInTheEvent) {
  fail_create("Error: bad image\n");
  fake.on({"podman", "network", "rm"}, out(2, "", "Error: network brig_net_1 is in use\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(),
            "podman could not create the cell: Error: bad image; undoing it failed, left behind: network (removing "
            "network brig_net_1: Error: network brig_net_1 is in use)");
  EXPECT_EQ(rc.error().fix(), "podman network rm --force brig_net_1");
  // The other steps were still undone.
  EXPECT_FALSE(exists(paths.cell_state("c1")));
  EXPECT_FALSE(exists(paths.cell_policy("c1")));
  nlohmann::json ev;
  for (const auto& line : str_lines(slurp(paths.events_log()))) {
    auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "rollback") ev = j;
  }
  ASSERT_FALSE(ev.is_null());
  // The container's undo is registered before podman run: one never made is gone already.
  EXPECT_EQ(ev["undone"], (nlohmann::json{"container", "policy", "subnet", "state"})) << ev.dump();
  EXPECT_EQ(ev["undo_failed"],
            (nlohmann::json::parse(R"([{"step": "network", "error": "removing network brig_net_1: Error: network brig_net_1 is in use"}])")))
      << ev.dump();
}

TEST_F(EngineTest, CompleteRollbackEventListsEveryStepUndone) {
  fake.on({"podman", "--runtime-flag"}, out(126, "", "Error: OCI runtime error\n"));
  ASSERT_FALSE(engine.run(resolved(), RunOptions{.detach = true}).ok());
  nlohmann::json ev;
  for (const auto& line : str_lines(slurp(paths.events_log()))) {
    auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "rollback") ev = j;
  }
  EXPECT_EQ(ev["undone"], (nlohmann::json{"container", "network", "policy", "subnet", "state"})) << ev.dump();
  EXPECT_EQ(ev["undo_failed"], nlohmann::json::array()) << ev.dump();
}

// --- time: the detached early-exit window waits on the injected clock ---

TEST_F(EngineTest, DetachedRunWatchesTheCellOnTheInjectedClock) {
  run_ok(resolved());
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(1500));
}

TEST_F(EngineTest, DetachedRunReportsACellThatExitsAtOnce) {
  fake.on(kCellStatus, out(0, "exited 3\n"));
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_EQ(*rc, 3);
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace brig::engine
