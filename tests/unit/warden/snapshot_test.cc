// build_snapshot: the pure step from the files' texts to warden's view of
// cells, and what it carries from one generation to the next.
#include "warden/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/policy/policy.h"

namespace brig::warden {
namespace {

SourceFile file(std::string path, std::string text) { return {std::move(path), std::move(text)}; }
SourceFile absent(std::string path) { return {path, Error(Errc::not_found, path + ": no such file")}; }

IpAddr addr(const char* text) {
  auto parsed = parse_ip(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(IpAddr{});
}

class SnapshotTest : public ::testing::Test {
 protected:
  SnapshotSources sources(std::string map, std::string global) {
    SnapshotSources in;
    in.subnet_map = file("subnet-map.json", std::move(map));
    in.global_policy = file("global.json", std::move(global));
    return in;
  }
  void cell(SnapshotSources& in, const std::string& name, std::string text) {
    in.cell_policies.emplace(name, file("cells/" + name + ".json", std::move(text)));
  }
  BuiltSnapshot build(const SnapshotSources& in) {
    auto b = build_snapshot(in, *prev_, metrics_);
    prev_ = b.snapshot;
    return b;
  }
  policy::Verdict get(const CellState* c, std::string_view host) {
    return c->policy->evaluate({host, 443, "GET", "/"});
  }
  Metrics metrics_;
  std::shared_ptr<const Snapshot> prev_ = std::make_shared<Snapshot>();
};

TEST_F(SnapshotTest, CellsByAddressWithTheirEffectivePolicy) {
  auto in = sources(R"({"10.60.1.0/24": "c1", "10.60.2.0/24": "c2", "fd00:60::/64": "c1"})",
                    R"({"allow": ["g.test"], "deny": ["bad.test"]})");
  cell(in, "c1", R"({"allow": ["one.test", "bad.test"]})");
  const auto b = build(in);
  EXPECT_TRUE(b.errors.empty()) << b.errors.front();
  EXPECT_EQ(b.snapshot->generation, 1u);
  ASSERT_EQ(b.snapshot->subnets.size(), 3u);
  const CellState* c1 = b.snapshot->cell_for(addr("10.60.1.7"));
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->name, "c1");
  EXPECT_EQ(b.snapshot->cell_for(addr("fd00:60::9")), c1);  // one state per cell
  EXPECT_EQ(b.snapshot->cell_for(addr("::ffff:10.60.1.7")), c1);
  EXPECT_EQ(b.snapshot->cell_for(addr("10.60.3.1")), nullptr);
  EXPECT_TRUE(get(c1, "one.test").allowed());
  EXPECT_TRUE(get(c1, "g.test").allowed());
  EXPECT_EQ(get(c1, "bad.test").reason, policy::Reason::denied_by_rule);  // the global deny wins
  const CellState* c2 = b.snapshot->cell_named("c2");  // no policy file: the global one only
  ASSERT_NE(c2, nullptr);
  EXPECT_TRUE(get(c2, "g.test").allowed());
  EXPECT_FALSE(get(c2, "one.test").allowed());
  EXPECT_EQ(c1->metrics, metrics_.cell("c1"));
}

TEST_F(SnapshotTest, BucketsAndTunnelsOutliveAGeneration) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})", R"({"rate_limits": {"default": {"rate": 1, "burst": 2}}})");
  const auto first = build(in);
  const CellState* c1 = first.snapshot->cell_named("c1");
  ASSERT_NE(c1, nullptr);
  ASSERT_TRUE(c1->bucket->take(nullptr));
  ASSERT_TRUE(c1->bucket->take(nullptr));
  ASSERT_FALSE(c1->bucket->take(nullptr));  // limited by the global default
  c1->tunnels->fetch_add(1);

  const auto second = build(in);
  EXPECT_EQ(second.snapshot->generation, 2u);
  const CellState* again = second.snapshot->cell_named("c1");
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again, c1);
  EXPECT_EQ(again->bucket, c1->bucket);
  EXPECT_EQ(again->tunnels->load(), 1);
  EXPECT_FALSE(again->bucket->take(nullptr));  // an unchanged limit is not refilled by a reload
}

