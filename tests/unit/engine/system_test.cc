// The system side: prune, doctor's health wait, doctor's runsc line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/engine/images.h"
#include "brig/engine/subnets.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

// --- prune ---

TEST_F(EngineTest, PruneDryRunListsAndKeeps) {
  ASSERT_TRUE(allocate_subnet(paths, "c1").ok());
  write_record("c1", 1);
  fake.on({"podman", "ps"}, out(0, kPs));
  spit(paths.cell_state("orphan") + "/workspace/f", "x");
  ASSERT_TRUE(allocate_subnet(paths, "ghost").ok());

  auto done = engine.prune(PruneOptions{.dry_run = true});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->removed, (std::vector<std::string>{"orphan state " + paths.cell_state("orphan"),
                                             "stale subnet 10.60.2.0/24 (ghost)"}));
  EXPECT_TRUE(exists(paths.cell_state("orphan") + "/workspace/f"));
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}, {"10.60.2.0/24", "ghost"}}));
  EXPECT_FALSE(called({"podman", "rm"}));
}

TEST_F(EngineTest, PruneRemovesOrphansButKeepsRunningCells) {
  ASSERT_TRUE(allocate_subnet(paths, "c1").ok());
  write_record("c1", 1);
  fake.on({"podman", "ps"}, out(0, kPs));
  spit(paths.cell_state("orphan") + "/workspace/f", "x");
  ASSERT_TRUE(allocate_subnet(paths, "ghost").ok());

  auto done = engine.prune(PruneOptions{});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->removed.size(), 2u);
  EXPECT_FALSE(exists(paths.cell_state("orphan")));
  EXPECT_EQ(subnet_map(), (SubnetMap{{"10.60.1.0/24", "c1"}}));
  EXPECT_TRUE(exists(paths.cell_state("c1") + "/cell-state.json"));
  EXPECT_FALSE(called({"podman", "rm"}));
}

// A stopped cell whose workspace holds files is what `brig cell rm` would
// not delete without --force: prune keeps it and says how to remove it.
// An image build holds the lock in its directory while it runs: prune leaves
// its subnet and files alone, and removes them once it has died.
TEST_F(EngineTest, PruneLeavesARunningImageBuildAlone) {
  fake.on({"podman", "ps"}, out(0, "[]"));
  ASSERT_TRUE(allocate_subnet(paths, "build-00aa11").ok());
  spit(paths.build_dir("build-00aa11") + "/context/f", "x");
  {
    auto held = fs::FileLock::try_acquire(paths.build_dir("build-00aa11") + "/lock");
    ASSERT_TRUE(held.ok());
    EXPECT_TRUE(image_build_running(paths, "build-00aa11"));
    auto done = engine.prune(PruneOptions{});
    ASSERT_TRUE(done.ok()) << done.error().message();
    EXPECT_TRUE(done->removed.empty()) << done->removed.front();
    EXPECT_TRUE(exists(paths.build_dir("build-00aa11") + "/context/f"));
  }
  EXPECT_FALSE(image_build_running(paths, "build-00aa11"));
  auto done = engine.prune(PruneOptions{});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->removed, (std::vector<std::string>{"files of an ended image build " + paths.build_dir("build-00aa11"),
                                                     "stale subnet 10.60.1.0/24 (build-00aa11)"}));
  EXPECT_FALSE(exists(paths.build_dir("build-00aa11")));
  EXPECT_TRUE(subnet_map().empty());
}

