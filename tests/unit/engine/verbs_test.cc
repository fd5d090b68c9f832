// The verbs on a cell that exists: list, rm, start, damaged records, secret users.
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

// --- list ---

TEST_F(EngineTest, ListOnlyBrigCells) {
  write_record("c1", 1);
  write_record("c2", 2);
  write_record("x", 3);
  write_record("warden", 4);
  fake.on({"podman", "ps"}, out(0, kPs));

  auto running = engine.list(false);
  ASSERT_TRUE(running.ok()) << running.error().message();
  // "warden" is no cell name (reserved): its state directory is damaged, never
  // the brig-warden container's cell; damaged records are always listed.
  ASSERT_EQ(running->size(), 2u);
  EXPECT_EQ((*running)[1].record.name, "warden");
  EXPECT_EQ((*running)[1].state, "damaged");
  EXPECT_EQ((*running)[1].reason, "invalid cell name \"warden\"");
  EXPECT_EQ((*running)[0].record.name, "c1");
  EXPECT_EQ((*running)[0].state, "running");
  EXPECT_EQ((*running)[0].started_at, "1700000000");
  EXPECT_TRUE(called(cell_ps_args(true)));

  auto all = engine.list(true);
  ASSERT_TRUE(all.ok());
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& c : *all) got.emplace_back(c.record.name, c.state);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"c1", "running"}, {"c2", "missing"}, {"warden", "damaged"}, {"x", "missing"}}));
}

TEST_F(EngineTest, ListRejectsNonJson) {
  fake.on({"podman", "ps"}, out(0, "not json"));
  auto l = engine.list(true);
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error().message(), HasSubstr("not JSON"));
}

// --- remove ---

TEST_F(EngineTest, RemoveDeletesEverything) {
  run_ok(resolved());
  fake.calls.clear();
  ASSERT_TRUE(engine.remove("c1", false).ok());
  EXPECT_TRUE(called({"podman", "rm", "--force", "--time", "0", "brig-c1"})) << all_calls();
  // Its network stays, attached to warden, as a spare for the next cell.
  EXPECT_FALSE(called({"podman", "network", "rm"})) << all_calls();
  auto spares = list_spares(paths);
  ASSERT_TRUE(spares.ok());
  ASSERT_EQ(spares->size(), 1u);
  EXPECT_EQ(spares->front().network, "brig_net_1");
  expect_no_trace_of_c1();
}

// With spare_networks (4) kept already, the network goes and its subnet is free.
TEST_F(EngineTest, RemoveTakesTheNetworkAwayWhenSparesAreFull) {
  run_ok(resolved());
  const int keep = HostConfig{}.spare_networks;
  for (int i = 0; i < keep; ++i) ASSERT_TRUE(reserve_spare(paths).ok());
  fake.calls.clear();
  ASSERT_TRUE(engine.remove("c1", false).ok());
  EXPECT_TRUE(called({"podman", "network", "rm", "--force", "brig_net_1"})) << all_calls();
  auto spares = list_spares(paths);
  ASSERT_TRUE(spares.ok());
  EXPECT_EQ(spares->size(), static_cast<std::size_t>(keep));
  expect_no_trace_of_c1();
}

// A container rm that failed: the network is not handed on as a spare.
TEST_F(EngineTest, RemoveKeepsNoSpareWhileTheContainerMayStay) {
  run_ok(resolved());
  fake.on({"podman", "rm", "--force", "--time", "0"}, out(2, "", "Error: device busy\n"));
  fake.calls.clear();
  (void)engine.remove("c1", false);
  auto spares = list_spares(paths);
  ASSERT_TRUE(spares.ok());
  EXPECT_TRUE(spares->empty());
  EXPECT_TRUE(called({"podman", "network", "rm", "--force", "brig_net_1"})) << all_calls();
}

