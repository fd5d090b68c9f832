// Host services as warden decides them (host_services.h) and the relay's
// protocol and table check (brig/warden/host_relay.h), all pure.
#include "warden/host_services.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/warden/host_relay.h"

namespace brig::warden {
namespace {

using ::testing::HasSubstr;

SourceFile file(const std::string& path, std::string text) { return {path, std::move(text)}; }

std::shared_ptr<const Snapshot> snapshot(Metrics& m) {
  SnapshotSources in;
  in.subnet_map = file("map", R"({"10.60.1.0/24": "agent"})");
  in.global_policy = file("global.json", R"({"allow": ["*.host.brig", "host.brig"]})");
  in.host_services = file("host-services.json", R"({"agent": {"address": "10.60.1.10", "running": true, "services": [
      {"name": "llm", "port": 4000, "protocol": "http"}, {"name": "db", "port": 5432, "protocol": "tcp"}]}})");
  return build_snapshot(in, Snapshot{}, m).snapshot;
}

TEST(HostServiceDomain, IsHostBrigAndNamesUnderIt) {
  EXPECT_TRUE(in_host_service_domain("db.host.brig"));
  EXPECT_TRUE(in_host_service_domain("a.b.host.brig"));
  EXPECT_TRUE(in_host_service_domain("host.brig"));
  EXPECT_FALSE(in_host_service_domain("xhost.brig"));
  EXPECT_FALSE(in_host_service_domain("db.host.brig.evil.test"));
  EXPECT_FALSE(in_host_service_domain("brig"));
}

TEST(HostServiceHttp, ADeclaredHttpServiceOnPort80OrItsOwnPortIsAllowed) {
  Metrics m;
  const auto snap = snapshot(m);
  const CellState& cell = *snap->cell_named("agent");
  for (std::uint16_t port : {80, 4000}) {
    const auto v = decide_http_host_service(cell, "llm.host.brig", port, true);
    ASSERT_TRUE(v.allowed()) << port << ": " << v.reason;
    EXPECT_EQ(v.entry->port, 4000);
    EXPECT_EQ(v.name, "llm");
  }
}

TEST(HostServiceHttp, EverythingElseIsRefusedWithItsReason) {
  Metrics m;
  const auto snap = snapshot(m);
  const CellState& cell = *snap->cell_named("agent");
  // The policy allows *.host.brig: it is not what decides.
  auto v = decide_http_host_service(cell, "web.host.brig", 80, true);
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(v.name, "web");
  EXPECT_EQ(v.reason, "cell agent declares no host service web");
  EXPECT_EQ(v.fix, "brig policy set agent --host-service web:PORT");
  EXPECT_EQ(decide_http_host_service(cell, "web.host.brig", 3000, true).fix, "brig policy set agent --host-service web:3000");

  v = decide_http_host_service(cell, "db.host.brig", 80, true);
  EXPECT_FALSE(v.allowed());
  EXPECT_THAT(v.reason, HasSubstr("host service db is tcp"));
  EXPECT_FALSE(v.fix);

  v = decide_http_host_service(cell, "llm.host.brig", 8080, true);
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(v.reason, "host service llm is on port 4000, not 8080: use http://llm.host.brig/");

  for (const char* host : {"a.b.host.brig", "host.brig"}) {
    v = decide_http_host_service(cell, host, 80, true);
    EXPECT_FALSE(v.allowed()) << host;
    EXPECT_EQ(v.name, "") << host;
    EXPECT_THAT(v.reason, HasSubstr("is not a host service name")) << host;
  }

  v = decide_http_host_service(cell, "llm.host.brig", 80, false);
  EXPECT_FALSE(v.allowed()) << "no relay: nothing reaches the host";
  EXPECT_EQ(v.reason, kNoHostRelay);
}

TEST(HostServiceTls, IsRefusedNamingThePlainUrl) {
  EXPECT_EQ(host_service_tls_refusal("llm.host.brig"), "host services are plain HTTP: use http://llm.host.brig/");
  EXPECT_EQ(host_service_tls_refusal("host.brig"), "host services are plain HTTP: use http://NAME.host.brig/");
}