TEST_F(EngineTest, PruneKeepsAStoppedCellWhoseWorkspaceHoldsFiles) {
  write_record("c1", 1);
  write_record("c2", 2);
  fake.on({"podman", "ps"}, out(0, "[]"));  // both stopped (their containers gone)
  spit(paths.workspace("c1") + "/result.txt", "precious");

  auto dry = engine.prune(PruneOptions{.cells = true, .dry_run = true});
  ASSERT_TRUE(dry.ok()) << dry.error().message();
  EXPECT_EQ(dry->removed, (std::vector<std::string>{"cell c2 (missing)"}));
  ASSERT_EQ(dry->kept.size(), 1u);

  auto done = engine.prune(PruneOptions{.cells = true});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->removed, (std::vector<std::string>{"cell c2 (missing)"}));
  ASSERT_EQ(done->kept.size(), 1u);
  EXPECT_EQ(done->kept[0].cell, "c1");
  EXPECT_EQ(done->kept[0].reason, "the workspace of c1 holds 1 file");
  EXPECT_EQ(done->kept[0].fix, "brig cell rm c1 --force (delete it) or --keep-workspace");
  EXPECT_EQ(slurp(paths.workspace("c1") + "/result.txt"), "precious");
  EXPECT_TRUE(exists(paths.cell_state("c1") + "/cell-state.json"));
  EXPECT_FALSE(exists(paths.cell_state("c2")));
  EXPECT_FALSE(called({"podman", "rm", "--force", "--time", "0", "brig-c1"}));
  EXPECT_TRUE(called({"podman", "rm", "--force", "--time", "0", "brig-c2"}));
}

// down (and so restart) says which cells it stopped, so they can be started again.
TEST_F(EngineTest, DownReturnsTheCellsItStopped) {
  write_record("c1", 1);  // running (the fixture)
  write_record("c2", 2);
  fake.on({"podman", "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "brig-c2"},
          out(0, "exited 0\n"));
  auto stopped = engine.down();
  ASSERT_TRUE(stopped.ok()) << stopped.error().message();
  EXPECT_EQ(*stopped, (std::vector<std::string>{"c1"}));
  EXPECT_TRUE(called({"podman", "stop", "--time", "10", "brig-c1"}));
  EXPECT_FALSE(called({"podman", "stop", "--time", "10", "brig-c2"}));
}

// --- doctor waits for warden's /healthz on the injected clock ---

TEST_F(EngineTest, DoctorWaitsForHealthOnTheInjectedClock) {
  fake.on({"curl"}, out(7, "", "connection refused"));
  auto checks = engine.doctor(false);
  auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "warden"; });
  ASSERT_NE(it, checks.end());
  EXPECT_EQ(it->level, Check::Level::fail);
  EXPECT_THAT(it->detail, HasSubstr("running but unhealthy: warden did not become healthy on 127.0.0.1:9464"));
  // 1.5 s in 200 ms steps, none of it slept for real.
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(1600));
  long curls = std::count_if(fake.calls.begin(), fake.calls.end(),
                             [](const proc::Command& c) { return !c.argv.empty() && c.argv[0] == "curl"; });
  EXPECT_EQ(curls, 8);
}

TEST_F(EngineTest, DoctorSeesAHealthyWardenAtOnce) {
  auto checks = engine.doctor(false);
  auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "warden"; });
  ASSERT_NE(it, checks.end());
  EXPECT_EQ(it->level, Check::Level::ok) << it->detail;
  EXPECT_EQ(clock.slept, std::chrono::milliseconds(0));
}


// --- doctor's runsc line: version, path and where it came from ---

// PATH holds only a fake runsc (doctor finds runsc on PATH) while it lives.
class DoctorRunscTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    const char* old = std::getenv("PATH");
    old_path_ = old ? old : "";
    runsc_ = tmp.path() + "/bin/runsc";
    spit(runsc_, "#!/bin/sh\n");
    std::filesystem::permissions(runsc_, std::filesystem::perms::owner_all);
    ::setenv("PATH", (tmp.path() + "/bin").c_str(), 1);
    fake.on({runsc_, "--version"}, out(0, "runsc version release-20240212.0\nspec: 1.1.0\n"));
  }
  void TearDown() override { ::setenv("PATH", old_path_.c_str(), 1); }

  Check runsc_check() {
    auto checks = engine.doctor(true);
    auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "runsc"; });
    EXPECT_NE(it, checks.end());
    return it == checks.end() ? Check{} : *it;
  }

  std::string old_path_;
  std::string runsc_;
};

constexpr const char* kAptPolicy =
    "runsc:\n"
    "  Installed: 20240212.0\n"
    "  Candidate: 20240212.0\n"
    "  Version table:\n"
    "     20240219.0 500\n"
    "        500 https://storage.googleapis.com/gvisor/releases release/main amd64 Packages\n"
    " *** 20240212.0 500\n"
    "        500 https://storage.googleapis.com/gvisor/releases 20240212/main amd64 Packages\n"
    "        100 /var/lib/dpkg/status\n";