TEST_F(EngineTest, RemoveKeepsTheWorkspaceWhenAsked) {
  run_ok(resolved());
  spit(paths.workspace("c1") + "/file", "result");
  auto kept = engine.remove("c1", true);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, paths.home() + "/workspaces/c1");
  EXPECT_EQ(slurp(paths.home() + "/workspaces/c1/file"), "result");
  EXPECT_FALSE(exists(paths.cell_state("c1")));  // the name is free again
  EXPECT_FALSE(exists(paths.cell_state("c1") + "/cell-state.json"));
  EXPECT_FALSE(exists(paths.cell_state("c1") + "/brig"));
  EXPECT_FALSE(exists(paths.cell_policy("c1")));
  EXPECT_TRUE(subnet_map().empty());
}

// A workspace the user asked to keep is not debris of a crash: a later
// `brig system prune` must not delete it as an "orphan state" directory.
TEST_F(EngineTest, PruneDoesNotDeleteAWorkspaceKeptByRemove) {
  run_ok(resolved());
  spit(paths.workspace("c1") + "/file", "result");
  ASSERT_TRUE(engine.remove("c1", true).ok());
  auto done = engine.prune(PruneOptions{});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_TRUE(exists(paths.home() + "/workspaces/c1/file")) << "prune removed: " << ::testing::PrintToString(done->removed);
}

TEST_F(EngineTest, RemoveUnknownCellIsNotFound) {
  auto st = engine.remove("nope", false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
  EXPECT_TRUE(fake.calls.empty());
}

// --- start rewrites the CA bundle ---

TEST_F(EngineTest, StartRewritesAStaleCaBundle) {
  run_ok(resolved());
  constexpr const char* kNewCa = "-----BEGIN CERTIFICATE-----\nMIIBbrigrenewedca\n-----END CERTIFICATE-----\n";
  spit(paths.ca_cert(), kNewCa);
  spit(ca_bundle(), "stale");
  ASSERT_TRUE(engine.start("c1").ok());
  const std::string bundle = slurp(ca_bundle());
  EXPECT_THAT(bundle, HasSubstr(kNewCa));
  EXPECT_THAT(bundle, Not(HasSubstr("stale")));
}

// A restart after `secrets rm`: name the secret, not the command.
TEST_F(EngineTest, StartNamesASecretRemovedSinceTheRun) {
  ASSERT_TRUE(spit_secret("api-key"));
  spec::Resolved r = resolved();
  r.spec.secrets.set(spec::secret_files({"api-key"}), spec::Origin::flag("--secret"));
  run_ok(r);
  std::filesystem::remove(paths.secret("api-key"));
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "cell c1 mounts secret \"api-key\", which no longer exists");
  EXPECT_EQ(st.error().fix(), "brig secrets add api-key - < FILE, then brig cell start c1");
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
}

TEST_F(EngineTest, StartWritesNoCaBundleForACellThatDoesNotTrustIt) {
  spec::Resolved r = resolved();
  r.spec.trust_warden_ca.set(false, spec::Origin::flag("--no-trust-warden-ca"));
  run_ok(r);
  ASSERT_TRUE(engine.start("c1").ok());
  EXPECT_FALSE(exists(ca_bundle()));
}

TEST_F(EngineTest, StartFailsWhenTheCaIsMissing) {
  run_ok(resolved());
  std::filesystem::remove(paths.ca_cert());
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "brig's CA is missing (" + paths.ca_cert() + ")");
  EXPECT_FALSE(called({"podman", "--runtime-flag"}));
}

// --- damaged records are listed, removable, and block secret removal ---

TEST_F(EngineTest, ListShowsADamagedRecord) {
  write_record("c1", 1);
  spit(paths.cell_state("bad") + "/cell-state.json", R"({"name": "bad"})");
  spit(paths.cell_state("garbled") + "/cell-state.json", "{not json");
  fake.on({"podman", "ps"}, out(0, kPs));
  auto l = engine.list(false);  // damaged rows show even without --all
  ASSERT_TRUE(l.ok()) << l.error().message();
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& c : *l) got.emplace_back(c.record.name, c.state);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"bad", "damaged"}, {"c1", "running"}, {"garbled", "damaged"}}));
  EXPECT_THAT((*l)[0].reason, ::testing::StartsWith("cell bad: cell state is damaged: "));
  EXPECT_THAT((*l)[2].reason, ::testing::StartsWith("cell garbled: state file is not JSON: "));
  EXPECT_EQ((*l)[1].reason, "");
}

