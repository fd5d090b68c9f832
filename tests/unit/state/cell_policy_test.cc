// policy/cells/<cell>.json: parse and serialize, the size cap, and the locked
// read-modify-write that leaves the file alone on any error.
#include "brig/state/cell_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/core/fs.h"
#include "brig/policy/policy.h"
#include "brig/state/lock.h"
#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::slurp;
using testing::spit;
using testing::TempDir;

TEST(CellPolicy, RoundTrip) {
  const nlohmann::json doc = {{"allow", {"a.test", {{"domain", "b.test"}, {"methods", {"GET"}}}}}, {"airgapped", false}};
  const std::string text = serialize_cell_policy(doc);
  EXPECT_EQ(text, doc.dump(2) + "\n");
  auto back = parse_cell_policy(text, "/p.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, doc);
}

TEST(CellPolicy, ParseErrors) {
  auto bad = parse_cell_policy("{", "/p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Errc::invalid);
  EXPECT_THAT(bad.error().message(), ::testing::StartsWith("/p.json is not JSON: [json.exception.parse_error"));
  auto arr = parse_cell_policy("[]", "/p.json");
  ASSERT_FALSE(arr.ok());
  EXPECT_EQ(arr.error().message(), "/p.json is not a JSON object (the top level is array)");
}

TEST(CellPolicy, CapIsThePolicyModulesCap) { EXPECT_EQ(kMaxCellPolicyBytes, policy::kMaxPolicyBytes); }

class CellPolicyFile : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};
  static Status ok_check(const std::string&, const std::string&) { return {}; }
  static Status add_allow(nlohmann::json& j) {
    j["allow"].push_back("new.test");
    return {};
  }
};

TEST_F(CellPolicyFile, StoreReadAndMissing) {
  auto none = read_cell_policy(paths, "c1");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::not_found);
  ASSERT_TRUE(store_cell_policy(paths, "c1", {{"allow", nlohmann::json::array()}}).ok());
  auto text = read_cell_policy(paths, "c1");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "{\n  \"allow\": []\n}\n");
}

TEST_F(CellPolicyFile, RemoveDeletesTheFileAndToleratesNone) {
  ASSERT_TRUE(store_cell_policy(paths, "c1", nlohmann::json::object()).ok());
  ASSERT_TRUE(remove_cell_policy(paths, "c1").ok());
  EXPECT_EQ(read_cell_policy(paths, "c1").error().code(), Errc::not_found);
  EXPECT_TRUE(remove_cell_policy(paths, "c1").ok());
}

TEST_F(CellPolicyFile, EditChangesChecksAndWrites) {
  ASSERT_TRUE(store_cell_policy(paths, "c1", {{"allow", {"a.test"}}}).ok());
  std::string checked, checked_path;
  auto st = edit_cell_policy(paths, "c1", add_allow, [&](const std::string& text, const std::string& path) -> Status {
    checked = text;
    checked_path = path;
    return {};
  });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(checked_path, paths.cell_policy("c1"));
  EXPECT_EQ(slurp(paths.cell_policy("c1")), checked);
  EXPECT_EQ(nlohmann::json::parse(checked), (nlohmann::json{{"allow", {"a.test", "new.test"}}}));
}

TEST_F(CellPolicyFile, EditOfAnUnknownCellIsNotFound) {
  for (const std::string cell : {"nope", "", "../c1", "a/b"}) {
    auto st = edit_cell_policy(paths, cell, add_allow, ok_check);
    ASSERT_FALSE(st.ok()) << cell;
    EXPECT_EQ(st.error().code(), Errc::not_found);
    EXPECT_EQ(st.error().message(), "no cell named \"" + cell + "\" has a policy");
    EXPECT_EQ(st.error().fix(), "check the name with: brig cell list --all");
  }
}

TEST_F(CellPolicyFile, FailedCheckOrChangeLeavesTheFile) {
  ASSERT_TRUE(store_cell_policy(paths, "c1", {{"allow", {"a.test"}}}).ok());
  const std::string before = slurp(paths.cell_policy("c1"));
  auto refused = edit_cell_policy(paths, "c1", add_allow, [](const std::string&, const std::string&) -> Status {
    return Error(Errc::invalid, "bad rule");
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "bad rule");
  auto failed = edit_cell_policy(paths, "c1", [](nlohmann::json&) -> Status { return Error(Errc::invalid, "no"); }, ok_check);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message(), "no");
  EXPECT_EQ(slurp(paths.cell_policy("c1")), before);
}

