// Warm pools: the definition's format and rules, a member's plan, and a claim
// renaming a member on files (podman through the fake runner).
#include "brig/engine/pools.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/engine/subnets.h"
#include "brig/state/cell_policy.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

TEST(PoolRules, NamesAreCellNamesShortEnoughForTheirMembers) {
  EXPECT_FALSE(pool_name_problem("web"));
  EXPECT_TRUE(pool_name_problem("Web_1"));
  EXPECT_FALSE(pool_name_problem(std::string(40, 'a')));
  EXPECT_THAT(pool_name_problem(std::string(41, 'a')).value_or(""), HasSubstr("at most 40"));
}

TEST(PoolRules, WhatAPoolCannotHoldYetIsNamed) {
  spec::CellSpec s;
  EXPECT_EQ(pool_spec_problem(s), "");
  s.timeout.set("1h", spec::Origin::builtin());
  EXPECT_EQ(pool_spec_problem(s), "timeout");
  spec::CellSpec t;
  spec::SecretList secrets(1);
  secrets[0].name = "k";
  secrets[0].env = "K";
  secrets[0].hosts = {"api.example.com"};
  t.secrets.set(secrets, spec::Origin::builtin());
  EXPECT_THAT(pool_spec_problem(t), HasSubstr("injected"));
}

