// The engine's side of host services: the relay's argv, warden's grants from
// the table, /etc/hosts rewritten, and policy set --host-service on a cell
// (record, table, cell.json; nothing changes when a check fails).
#include "engine/host_services.h"

#include <gtest/gtest.h>

#include "brig/engine/subnets.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using namespace brig::engine::testing;  // NOLINT: the fixture's helpers
using brig::testing::slurp;

TEST(HostServicesEngine, RelayArgv) {
  EXPECT_EQ(host_services::relay_args("/usr/bin/brig", Paths("/h"), "127.0.0.1"),
            (std::vector<std::string>{"/usr/bin/brig", "system", "host-relay", "--socket", "/h/run/host-relay/relay.sock",
                                      "--owner", "65534:65534", "--target", "127.0.0.1", "--pidfile",
                                      "/h/run/host-relay.pid"}));
}

TEST(HostServicesEngine, GrantsAreTheRunningCellsTcpServices) {
  const state::HostServiceTable t = {
      {"a", {"10.60.3.10", true, {{"db", 5432, "tcp"}, {"llm", 4000, "http"}}}},
      {"b", {"10.60.4.10", false, {{"db", 5432, "tcp"}}}},  // stopped
      {"c", {"10.60.5.10", true, {{"redis", 6379, "tcp"}}}}};
  EXPECT_EQ(host_services::tcp_grants(t), (std::vector<nft::TcpGrant>{{"10.60.3.10", 5432}, {"10.60.5.10", 6379}}));
}

TEST(HostServicesEngine, HostsKeepPodmansLinesAndNameTheServicesNow) {
  const std::string podman = "10.60.3.2\told.host.brig\n127.0.0.1\tlocalhost\n10.60.3.10\tabc123 agent\n";
  EXPECT_EQ(host_services::rewrite_hosts(podman, {{"db", 5432, "tcp"}}, "10.60.3.2"),
            "127.0.0.1\tlocalhost\n10.60.3.10\tabc123 agent\n10.60.3.2\tdb.host.brig\n");
  // A line that also names something else is not brig's.
  EXPECT_EQ(host_services::rewrite_hosts("1.2.3.4 x.host.brig other\n", {}, "10.60.3.2"), "1.2.3.4 x.host.brig other\n");
}

class HostServicesTest : public EngineTest {
 protected:
  static spec::Resolved with_services() {
    spec::Resolved r = resolved();
    spec::HostService db;
    db.name = "db";
    db.port = 5432;
    db.protocol = "tcp";
    r.spec.host_services.set({db}, spec::Origin::builtin());
    return r;
  }
  const Argv nft_in_warden = {"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "-f", "-"};
  void SetUp() override {
    EngineTest::SetUp();
    fake.on({"podman", "container", "inspect", "--format", "{{.State.Pid}}", "brig-warden"}, out(0, "4242\n"));
    fake.on(nft_in_warden, out(0));
  }
};

// A run publishes its services and admits it to its tcp port in warden's set;
// rm takes both away.
TEST_F(HostServicesTest, RunPublishesAndRmWithdraws) {
  run_ok(with_services());
  auto t = state::load_host_services(paths);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->count("c1"), 1u);
  EXPECT_TRUE(t->at("c1").running);
  EXPECT_EQ(t->at("c1").services, (std::vector<state::HostServiceEntry>{{"db", 5432, "tcp"}}));
  const long grant = find_call(nft_in_warden);
  ASSERT_GE(grant, 0) << all_calls();
  EXPECT_NE(fake.calls[static_cast<std::size_t>(grant)].stdin_data.find("host_tcp { 10.60.1.10 . 5432 }"), std::string::npos);

  fake.on({"podman", "rm"}, out(0));
  fake.on({"podman", "network", "rm"}, out(0));
  const long before_rm = static_cast<long>(fake.calls.size());
  ASSERT_TRUE(engine.cells().remove("c1", false).ok());
  t = state::load_host_services(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->count("c1"), 0u);
  const long withdrawn = find_call(nft_in_warden, before_rm);
  ASSERT_GE(withdrawn, 0) << all_calls();
  EXPECT_EQ(fake.calls[static_cast<std::size_t>(withdrawn)].stdin_data, "flush set inet brig_warden host_tcp\n");
  // Its subnet left the map (its network kept as a spare): no grant outlives the cell's address.
  auto map = read_subnet_map(paths);
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE(map->empty());
}

// policy set --host-service, live: the record, the table, cell.json; a bad
// change changes nothing.
TEST_F(HostServicesTest, SetChangesRecordTableAndCellJson) {
  run_ok(with_services());
  fake.on({"podman", "container", "inspect", "--format", "{{.HostsPath}}"}, out(0, ""));
  spec::HostService llm;
  llm.name = "llm";
  llm.port = 4000;
  auto now = engine.cells().set_host_services("c1", {llm}, {"db"});
  ASSERT_TRUE(now.ok()) << now.error().message();
  ASSERT_EQ(now->size(), 1u);
  auto t = state::load_host_services(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->at("c1").services, (std::vector<state::HostServiceEntry>{{"llm", 4000, "http"}}));
  EXPECT_EQ(fake.calls.back().argv.front(), "podman");  // HostsPath asked after the grants went
  auto rec = engine.cells().load_record("c1");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->spec["host_services"], nlohmann::json::parse(R"([{"name": "llm", "port": 4000, "protocol": "http"}])"));
  auto cell_json = nlohmann::json::parse(slurp(paths.cell_state("c1") + "/brig/cell.json"));
  EXPECT_EQ(cell_json["host_services"][0]["url"], "http://llm.host.brig/");

  // A start, stop or exit that read the record before the change flips
  // whether it runs, never the services (the table's are the live ones).
  auto stale = engine.cells().load_record("c1");
  ASSERT_TRUE(stale.ok());
  stale->spec["host_services"] = nlohmann::json::parse(R"([{"name": "db", "port": 5432, "protocol": "tcp"}])");
  ASSERT_TRUE(host_services::publish(engine.context(), *stale, false).ok());
  t = state::load_host_services(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->at("c1").running);
  EXPECT_EQ(t->at("c1").services, (std::vector<state::HostServiceEntry>{{"llm", 4000, "http"}}));

  const std::string before = slurp(state::host_services_path(paths));
  auto missing = engine.cells().set_host_services("c1", {}, {"nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "cell c1 declares no host service \"nope\"");
  spec::HostService reserved;
  reserved.name = "x";
  reserved.port = 3128;
  auto bad = engine.cells().set_host_services("c1", {reserved}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("reserved by warden"), std::string::npos);
  EXPECT_EQ(slurp(state::host_services_path(paths)), before);
  EXPECT_FALSE(engine.cells().set_host_services("nope", {llm}, {}).ok());
}

}  // namespace
}  // namespace brig::engine