TEST_F(EngineTest, ADamagedRecordIsRemovedByName) {
  ASSERT_TRUE(allocate_subnet(paths, "bad").ok());
  spit(paths.cell_state("bad") + "/cell-state.json", R"({"name": "bad"})");
  auto st = engine.status("bad");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().fix(), "brig cell rm bad");  // what doctor says too
  auto kept = engine.remove("bad", false);
  ASSERT_TRUE(kept.ok()) << kept.error().message();
  EXPECT_FALSE(exists(paths.cell_state("bad")));
  EXPECT_TRUE(subnet_map().empty());
  EXPECT_TRUE(called({"podman", "rm", "--force", "--time", "0", "brig-bad"})) << all_calls();
  // Its network is found by its subnet (kept as a spare), not by its name.
  EXPECT_FALSE(called({"podman", "network", "rm", "--force", "brig-bad"})) << all_calls();
  auto spares = list_spares(paths);
  ASSERT_TRUE(spares.ok());
  ASSERT_EQ(spares->size(), 1u);
  EXPECT_EQ(spares->front().network, "brig_net_1");
}

// A remove that comes again after its subnet went (a half-done rm, retried):
// the network of that subnet may be another cell's or a spare now, and stays.
TEST_F(EngineTest, ARetriedRemoveLeavesTheNetworkItNoLongerHolds) {
  run_ok(resolved());
  ASSERT_TRUE(release_subnet(paths, "c1").ok());
  ASSERT_TRUE(allocate_subnet(paths, "other").ok());  // brig_net_1 is other's now
  fake.calls.clear();
  ASSERT_TRUE(engine.remove("c1", false).ok());
  EXPECT_FALSE(called({"podman", "network"})) << all_calls();
  EXPECT_EQ(subnet_map().at("10.60.1.0/24"), "other");
}

TEST_F(EngineTest, SecretUsersAreTheRunningCellsThatMountIt) {
  ASSERT_TRUE(spit_secret("api-key"));
  spec::Resolved r = resolved();
  r.spec.secrets.set(spec::secret_files({"api-key"}), spec::Origin::flag("--secret"));
  run_ok(r);
  fake.on({"podman", "ps"}, out(0, kPs));
  auto users = engine.secret_users("api-key");
  ASSERT_TRUE(users.ok()) << users.error().message();
  EXPECT_EQ(*users, (std::vector<std::string>{"c1"}));
  auto none = engine.secret_users("other");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(EngineTest, SecretUsersFailClosedWhenCellsCannotBeListed) {
  fake.on({"podman", "ps"}, out(125, "", "Error: cannot connect to podman\n"));
  auto users = engine.secret_users("api-key");
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.error().message(),
            "cannot tell which running cells use secret api-key: podman ps failed: Error: cannot connect to podman");
  EXPECT_EQ(users.error().fix(), "brig secrets rm api-key --force (if no running cell uses it)");
}

TEST_F(EngineTest, SecretUsersFailClosedOnADamagedRecord) {
  spit(paths.cell_state("bad") + "/cell-state.json", "{not json");
  fake.on({"podman", "ps"}, out(0, "[]"));
  auto users = engine.secret_users("api-key");
  ASSERT_FALSE(users.ok());
  EXPECT_THAT(users.error().message(), ::testing::StartsWith("cannot tell whether cell bad uses secret api-key: cell bad: "));
  EXPECT_EQ(users.error().fix(), "brig cell rm bad, or brig secrets rm api-key --force");
}

// Records are looked up by cell name, checked as cell names are.
TEST_F(EngineTest, LoadRecordChecksTheNameAsACellName) {
  for (const std::string bad : {"warden", "system", "Big", "a/b", ".."}) {
    auto rec = engine.load_record(bad);
    ASSERT_FALSE(rec.ok()) << bad;
    EXPECT_EQ(rec.error().code(), Errc::usage) << bad;
    EXPECT_EQ(rec.error().message(), "invalid cell name \"" + bad + "\"");
  }
  EXPECT_EQ(engine.load_record("c9").error().code(), Errc::not_found);
}

}  // namespace
}  // namespace brig::engine