TEST_F(CellPolicyFile, DamagedFileIsInvalidWithAFix) {
  spit(paths.cell_policy("c1"), "{not json");
  auto st = edit_cell_policy(paths, "c1", add_allow, ok_check);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_THAT(st.error().message(), ::testing::StartsWith(paths.cell_policy("c1") + " is not JSON: "));
  EXPECT_EQ(st.error().fix(), "brig cell rm c1 and run it again");
  EXPECT_EQ(slurp(paths.cell_policy("c1")), "{not json");
}

TEST_F(CellPolicyFile, EditHoldsTheStateLock) {
  ASSERT_TRUE(store_cell_policy(paths, "c1", {{"allow", nlohmann::json::array()}}).ok());
  bool locked_elsewhere = false;
  auto st = edit_cell_policy(paths, "c1", add_allow, [&](const std::string&, const std::string&) -> Status {
    auto other = fs::FileLock::try_acquire(state_lock_path(paths));
    locked_elsewhere = !other.ok() && other.error().code() == Errc::exists;
    return {};
  });
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(locked_elsewhere);
  EXPECT_EQ(state_lock_path(paths), paths.system_state() + "/lock");
}

// apply_policy_edit: `policy set` and `policy suggest --apply`.
constexpr std::int64_t kNow = 1796191200;  // 2026-12-02T06:00:00Z

nlohmann::json doc_of(const char* text) { return nlohmann::json::parse(text); }

Result<PolicyEditResult> edit(nlohmann::json& doc, PolicyEdit e) { return apply_policy_edit(doc, "c1", e, kNow); }