TEST(RelayProtocol, ARequestRoundTrips) {
  const RelayRequest r{"agent", "db", 5432};
  const std::string line = format_relay_request(r);
  EXPECT_EQ(line, "BRIG-RELAY 1 agent db 5432\n");
  auto back = parse_relay_request(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, r);
}

TEST(RelayProtocol, AMalformedRequestIsRefused) {
  for (const char* bad : {"", "BRIG-RELAY 1 agent db", "BRIG-RELAY 2 agent db 5432", "brig-relay 1 agent db 5432",
                          "BRIG-RELAY 1 agent db 5432 x", "BRIG-RELAY 1  agent db 5432", "BRIG-RELAY 1 agent db 0",
                          "BRIG-RELAY 1 agent db 65536", "BRIG-RELAY 1 agent db 05432", "BRIG-RELAY 1 agent db -1",
                          "BRIG-RELAY 1 agent db 54x", "BRIG-RELAY 1 Agent db 5432", "BRIG-RELAY 1 agent DB 5432",
                          "BRIG-RELAY 1 agent -db 5432", "BRIG-RELAY 1 ../x db 5432", "BRIG-RELAY 1 agent db.x 5432",
                          "BRIG-RELAY 1 agent db 5432\r"}) {
    EXPECT_FALSE(parse_relay_request(bad)) << bad;
  }
  EXPECT_FALSE(parse_relay_request("BRIG-RELAY 1 " + std::string(120, 'a') + " db 1")) << "longer than the line limit";
  EXPECT_TRUE(parse_relay_request("BRIG-RELAY 1 a db 65535"));
}

TEST(RelayProtocol, RepliesRoundTrip) {
  for (auto r : {RelayReply::ok, RelayReply::undeclared, RelayReply::refused, RelayReply::timeout,
                 RelayReply::unreachable, RelayReply::bad_request, RelayReply::busy}) {
    const auto line = relay_reply_line(r);
    ASSERT_TRUE(line.ends_with('\n'));
    EXPECT_EQ(parse_relay_reply(line.substr(0, line.size() - 1)), r) << line;
  }
  EXPECT_EQ(relay_reply_line(RelayReply::ok), "OK\n");
  EXPECT_EQ(relay_reply_line(RelayReply::undeclared), "ERR undeclared\n");
  EXPECT_FALSE(parse_relay_reply("OK "));
  EXPECT_FALSE(parse_relay_reply("ERR"));
}

TEST(RelayTable, OnlyARunningCellsDeclaredServiceOnItsPort) {
  state::HostServiceTable t;
  t["agent"] = {"10.60.1.10", true, {{"db", 5432, "tcp"}, {"llm", 4000, "http"}}};
  t["idle"] = {"10.60.2.10", false, {{"db", 5432, "tcp"}}};
  EXPECT_TRUE(relay_allows(t, {"agent", "db", 5432}));
  EXPECT_TRUE(relay_allows(t, {"agent", "llm", 4000}));
  EXPECT_FALSE(relay_allows(t, {"agent", "db", 22})) << "another port";
  EXPECT_FALSE(relay_allows(t, {"agent", "llm", 5432})) << "another service's port";
  EXPECT_FALSE(relay_allows(t, {"agent", "web", 80}));
  EXPECT_FALSE(relay_allows(t, {"idle", "db", 5432})) << "a stopped cell";
  EXPECT_FALSE(relay_allows(t, {"ghost", "db", 5432}));
  EXPECT_FALSE(relay_allows({}, {"agent", "db", 5432}));
}

TEST(RelayOwner, IsUidColonGid) {
  HostRelayConfig cfg;
  ASSERT_TRUE(parse_relay_owner("65534:65534", cfg));
  EXPECT_EQ(cfg.owner_uid, 65534u);
  EXPECT_EQ(cfg.owner_gid, 65534u);
  for (const char* bad : {"", "65534", ":1", "1:", "a:b", "1:2:3", "-1:2"}) {
    HostRelayConfig c;
    EXPECT_FALSE(parse_relay_owner(bad, c)) << bad;
    EXPECT_FALSE(c.owner_uid) << bad;
  }
}

}  // namespace
}  // namespace brig::warden
