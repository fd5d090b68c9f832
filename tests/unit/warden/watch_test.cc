// Watches (watch.h): a new snapshot that no longer allows what a connection
// was admitted for marks it once and runs its close on its own executor.
#include "warden/watch.h"

#include <gtest/gtest.h>

namespace brig::warden {
namespace {

SourceFile file(const std::string& path, std::string text) { return {path, std::move(text)}; }

std::shared_ptr<const Snapshot> build(Metrics& m, const std::string& cell_policy, const Snapshot& prev) {
  SnapshotSources in;
  in.subnet_map = file("map", R"({"10.60.1.0/24": "c1"})");
  in.cell_policies.emplace("c1", file("c1.json", cell_policy));
  return build_snapshot(in, prev, m).snapshot;
}

TEST(Watches, ARevokedConnectionIsClosedOnItsExecutorOnce) {
  Metrics m;
  auto s1 = build(m, R"({"allow": ["a.test", "b.test"], "tls_passthrough": ["b.test"]})", Snapshot{});
  asio::io_context io;
  Watches all;
  int closed_a = 0, closed_b = 0;
  {
    Watch a(all, {"c1", "a.test", 443, "", "", false, std::nullopt}, io.get_executor());
    Watch b(all, {"c1", "b.test", 443, "", "", true, std::nullopt}, io.get_executor());
    a.closable([&] { ++closed_a; });
    b.closable([&] { ++closed_b; });
    EXPECT_EQ(all.size(), 2u);
    EXPECT_EQ(all.revoke_if_denied(*s1), 0u);

    // b.test stays allowed but loses its passthrough: b is cut; a stays.
    auto s2 = build(m, R"({"allow": ["a.test", "b.test"]})", *s1);
    EXPECT_EQ(all.revoke_if_denied(*s2), 1u);
    EXPECT_EQ(closed_b, 0) << "runs on the connection's executor, not the caller's thread";
    io.run();
    io.restart();
    EXPECT_EQ(closed_b, 1);
    EXPECT_EQ(b.revoked(), s2->generation);
    EXPECT_EQ(a.revoked(), 0u);
    EXPECT_EQ(all.revoke_if_denied(*s2), 0u);  // once

    // A busy connection (no close set) is only marked; it looks when it can.
    a.closable(nullptr);
    auto s3 = build(m, R"({"allow": []})", *s2);
    EXPECT_EQ(all.revoke_if_denied(*s3), 1u);
    io.run();
    EXPECT_EQ(closed_a, 0);
    EXPECT_EQ(a.revoked(), s3->generation);
    EXPECT_EQ(m.cell("c1")->revoked.load(), 2u);
  }
  EXPECT_EQ(all.size(), 0u);
}

TEST(Watches, AConnectionOfACellThatIsGoneIsRevoked) {
  Metrics m;
  auto s1 = build(m, R"({"allow": ["a.test"]})", Snapshot{});
  asio::io_context io;
  Watches all;
  Watch a(all, {"c1", "a.test", 443, "GET", "/ws", false, std::nullopt}, io.get_executor());
  SnapshotSources none;
  auto gone = build_snapshot(none, *s1, m).snapshot;
  EXPECT_FALSE(still_allowed(*gone, a.admitted()));
  EXPECT_TRUE(still_allowed(*s1, a.admitted()));
  EXPECT_EQ(all.revoke_if_denied(*gone), 1u);
}

TEST(Watches, AHostServiceConnectionLastsWhileTheCellDeclaresIt) {
  Metrics m;
  auto table = [](const std::string& services, bool running) {
    return file("host-services.json", R"({"c1": {"address": "10.60.1.10", "running": )" +
                                          std::string(running ? "true" : "false") + R"(, "services": )" + services + "}}");
  };
  SnapshotSources in;
  in.subnet_map = file("map", R"({"10.60.1.0/24": "c1"})");
  in.cell_policies.emplace("c1", file("c1.json", R"({"allow": []})"));
  in.host_services = table(R"([{"name": "db", "port": 5432, "protocol": "tcp"}])", true);
  auto s1 = build_snapshot(in, Snapshot{}, m).snapshot;
  const state::HostServiceEntry db{"db", 5432, "tcp"};
  const Admitted a{"c1", "db.host.brig", 5432, "", "", false, db};
  EXPECT_TRUE(still_allowed(*s1, a)) << "the policy, which allows nothing, is not asked";

  in.host_services = table(R"([{"name": "db", "port": 5433, "protocol": "tcp"}])", true);
  auto moved = build_snapshot(in, *s1, m).snapshot;
  EXPECT_FALSE(still_allowed(*moved, a)) << "another port is another service";
  in.host_services = table(R"([{"name": "db", "port": 5432, "protocol": "tcp"}])", false);
  EXPECT_FALSE(still_allowed(*build_snapshot(in, *s1, m).snapshot, a)) << "the cell stopped";
  in.host_services = table("[]", true);
  EXPECT_FALSE(still_allowed(*build_snapshot(in, *s1, m).snapshot, a)) << "removed";
}

}  // namespace
}  // namespace brig::warden