TEST_F(DoctorRunscTest, NamesTheAptRepositoryRunscCameFrom) {
  fake.on({"dpkg-query", "-S"}, out(0, "runsc: " + runsc_ + "\n"));
  fake.on({"apt-cache", "policy", "runsc"}, out(0, kAptPolicy));
  save_config("sandbox");
  auto c = runsc_check();
  EXPECT_EQ(c.level, Check::Level::ok);
  EXPECT_EQ(c.detail, "runsc version release-20240212.0 at " + runsc_ +
                          ", package runsc 20240212.0 from https://storage.googleapis.com/gvisor/releases "
                          "20240212/main; gVisor netstack");
  EXPECT_TRUE(called({"dpkg-query", "-S", runsc_}));
}

TEST_F(DoctorRunscTest, ABinaryOutsideAnyPackageSaysSo) {
  fake.on({"dpkg-query", "-S"}, out(1, "", "dpkg-query: no path found matching pattern " + runsc_ + "\n"));
  auto c = runsc_check();
  EXPECT_EQ(c.level, Check::Level::warn);  // the fixture's config: network=host
  EXPECT_EQ(c.detail.substr(0, c.detail.find(';')),
            "runsc version release-20240212.0 at " + runsc_ + ", not from a package");
  EXPECT_FALSE(called({"apt-cache"}));
}

TEST_F(DoctorRunscTest, APackageWhoseSourceIsGoneAndNoDpkgAtAll) {
  fake.on({"dpkg-query", "-S"}, out(0, "runsc: " + runsc_ + "\n"));
  fake.on({"apt-cache", "policy", "runsc"},
          out(0, "runsc:\n  Installed: 0.0~20221219.0-3\n  Version table:\n *** 0.0~20221219.0-3 100\n"
                 "        100 /var/lib/dpkg/status\n"));
  EXPECT_THAT(runsc_check().detail,
              HasSubstr(", package runsc 0.0~20221219.0-3 (no apt source lists it any more); network=host"));
  fake.fail({"dpkg-query", "-S"}, Error(Errc::not_found, "dpkg-query: command not found"));
  fake.on({runsc_, "--version"}, out(1));
  save_config("sandbox");  // records no version: doctor says just "runsc"
  EXPECT_EQ(runsc_check().detail, "runsc at " + runsc_ + "; gVisor netstack");
}

TEST_F(DoctorRunscTest, ReportedBeforeBrigSystemInitToo) {
  std::filesystem::remove(paths.config_json());
  auto c = runsc_check();
  EXPECT_EQ(c.level, Check::Level::ok);
  EXPECT_EQ(c.detail.substr(0, c.detail.find(',')), "runsc version release-20240212.0 at " + runsc_);
}

// --- host sockets: which runsc flag lets a cell reach one ---

constexpr const char* kFlagsNew =
    "  -host-fifo value\n    \tcontrols permission to access host FIFOs (or named pipes). Values: none|open\n"
    "  -host-uds value\n    \tcontrols permission to access host Unix-domain sockets. Values: "
    "none|open|create|all, default: none\n"
    "  -fsgofer-host-uds\n    \tDEPRECATED: use host-uds=all\n";

TEST(RunscHostUdsFlag, TheNewFlagWinsTheOldOneIsAFallback) {
  EXPECT_EQ(runsc_host_uds_flag(kFlagsNew), "host-uds=open");
  EXPECT_EQ(runsc_host_uds_flag("  -fsgofer-host-uds\n    \tallow the gofer to mount Unix Domain Sockets.\n"),
            "fsgofer-host-uds");
  EXPECT_EQ(runsc_host_uds_flag("  -host-uds=none: controls permission\n"), "host-uds=open");  // subcommands' style
  EXPECT_EQ(runsc_host_uds_flag("Usage: runsc <flags> <subcommand> <subcommand args>\n"), "");
  // Never a flag whose name only starts or ends like it.
  EXPECT_EQ(runsc_host_uds_flag("  -host-uds-extra value\n  -xhost-uds value\n"), "");
}