TEST(PoolRules, DefinitionRoundTripsAndDamageIsNamed) {
  PoolDef d{"web", {{"image", "localhost/a:1"}}, 3, 3600, "2026-12-02T00:00:00Z"};
  auto back = pool_from_json(to_json(d), "web.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->name, "web");
  EXPECT_EQ(back->size, 3);
  EXPECT_EQ(back->max_age_s, 3600);
  EXPECT_EQ(back->spec["image"], "localhost/a:1");
  auto big = to_json(d);
  big["size"] = kMaxPoolSize + 1;
  auto bad = pool_from_json(big, "web.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("web.json is damaged"));
  EXPECT_FALSE(pool_from_json(nlohmann::json{{"name", "web"}}, "web.json").ok());
}

TEST(PoolRules, RecordKeepsNetworkAndPool) {
  CellRecord r;
  r.name = "a";
  r.image = "i";
  r.runtime = "runsc";
  r.subnet = Subnet{3};
  r.workspace = "/w";
  r.workspace_mount = "/work";
  EXPECT_EQ(network_of(r), "brig-a");
  EXPECT_FALSE(to_json(r).contains("pool"));
  r.network = "brig-web-123456";
  r.pool = "web";
  r.claimed = true;
  auto back = record_from_json(to_json(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(network_of(*back), "brig-web-123456");
  EXPECT_EQ(back->pool, "web");
  EXPECT_TRUE(back->claimed);
}

TEST(PoolRules, AnEntrypointReplacesTheImages) {
  CellPlan p;
  p.name = "web-1";
  p.image = "img";
  p.entrypoint = "/run/brig/idle";
  auto a = cell_run_args(p, {"runc", "", ""}, true);
  auto at = std::find(a.begin(), a.end(), "--entrypoint");
  ASSERT_NE(at, a.end());
  EXPECT_EQ(*(at + 1), "/run/brig/idle");
  EXPECT_EQ(a.back(), "img");  // no command after the image
}

class PoolClaim : public EngineTest {
 protected:
  // A ready member of pool "web": its record, ready mark (a live process
  // named like runsc's sandbox stands for it), subnet and policy.
  void member(const std::string& cell, int subnet, std::int64_t ready_at = 100) {
    write_record(cell, subnet);
    auto rec = engine.load_record(cell);
    ASSERT_TRUE(rec.ok());
    rec->pool = "web";
    spit(paths.cell_state(cell) + "/cell-state.json", to_json(*rec).dump(2));
    spit(paths.cell_state(cell) + "/brig/cell.json", "{}");
    spit(paths.pool_member(cell), nlohmann::json{{"pool", "web"}, {"id", "id-" + cell}, {"pid", sandbox_},
                                                 {"oci_config", "/c/" + cell + ".json"}, {"ready_at", ready_at}}
                                      .dump());
    auto map = read_subnet_map(paths);
    ASSERT_TRUE(map.ok());
    (*map)[Subnet{subnet}.cidr()] = cell;
    ASSERT_TRUE(with_state_lock(paths, [&] { return state::store_subnet_map(paths, *map); }).ok());
    ASSERT_TRUE(state::store_cell_policy(paths, cell, nlohmann::json{{"allow", {"pypi.org"}}}).ok());
  }
  void SetUp() override {
    EngineTest::SetUp();
    char sh[] = "/bin/sh", c[] = "-c", script[] = "sleep 60", name[] = "runsc-sandbox";
    char* argv[] = {sh, c, script, name, nullptr};
    ASSERT_EQ(::posix_spawn(&sandbox_, "/bin/sh", nullptr, nullptr, argv, environ), 0);
    PoolDef d{"web", {{"image", "localhost/agent:1"}}, 2, 0, ""};
    spit(paths.pool("web"), to_json(d).dump());
  }
  void TearDown() override {
    ::kill(sandbox_, SIGKILL);
    ::waitpid(sandbox_, nullptr, 0);
    EngineTest::TearDown();
  }
  pid_t sandbox_ = 0;
};

TEST_F(PoolClaim, TheOldestReadyMemberBecomesTheNamedCell) {
  member("web-aaaaaa", 5, 200);
  member("web-bbbbbb", 6, 100);  // older: claimed first
  auto c = engine.pools().claim({"web", "job1", {"example.com"}});
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c->has_value());
  const Claimed& got = **c;
  EXPECT_EQ(got.member, "web-bbbbbb");
  EXPECT_EQ(got.container_id, "id-web-bbbbbb");
  EXPECT_TRUE(called({"podman", "rename", "brig-web-bbbbbb", "brig-job1"}));
  // Its state, subnet and policy are the new cell's; the network stays.
  EXPECT_FALSE(exists(paths.cell_state("web-bbbbbb")));
  auto rec = engine.load_record("job1");
  ASSERT_TRUE(rec.ok());
  EXPECT_TRUE(rec->claimed);
  EXPECT_EQ(network_of(*rec), "brig-web-bbbbbb");
  EXPECT_EQ(rec->workspace, paths.workspace("job1"));
  EXPECT_FALSE(exists(paths.pool_member("job1")));
  EXPECT_THAT(fs::read_file(paths.cell_state("job1") + "/brig/cell.json").value(), HasSubstr("\"name\": \"job1\""));
  auto map = read_subnet_map(paths);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at(Subnet{6}.cidr()), "job1");
  EXPECT_FALSE(exists(paths.cell_policy("web-bbbbbb")));
  auto policy = state::read_cell_policy(paths, "job1");
  ASSERT_TRUE(policy.ok());
  EXPECT_THAT(*policy, HasSubstr("pypi.org"));
  EXPECT_THAT(*policy, HasSubstr("example.com"));
  // The other member waits on.
  EXPECT_TRUE(exists(paths.pool_member("web-aaaaaa")));
}

TEST_F(PoolClaim, ATakenNameOrAnEmptyPoolChangesNothing) {
  member("web-aaaaaa", 5);
  write_record("job1", 7);
  auto taken = engine.pools().claim({"web", "job1", {}});
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), Errc::exists);
  EXPECT_TRUE(exists(paths.pool_member("web-aaaaaa")));
  EXPECT_FALSE(called({"podman", "rename"}));
  // podman refusing the name (a container of that name): nothing renamed.
  fake.on({"podman", "rename"}, out(125, "", "Error: name \"brig-job2\" is in use"));
  auto refused = engine.pools().claim({"web", "job2", {}});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message(), HasSubstr("cannot name the cell job2"));
  EXPECT_TRUE(exists(paths.pool_member("web-aaaaaa")));
  // Nothing ready (the mark gone): no claim, the caller starts a cold cell.
  ASSERT_EQ(::unlink(paths.pool_member("web-aaaaaa").c_str()), 0);
  auto empty = engine.pools().claim({"web", "job3", {}});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
  auto none = engine.pools().claim({"nope", "job4", {}});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::not_found);
}

}  // namespace
}  // namespace brig::engine
