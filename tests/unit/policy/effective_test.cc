// policy::effective: global ∪ cell, deny wins, the rate limit's precedence
// and airgapped cells — the one assembly `brig policy test` and warden share.
#include "brig/policy/effective.h"

#include <gtest/gtest.h>

#include <string>

#include "brig/spec/parse.h"

namespace brig::policy {
namespace {

spec::PolicyBlock block(std::string_view yaml, const std::string& file) {
  auto b = spec::parse_policy(yaml, file);
  EXPECT_TRUE(b.ok()) << yaml << ": " << (b ? "" : b.error().message());
  return b ? *b : spec::PolicyBlock{};
}

EffectivePolicy eff(std::string_view global, std::string_view cell = {}, std::string_view name = "c1",
                    Options opts = {}) {
  const auto g = block(global, "global.yaml");
  const auto c = cell.empty() ? spec::PolicyBlock{} : block(cell, "cell.yaml");
  auto e = effective(g, cell.empty() ? nullptr : &c, name, opts);
  EXPECT_TRUE(e.ok()) << (e ? "" : e.error().message());
  if (!e) return {Policy{}, std::nullopt};
  return std::move(*e);
}

Verdict get(const EffectivePolicy& e, std::string_view host) { return e.policy.evaluate({host, 443, "GET", "/"}); }

TEST(EffectiveTest, GlobalOnly) {
  const auto e = eff("allow: [a.test]\n");
  EXPECT_TRUE(get(e, "a.test").allowed());
  EXPECT_EQ(get(e, "a.test").rule, "allow a.test (global.yaml:1)");
  EXPECT_EQ(get(e, "b.test").reason, Reason::no_rule);
  EXPECT_EQ(get(e, "b.test").rule, "default deny");
}

TEST(EffectiveTest, CellOnly) {
  const auto e = eff("{}\n", "allow: [b.test]\n");
  EXPECT_TRUE(get(e, "b.test").allowed());
  EXPECT_EQ(get(e, "b.test").rule, "allow b.test (cell.yaml:1)");
  EXPECT_FALSE(get(e, "a.test").allowed());
}

TEST(EffectiveTest, BothAreUnited) {
  const auto e = eff("allow: [a.test]\n", "allow: [b.test]\n");
  EXPECT_TRUE(get(e, "a.test").allowed());
  EXPECT_TRUE(get(e, "b.test").allowed());
  EXPECT_FALSE(get(e, "c.test").allowed());
  EXPECT_EQ(e.policy.allow_count(), 2u);
}

TEST(EffectiveTest, DenyInGlobalBeatsAllowInCell) {
  const auto e = eff("deny: [\"*.evil.test\"]\n", "allow: [x.evil.test]\n");
  const auto v = get(e, "x.evil.test");
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(v.reason, Reason::denied_by_rule);
  EXPECT_EQ(v.rule, "deny *.evil.test (global.yaml:1)");
  EXPECT_FALSE(fixable(v.reason));
}

TEST(EffectiveTest, DenyInCellBeatsAllowInGlobal) {
  const auto e = eff("allow: [a.test]\n", "deny: [a.test]\n");  // the verdict's rule lives in it
  const auto v = get(e, "a.test");
  EXPECT_EQ(v.reason, Reason::denied_by_rule);
  EXPECT_EQ(v.rule, "deny a.test (cell.yaml:1)");
}

TEST(EffectiveTest, RateLimitPrecedence) {
  const std::string global =
      "rate_limits:\n  default: {rate: 10, burst: 20}\n  cells:\n    c2: {rate: 5, burst: 5}\n";
  // None anywhere: no limit.
  EXPECT_FALSE(eff("{}\n").rate);
  EXPECT_FALSE(eff("{}\n", "allow: [a.test]\n").rate);
  // The global default.
  auto e = eff(global, "allow: [a.test]\n", "c1");
  ASSERT_TRUE(e.rate);
  EXPECT_EQ(e.rate->rate, 10);
  EXPECT_EQ(e.rate->burst, 20);
  // The global per-cell entry beats the global default.
  e = eff(global, "allow: [a.test]\n", "c2");
  ASSERT_TRUE(e.rate);
  EXPECT_EQ(e.rate->rate, 5);
  // The cell's own default beats both.
  e = eff(global, "rate_limits:\n  default: {rate: 1, burst: 2}\n", "c2");
  ASSERT_TRUE(e.rate);
  EXPECT_EQ(e.rate->rate, 1);
  EXPECT_EQ(e.rate->burst, 2);
  // Without a cell name, no per-cell entry applies.
  e = eff(global, {}, "");
  ASSERT_TRUE(e.rate);
  EXPECT_EQ(e.rate->rate, 10);
}

TEST(EffectiveTest, AirgappedByOptionOrByTheCellFile) {
  const auto opt = eff("allow: [a.test]\n", "allow: [b.test]\n", "c1", {.airgapped = true});
  EXPECT_EQ(get(opt, "a.test").reason, Reason::airgapped);
  EXPECT_EQ(get(opt, "b.test").reason, Reason::airgapped);
  EXPECT_TRUE(opt.policy.airgapped());
  // The policy file the engine writes for an airgapped cell.
  const auto file = eff("allow: [a.test]\n", "airgapped: true\n");
  EXPECT_EQ(get(file, "a.test").reason, Reason::airgapped);
  EXPECT_FALSE(fix_for(get(file, "a.test"), "c1", "a.test", 443));
  EXPECT_FALSE(eff("allow: [a.test]\n", "allow: [b.test]\n").policy.airgapped());
}

TEST(EffectiveTest, InvalidBlockIsAnError) {
  spec::PolicyBlock bad;
  bad.allow.push_back({});
  bad.allow.back().domain = "bad host";
  EXPECT_FALSE(effective({}, &bad, "c1").ok());
  EXPECT_FALSE(effective(bad, nullptr, "").ok());
}

// in_force: what compile() at `now` keeps, for printing (policy show --format json).
TEST(InForce, DropsGrantsEndedAtNow) {
  spec::PolicyBlock b;
  b.allow.push_back({"a.test", std::nullopt, {}, {}, {}});
  b.allow.push_back({"ended.test", std::nullopt, {}, {}, {}, 100});
  b.allow.push_back({"later.test", std::nullopt, {}, {}, {}, 101});
  const auto kept = in_force(b, 100);
  ASSERT_EQ(kept.allow.size(), 2u);
  EXPECT_EQ(kept.allow[0].domain, "a.test");
  EXPECT_EQ(kept.allow[1].domain, "later.test");
  EXPECT_EQ(in_force(b, 0).allow.size(), 3u);  // no clock: everything
  auto compiled = Policy::compile(b, nullptr, {false, 100});
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(compiled->allow_count(), kept.allow.size());
}

}  // namespace
}  // namespace brig::policy