TEST(PolicyEdit, AddsRemovesAndKeepsOneOfEach) {
  auto doc = doc_of(R"({"allow": ["api.github.com", {"domain": "x.test", "paths": ["/v1/*"]}], "deny": []})");
  PolicyEdit e;
  e.allow = {{"example.com", {}, {}}, {"x.test", {}, {}}, {"EXAMPLE.com", {}, {}}};
  e.deny = {"evil.test", "evil.test"};
  e.remove = {"api.github.com"};
  auto r = edit(doc, e);
  ASSERT_TRUE(r.ok()) << r.error().message();
  // A rule for some paths of x.test does not make the whole host present.
  EXPECT_EQ(doc["allow"], doc_of(R"([{"domain": "x.test", "paths": ["/v1/*"]}, "example.com", "x.test"])"));
  EXPECT_EQ(doc["deny"], doc_of(R"(["evil.test"])"));
  EXPECT_EQ(doc["tls_passthrough"], nlohmann::json::array());
  ASSERT_EQ(r->allow.size(), 3u);
  EXPECT_EQ(r->allow[0].what, AllowOutcome::What::added);
  EXPECT_EQ(r->allow[2].what, AllowOutcome::What::unchanged);
  EXPECT_FALSE(r->allow[0].expires);
}

TEST(PolicyEdit, RulesWithPathsAndMethodsAreComparedAsSets) {
  auto doc = doc_of(R"({"allow": [{"domain": "a.test", "paths": ["/b", "/a"], "methods": ["POST", "GET"]}]})");
  PolicyEdit e;
  e.allow = {{"a.test", {"/a", "/b"}, {"GET", "POST"}}, {"a.test:8443", {"/x/*"}, {}}};
  auto r = edit(doc, e);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allow[0].what, AllowOutcome::What::unchanged);
  EXPECT_EQ(doc["allow"].size(), 2u);
  EXPECT_EQ(doc["allow"][1], doc_of(R"({"domain": "a.test:8443", "paths": ["/x/*"]})"));
}

TEST(PolicyEdit, TimeBoxedGrants) {
  auto doc = doc_of(R"({"allow": ["perm.test", {"domain": "timed.test", "expires": "2026-12-02T06:05:00Z"}]})");
  PolicyEdit e;
  e.allow = {{"new.test", {}, {}}, {"perm.test", {}, {}}, {"timed.test", {}, {}}};
  e.allow_expires = kNow + 900;
  auto r = edit(doc, e);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(doc["allow"], doc_of(R"(["perm.test", {"domain": "timed.test", "expires": "2026-12-02T06:15:00Z"},
                                    {"domain": "new.test", "expires": "2026-12-02T06:15:00Z"}])"));
  EXPECT_EQ(r->allow[0].what, AllowOutcome::What::added);
  EXPECT_EQ(r->allow[0].expires, kNow + 900);
  EXPECT_EQ(r->allow[1].what, AllowOutcome::What::kept_permanent);
  EXPECT_FALSE(r->allow[1].expires);
  EXPECT_EQ(r->allow[2].what, AllowOutcome::What::renewed);
  // Without a time limit, a time-boxed grant becomes permanent in place.
  PolicyEdit p;
  p.allow = {{"timed.test", {}, {}}};
  r = edit(doc, p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allow[0].what, AllowOutcome::What::made_permanent);
  EXPECT_EQ(doc["allow"][1], "timed.test");
}

TEST(PolicyEdit, EveryEditDropsLapsedGrants) {
  auto doc = doc_of(R"({"allow": [{"domain": "old.test", "expires": "2026-12-02T05:59:59Z"},
                                  {"domain": "now.test", "expires": "2026-12-02T06:00:00Z"},
                                  {"domain": "later.test", "expires": "2026-12-02T06:00:01Z"}, "p.test"]})");
  PolicyEdit e;
  e.deny = {"evil.test"};
  auto r = edit(doc, e);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lapsed, 2u);
  EXPECT_EQ(doc["allow"], doc_of(R"([{"domain": "later.test", "expires": "2026-12-02T06:00:01Z"}, "p.test"])"));
  // A lapsed grant asked again is a new one.
  auto again = doc_of(R"({"allow": [{"domain": "old.test", "expires": "2026-12-02T05:00:00Z"}]})");
  PolicyEdit a;
  a.allow = {{"old.test", {}, {}}};
  a.allow_expires = kNow + 60;
  r = edit(again, a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allow[0].what, AllowOutcome::What::added);
  EXPECT_EQ(again["allow"], doc_of(R"([{"domain": "old.test", "expires": "2026-12-02T06:01:00Z"}])"));
}

TEST(PolicyEdit, AirgappedRefusesAllowsAndClearKeepsIt) {
  auto doc = doc_of(R"({"allow": [], "airgapped": true})");
  const auto before = doc;
  PolicyEdit e;
  e.allow = {{"x.test", {}, {}}};
  auto r = edit(doc, e);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(), "cell c1 is airgapped: it may reach nothing");
  EXPECT_EQ(doc, before);
  PolicyEdit d;
  d.deny = {"x.test"};
  EXPECT_TRUE(edit(doc, d).ok());
  clear_cell_policy(doc);
  EXPECT_EQ(doc, doc_of(R"({"allow": [], "deny": [], "tls_passthrough": [], "airgapped": true})"));
  auto plain = doc_of(R"({"allow": ["a.test"], "deny": ["b.test"], "rate_limits": {}})");
  clear_cell_policy(plain);
  EXPECT_EQ(plain, doc_of(R"({"allow": [], "deny": [], "tls_passthrough": []})"));
}

// What apply_policy_edit writes is a policy document policy::parse_document
// reads, expires included.
TEST(PolicyEdit, ResultParsesAsAPolicy) {
  auto doc = doc_of(R"({"allow": []})");
  PolicyEdit e;
  e.allow = {{"a.test", {"/v1/*"}, {"GET"}}, {"b.test", {}, {}}};
  e.allow_expires = kNow + 60;
  ASSERT_TRUE(edit(doc, e).ok());
  auto block = policy::parse_document(serialize_cell_policy(doc), "/p.json");
  ASSERT_TRUE(block.ok()) << block.error().message();
  ASSERT_EQ(block->allow.size(), 2u);
  EXPECT_EQ(block->allow[0].expires, kNow + 60);
  EXPECT_EQ(block->allow[0].paths, std::vector<std::string>{"/v1/*"});
}

TEST(StateLock, RunsFnAndReturnsItsStatus) {
  TempDir home;
  Paths paths(home.path());
  auto st = with_state_lock(paths, [] { return Status(Error(Errc::io, "inner")); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "inner");
  EXPECT_TRUE(testing::exists(paths.system_state() + "/lock"));
}

}  // namespace
}  // namespace brig::state