TEST_F(SnapshotTest, TheCellsRateLimitBeatsTheGlobalOnes) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})",
                    R"({"rate_limits": {"default": {"rate": 1, "burst": 1}, "cells": {"c1": {"rate": 1, "burst": 2}}}})");
  const CellState* c1 = build(in).snapshot->cell_named("c1");
  EXPECT_TRUE(c1->bucket->take(nullptr));
  EXPECT_TRUE(c1->bucket->take(nullptr));  // burst 2: the global per-cell entry
  EXPECT_FALSE(c1->bucket->take(nullptr));
  cell(in, "c1", R"({"rate_limits": {"default": {"rate": 1, "burst": 3}}})");
  c1 = build(in).snapshot->cell_named("c1");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c1->bucket->take(nullptr)) << i;
  EXPECT_FALSE(c1->bucket->take(nullptr));
}

TEST_F(SnapshotTest, AnInvalidFileKeepsItsLastGoodVersion) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})", R"({"allow": ["g.test"]})");
  cell(in, "c1", R"({"allow": ["one.test"]})");
  ASSERT_TRUE(build(in).errors.empty());

  in.cell_policies.clear();
  cell(in, "c1", R"({"allow": ["bad host"]})");
  in.global_policy = file("global.json", "{\"allow\": 3}");
  in.subnet_map = file("subnet-map.json", R"({"10.60.1.0/24": "c1", "10.60.2.0/24": "../x"})");
  const auto b = build(in);
  ASSERT_EQ(b.errors.size(), 3u);
  EXPECT_EQ(b.errors[0].rfind("subnet map reload: subnet-map.json", 0), 0u) << b.errors[0];
  EXPECT_EQ(b.errors[1].rfind("policy reload: global.json", 0), 0u) << b.errors[1];
  EXPECT_EQ(b.errors[2].rfind("policy reload: cells/c1.json", 0), 0u) << b.errors[2];
  EXPECT_TRUE(b.errors[2].ends_with("; keeping the previous version")) << b.errors[2];
  ASSERT_EQ(b.snapshot->subnets.size(), 1u);
  const CellState* c1 = b.snapshot->cell_named("c1");
  EXPECT_TRUE(get(c1, "one.test").allowed());
  EXPECT_TRUE(get(c1, "g.test").allowed());

  // Still bad a generation later: still the last good versions.
  const auto later = build(in);
  EXPECT_TRUE(get(later.snapshot->cell_named("c1"), "one.test").allowed());
  EXPECT_TRUE(get(later.snapshot->cell_named("c1"), "g.test").allowed());
}

TEST_F(SnapshotTest, ACellFileNeverValidDeniesEverything) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})", R"({"allow": ["g.test"]})");
  cell(in, "c1", "{\"airgapped\": tru");
  const auto b = build(in);
  ASSERT_EQ(b.errors.size(), 2u);
  EXPECT_EQ(b.errors[1], "policy for cell c1: no valid version yet; denying everything for it");
  EXPECT_FALSE(get(b.snapshot->cell_named("c1"), "g.test").allowed());
}

TEST_F(SnapshotTest, AirgappedCellFile) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})", R"({"allow": ["g.test"]})");
  cell(in, "c1", R"({"airgapped": true})");
  const CellState* c1 = build(in).snapshot->cell_named("c1");
  EXPECT_EQ(get(c1, "g.test").reason, policy::Reason::airgapped);
}

TEST_F(SnapshotTest, AbsentFilesMeanNoCellsAndAnEmptyGlobalPolicy) {
  SnapshotSources in;
  in.subnet_map = absent("subnet-map.json");
  in.global_policy = absent("global.json");
  auto b = build(in);
  EXPECT_TRUE(b.errors.empty());
  EXPECT_TRUE(b.snapshot->subnets.empty());
  in.subnet_map = file("subnet-map.json", R"({"10.60.1.0/24": "c1"})");
  b = build(in);
  EXPECT_TRUE(b.errors.empty());
  EXPECT_FALSE(get(b.snapshot->cell_named("c1"), "g.test").allowed());
  // A map removed after a good one: no cells (not the last good map).
  in.subnet_map = absent("subnet-map.json");
  EXPECT_TRUE(build(in).snapshot->subnets.empty());
}