TEST_F(DoctorRunscTest, SaysWhichFlagCellsWithHostSocketsGet) {
  auto host_sockets = [this] {
    for (const auto& c : engine.doctor(true)) {
      if (c.name == "host sockets") return c;
    }
    ADD_FAILURE() << "no host sockets line";
    return Check{};
  };
  // runsc --help lists no flags here; runsc flags lists them all.
  fake.on({runsc_, "flags"}, out(0, kFlagsNew));
  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  cfg->runsc_host_uds = "host-uds=open";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  Check c = host_sockets();
  EXPECT_EQ(c.level, Check::Level::ok);
  EXPECT_EQ(c.detail, "cells that declare host_sockets start with --runtime-flag host-uds=open");

  // init ran before runsc was upgraded: the recorded value is what runs use.
  cfg->runsc_host_uds = "";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  c = host_sockets();
  EXPECT_EQ(c.level, Check::Level::warn);
  EXPECT_EQ(c.detail, "this runsc takes --host-uds=open, but config.json records none: cells that declare "
                      "host_sockets use what config.json says");
  EXPECT_EQ(c.fix, "brig system init (probes runsc again)");

  fake.on({runsc_, "flags"}, out(0, "  -debug\n"));
  c = host_sockets();
  EXPECT_EQ(c.level, Check::Level::warn);
  EXPECT_EQ(c.detail, "this runsc has neither -host-uds nor -fsgofer-host-uds: cells that declare host_sockets are "
                      "refused");
  EXPECT_EQ(c.fix, "upgrade runsc, then brig system init");
}

// The one probe (init records it, doctor asks again): --help first, then the full list.
TEST_F(EngineTest, ProbeAsksHelpThenTheFullFlagList) {
  fake.on({"/x/runsc", "--help"}, out(2, "", "Usage: runsc <flags> <subcommand> <subcommand args>\n"));
  fake.on({"/x/runsc", "flags"}, out(0, kFlagsNew));
  EXPECT_EQ(probe_runsc_host_uds(fake, "/x/runsc"), "host-uds=open");
  EXPECT_TRUE(called({"/x/runsc", "flags"}));
  fake.calls.clear();
  fake.on({"/x/runsc", "--help"}, out(0, kFlagsNew));
  EXPECT_EQ(probe_runsc_host_uds(fake, "/x/runsc"), "host-uds=open");
  EXPECT_FALSE(called({"/x/runsc", "flags"}));
  fake.fail({"/x/runsc", "--help"}, Error(Errc::not_found, "no such file"));
  fake.fail({"/x/runsc", "flags"}, Error(Errc::not_found, "no such file"));
  EXPECT_EQ(probe_runsc_host_uds(fake, "/x/runsc"), "");
}

// --- doctor checks the settings every run uses ---

// config.json edited by hand (or by an older brig): doctor flags what
// `brig config set` would refuse, with a fix that works as printed.
TEST_F(EngineTest, DoctorFlagsSettingsThatWouldBreakEveryRun) {
  auto config_checks = [this] {
    std::vector<Check> out;
    for (const auto& c : engine.doctor(true)) {
      if (c.name == "config") out.push_back(c);
    }
    return out;
  };
  auto good = config_checks();
  ASSERT_EQ(good.size(), 1u);
  EXPECT_EQ(good[0].level, Check::Level::ok) << good[0].detail;

  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  cfg->ulimits = {"foo"};
  cfg->runsc_network = "sandbox";
  cfg->sandbox_network_works = false;
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  auto bad = config_checks();
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].level, Check::Level::fail);
  EXPECT_THAT(bad[0].detail, HasSubstr("runsc_network sandbox: gVisor's own network stack did not work on this host"));
  EXPECT_EQ(bad[0].fix, "brig system init");
  EXPECT_EQ(bad[1].level, Check::Level::fail);
  EXPECT_EQ(bad[1].detail, "ulimits: \"foo\" is not NAME=SOFT:HARD");
  EXPECT_THAT(bad[1].fix, ::testing::StartsWith("brig config set ulimits "));
  // The printed fix is a value config_set accepts.
  HostConfig fixed = *cfg;
  EXPECT_TRUE(config_set(fixed, "ulimits", bad[1].fix.substr(std::string("brig config set ulimits ").size())).ok());
}

// --- brig config set refuses what would break later runs ---