TEST_F(SnapshotTest, AnUnreadableFileIsAnError) {
  SnapshotSources in;
  in.subnet_map = file("subnet-map.json", R"({"10.60.1.0/24": "c1"})");
  in.global_policy = {"global.json", Error(Errc::io, "global.json: permission denied")};
  const auto b = build(in);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_EQ(b.errors[0], "policy reload: global.json: permission denied; keeping the previous version");
  EXPECT_FALSE(get(b.snapshot->cell_named("c1"), "g.test").allowed());
}

TEST_F(SnapshotTest, IngressRoutesKeepTheLastGoodTable) {
  const std::string digest(64, 'b');
  const std::string good = R"({"web": {"address": "10.60.1.10", "running": true, "token_sha256": ")" + digest +
                           R"(", "routes": [{"name": "w", "port": 8080, "path_prefix": "/"}]}})";
  SnapshotSources in;
  in.subnet_map = absent("subnet-map.json");
  in.global_policy = absent("global.json");
  in.ingress_routes = file("ingress-routes.json", good);
  auto b = build(in);
  ASSERT_TRUE(b.errors.empty());
  ASSERT_EQ(b.snapshot->ingress.count("web"), 1u);
  EXPECT_EQ(b.snapshot->ingress.at("web").address, "10.60.1.10");

  // An invalid table (a hand edit, a half-written file) keeps the last good one.
  in.ingress_routes = file("ingress-routes.json", R"({"web": {"address": "not an address"}})");
  b = build(in);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_THAT(b.errors[0], ::testing::StartsWith("ingress routes reload: ingress-routes.json: cell \"web\": "));
  EXPECT_EQ(b.snapshot->ingress.at("web").address, "10.60.1.10");

  // Removed: no routes.
  in.ingress_routes = absent("ingress-routes.json");
  EXPECT_TRUE(build(in).snapshot->ingress.empty());
}


TEST_F(SnapshotTest, TimeBoxedGrantsLapseAtTheirTimeAndAreReportedOnce) {
  auto in = sources(R"({"10.60.1.0/24": "c1"})", R"({"allow": []})");
  cell(in, "c1", R"({"allow": [{"domain": "t.test", "expires": "2026-12-01T10:00:00Z"}, "p.test"]})");
  const std::int64_t at = 1796119200;  // 2026-12-01T10:00:00Z
  in.now = at - 10;
  auto b = build(in);
  EXPECT_TRUE(b.lapsed.empty());  // a first build reports nothing
  EXPECT_TRUE(get(b.snapshot->cell_named("c1"), "t.test").allowed());
  EXPECT_EQ(b.snapshot->next_expiry, at);

  in.now = at - 1;
  b = build(in);
  EXPECT_TRUE(b.lapsed.empty());
  EXPECT_TRUE(get(b.snapshot->cell_named("c1"), "t.test").allowed());

  in.now = at;
  b = build(in);
  const CellState* c1 = b.snapshot->cell_named("c1");
  EXPECT_EQ(get(c1, "t.test").reason, policy::Reason::no_rule);
  EXPECT_TRUE(get(c1, "p.test").allowed());
  EXPECT_EQ(b.snapshot->next_expiry, 0);
  ASSERT_EQ(b.lapsed.size(), 1u);
  EXPECT_EQ(b.lapsed[0].cell, "c1");
  EXPECT_EQ(b.lapsed[0].rule, "allow t.test until 2026-12-01T10:00:00Z");

  in.now = at + 5;
  EXPECT_TRUE(build(in).lapsed.empty());
}

TEST_F(SnapshotTest, InjectedSecretsAreTheCellsAndKeepTheLastGoodFile) {
  auto in = sources(R"({"10.60.1.0/24": "c1", "10.60.2.0/24": "c2"})", R"({"allow": []})");
  const std::string ph = "brig-secret-k-0123456789abcdef0123456789abcdef";
  const std::string good = R"({"secrets": [{"name": "k", "env": "K", "placeholder": ")" + ph +
                           R"(", "value": "v1", "hosts": ["api.test", "*.w.test"]}]})";
  in.cell_secrets.emplace("c1", file("secrets/c1.json", good));
  auto b = build(in);
  ASSERT_TRUE(b.errors.empty());
  const CellState* c1 = b.snapshot->cell_named("c1");
  ASSERT_EQ(c1->secrets.size(), 1u);
  EXPECT_EQ(c1->secrets[0].secret.placeholder, ph);
  EXPECT_TRUE(c1->secrets[0].for_host("api.test"));
  EXPECT_TRUE(c1->secrets[0].for_host("a.w.test"));
  EXPECT_FALSE(c1->secrets[0].for_host("w.test"));
  EXPECT_TRUE(b.snapshot->cell_named("c2")->secrets.empty());

  in.cell_secrets["c1"] = file("secrets/c1.json", R"({"secrets": [{"name": "k"}]})");
  b = build(in);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_NE(b.errors[0].find("secrets reload"), std::string::npos) << b.errors[0];
  EXPECT_EQ(b.errors[0].find("v1"), std::string::npos) << "a value in a message: " << b.errors[0];
  ASSERT_EQ(b.snapshot->cell_named("c1")->secrets.size(), 1u);

  in.cell_secrets.erase("c1");
  EXPECT_TRUE(build(in).snapshot->cell_named("c1")->secrets.empty());
}

TEST_F(SnapshotTest, HostServicesAreTheRunningCellsAndKeepTheLastGoodTable) {
  auto in = sources(R"({"10.60.1.0/24": "c1", "10.60.2.0/24": "c2", "10.60.3.0/24": "c3"})", R"({"allow": []})");
  const std::string good = R"({
    "c1": {"address": "10.60.1.10", "running": true,
           "services": [{"name": "db", "port": 5432, "protocol": "tcp"}, {"name": "llm", "port": 4000, "protocol": "http"}]},
    "c2": {"address": "10.60.2.10", "running": false, "services": [{"name": "db", "port": 5433, "protocol": "tcp"}]},
    "c3": {"address": "10.60.3.10", "running": true, "services": [{"name": "cache", "port": 6379, "protocol": "tcp"},
                                                                  {"name": "db", "port": 5432, "protocol": "tcp"}]}})";
  in.host_services = file("host-services.json", good);
  auto b = build(in);
  ASSERT_TRUE(b.errors.empty()) << b.errors.front();
  const CellState* c1 = b.snapshot->cell_named("c1");
  ASSERT_EQ(c1->host_services.size(), 2u);
  ASSERT_NE(c1->host_service("llm"), nullptr);
  EXPECT_EQ(c1->host_service("llm")->port, 4000);
  EXPECT_EQ(c1->host_service("nope"), nullptr);
  EXPECT_EQ(c1->tcp_service_on(5432)->name, "db");
  EXPECT_EQ(c1->tcp_service_on(4000), nullptr) << "llm is http";
  EXPECT_TRUE(b.snapshot->cell_named("c2")->host_services.empty()) << "a stopped cell's entry gives it none";
  EXPECT_THAT(b.snapshot->tcp_service_ports(), ::testing::ElementsAre(5432, 6379));

  // Invalid: the last good table stays.
  in.host_services = file("host-services.json", R"({"c1": {"address": "x", "running": true, "services": []}})");
  b = build(in);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_THAT(b.errors[0], ::testing::StartsWith("host services reload: host-services.json: cell c1: "));
  EXPECT_EQ(b.snapshot->cell_named("c1")->host_services.size(), 2u);

  // Absent: none.
  in.host_services = absent("host-services.json");
  b = build(in);
  EXPECT_TRUE(b.snapshot->cell_named("c1")->host_services.empty());
  EXPECT_TRUE(b.snapshot->tcp_service_ports().empty());
}

}  // namespace
}  // namespace brig::warden