TEST(ConfigSet, UlimitsMustBeKnownNamesWithinTheHardLimits) {
  HostConfig c;
  c.ulimits = {"nofile=1024:1024"};
  auto refused = [&](const std::string& v) {
    HostConfig before = c;
    auto st = config_set(c, "ulimits", v);
    EXPECT_FALSE(st.ok()) << v;
    EXPECT_EQ(c.ulimits, before.ulimits) << v;  // unchanged
    return st.ok() ? std::string() : st.error().message();
  };
  EXPECT_EQ(refused("foo"), "ulimits: \"foo\" is not NAME=SOFT:HARD");
  EXPECT_THAT(refused("nofiles=1:1"), HasSubstr("\"nofiles\" is not a ulimit podman knows; did you mean \"nofile\"?"));
  EXPECT_EQ(refused("nofile=a:b"), "ulimits: \"nofile=a:b\": SOFT and HARD must be whole numbers (nofile=1024:1024)");
  EXPECT_EQ(refused("nofile=2:1"), "ulimits: \"nofile=2:1\": the soft limit is above the hard limit");
  EXPECT_EQ(refused("nofile=64:64,nofile=64:64"), "ulimits: nofile is given twice");
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  if (r.rlim_max != RLIM_INFINITY) {
    const std::string over = std::to_string(r.rlim_max + 1);
    EXPECT_EQ(refused("nofile=64:" + over), "ulimits: \"nofile=64:" + over + "\": " + over +
                                                " is above this host's hard limit of " + std::to_string(r.rlim_max) +
                                                " for nofile");
  }
  ASSERT_TRUE(config_set(c, "ulimits", "nofile=64:64,core=0").ok());
  EXPECT_EQ(c.ulimits, (std::vector<std::string>{"nofile=64:64", "core=0"}));
  ASSERT_TRUE(config_set(c, "ulimits", "").ok());
  EXPECT_TRUE(c.ulimits.empty());
}

// The API's group must exist; '' is root only. warn_unpinned_images is a bool.
TEST(ConfigSet, ApiGroupAndUnpinnedWarningAreChecked) {
  HostConfig c;
  auto bad = config_set(c, "api_group", "no-such-group-brig");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("is not a group on this host"));
  EXPECT_EQ(c.api_group, "");
  ASSERT_TRUE(config_set(c, "api_group", "root").ok());
  EXPECT_EQ(c.api_group, "root");
  ASSERT_TRUE(config_set(c, "api_group", "").ok());
  EXPECT_FALSE(config_set(c, "warn_unpinned_images", "no").ok());
  EXPECT_TRUE(c.warn_unpinned_images);
  ASSERT_TRUE(config_set(c, "warn_unpinned_images", "false").ok());
  EXPECT_FALSE(c.warn_unpinned_images);
}

TEST(ConfigSet, SandboxNetworkNeedsTheProbeToHaveWorked) {
  HostConfig c;
  c.runsc_network = "host";
  c.sandbox_network_works = false;
  auto st = config_set(c, "runsc_network", "sandbox");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("sandbox_network_works false"));
  EXPECT_EQ(st.error().fix(), "brig system init");
  EXPECT_EQ(c.runsc_network, "host");
  c.sandbox_network_works = true;
  EXPECT_TRUE(config_set(c, "runsc_network", "sandbox").ok());
  EXPECT_EQ(c.runsc_network, "sandbox");
  auto bad = config_set(c, "ops_port", "0");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "ops_port must be a number from 1 to 65535");
  EXPECT_EQ(bad.error().fix(), "brig config set ops_port 9464");
  EXPECT_FALSE(config_set(c, "warden_threads", "2x").ok());
  EXPECT_EQ(c.warden_threads, 2);
  // spare_networks: 0 (none kept) to 32.
  EXPECT_TRUE(config_set(c, "spare_networks", "0").ok());
  EXPECT_EQ(c.spare_networks, 0);
  auto big = config_set(c, "spare_networks", "33");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message(), "spare_networks must be a number from 0 to 32");
  EXPECT_EQ(big.error().fix(), "brig config set spare_networks 4");
  EXPECT_EQ(c.spare_networks, 0);
}

}  // namespace
}  // namespace brig::engine
