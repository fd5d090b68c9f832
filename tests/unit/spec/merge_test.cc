// merge(): precedence flag > yaml > profile > defaults for every field,
// key-wise maps, list unions; the builtin profiles and defaults.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/spec/json.h"
#include "brig/spec/merge.h"
#include "brig/spec/parse.h"
#include "brig/spec/resolve.h"
#include "unit/spec/merge_test_util.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using nlohmann::json;
using testing::expected;
using testing::has_field;
using testing::kLayerOrigin;
using testing::n;
using testing::origin_of;
using testing::set_field;

// --- merge() over every field and every combination of layers ---------------

TEST(Merge, HighestLayerWinsForEveryFieldAndEveryCombinationOfLayers) {
  for (const auto& field : field_names()) {
    for (int mask = 0; mask < 16; ++mask) {
      CellSpec layers[4];
      std::vector<int> set;
      for (int i = 0; i < 4; ++i) {
        if (mask & (1 << i)) {
          set_field(layers[i], field, i);
          set.push_back(i);
        }
      }
      CellSpec m = merge(merge(merge(layers[0], layers[1]), layers[2]), layers[3]);
      SCOPED_TRACE(field + " set in layers mask " + n(mask));
      if (set.empty()) {
        EXPECT_FALSE(has_field(m, field));
        continue;
      }
      ASSERT_TRUE(has_field(m, field));
      EXPECT_EQ(to_json(m)[field], expected(field, set));
      EXPECT_EQ(origin_of(m, field).str(), kLayerOrigin[set.back()].str());
    }
  }
}

TEST(Merge, FieldsNotSetInEitherLayerStayUnset) {
  CellSpec low, high;
  low.memory.set("1g", kLayerOrigin[0]);
  high.cpus.set("2", kLayerOrigin[3]);
  CellSpec m = merge(low, high);
  EXPECT_EQ(to_json(m), (json{{"memory", "1g"}, {"cpus", "2"}}));
}

TEST(Merge, MapsMergeKeyByKey) {
  CellSpec low, high;
  low.env.set({{"A", "low"}, {"B", "low"}}, Origin::profile("p"));
  high.env.set({{"B", "high"}, {"C", "high"}}, Origin::flag("--env"));
  CellSpec m = merge(low, high);
  EXPECT_EQ(*m.env, (StringMap{{"A", "low"}, {"B", "high"}, {"C", "high"}}));
  EXPECT_EQ(m.env.origin.str(), "--env");
}

std::vector<std::string> secret_names(const CellSpec& s) {
  std::vector<std::string> out;
  for (const auto& e : *s.secrets) out.push_back(e.name);
  return out;
}

TEST(Merge, SecretsUnionLowerFirstWithoutDuplicates) {
  CellSpec low, high;
  low.secrets.set(secret_files({"a", "b"}), Origin::file("cell.yaml", 3));
  high.secrets.set(secret_files({"b", "c"}), Origin::flag("--secret"));
  CellSpec m = merge(low, high);
  EXPECT_EQ(secret_names(m), (StringList{"a", "b", "c"}));
}

// By name: the higher layer's entry (file or injected form) replaces the
// lower's in place, whole.
TEST(Merge, SecretsTheHigherLayerWinsPerName) {
  CellSpec low, high;
  SecretList l = secret_files({"a", "llm"}, Origin::profile("p"));
  l[1].env = "OLD_KEY";
  l[1].hosts = {"old.example.com"};
  l[1].allow_plaintext = true;
  low.secrets.set(l, Origin::profile("p"));
  SecretList h = secret_files({"llm", "a"}, Origin::file("cell.yaml", 4));
  h[0].env = "OPENAI_API_KEY";
  h[0].hosts = {"api.openai.com"};
  high.secrets.set(h, Origin::file("cell.yaml", 4));
  CellSpec m = merge(low, high);
  EXPECT_EQ(secret_names(m), (StringList{"a", "llm"}));
  const SecretRef& llm = (*m.secrets)[1];
  EXPECT_EQ(llm.env, "OPENAI_API_KEY");
  EXPECT_EQ(llm.hosts, (StringList{"api.openai.com"}));
  EXPECT_FALSE(llm.allow_plaintext);
  EXPECT_EQ(llm.origin.str(), "cell.yaml:4");
  EXPECT_EQ((*m.secrets)[0].origin.str(), "cell.yaml:4");

  // The other way round, an injected entry becomes a mounted one.
  CellSpec m2 = merge(high, low);
  EXPECT_EQ(secret_names(m2), (StringList{"llm", "a"}));
  EXPECT_EQ((*m2.secrets)[0].env, "OLD_KEY");
}

// Two entries of one layer with one name stay two, for validate to report.
TEST(Merge, SecretsListedTwiceInOneLayerStayTwice) {
  CellSpec low, high;
  low.secrets.set(secret_files({"a"}), Origin::profile("p"));
  high.secrets.set(secret_files({"b", "b"}), Origin::flag("--secret"));
  EXPECT_EQ(secret_names(merge(low, high)), (StringList{"a", "b", "b"}));
}

TEST(Merge, PolicyListsUnionAndRatesTakeTheHigherLayer) {
  auto low = parse_policy("allow: [a.com]\ndeny: [x.com]\ntls_passthrough: [a.com]\n"
                          "rate_limits: {default: {rate: 1}, cells: {web: {rate: 1}, db: {rate: 1}}}\n",
                          "low.yaml");
  auto high = parse_policy("allow: [b.com]\ndeny: [y.com]\nrate_limits: {cells: {web: {rate: 9}}}\n", "high.yaml");
  ASSERT_TRUE(low && high);
  CellSpec l, h;
  l.policy.set(*low, Origin::profile("p"));
  h.policy.set(*high, Origin::file("cell.yaml", 5));
  CellSpec m = merge(l, h);
  json j = to_json(*m.policy);
  EXPECT_EQ(j["allow"], (json{"a.com", "b.com"}));
  EXPECT_EQ(j["deny"], (json{"x.com", "y.com"}));
  EXPECT_EQ(j["tls_passthrough"], (json{"a.com"}));
  EXPECT_EQ(j["rate_limits"]["default"]["rate"], 1.0);  // the higher layer sets none: kept
  EXPECT_EQ(j["rate_limits"]["cells"]["web"]["rate"], 9.0);
  EXPECT_EQ(j["rate_limits"]["cells"]["db"]["rate"], 1.0);
  EXPECT_EQ(m.policy->allow[0].origin.str(), "low.yaml:1");  // entries keep their own lines
  EXPECT_EQ(m.policy->allow[1].origin.str(), "high.yaml:1");
  EXPECT_EQ(m.policy.origin.str(), "cell.yaml:5");
}

TEST(Merge, EntryListsAreReplacedNotUnioned) {
  CellSpec low, high;
  set_field(low, "host_sockets", 1);
  set_field(high, "host_sockets", 2);
  set_field(low, "ingress", 1);
  set_field(high, "ingress", 2);
  CellSpec m = merge(low, high);
  ASSERT_EQ(m.host_sockets->size(), 1u);
  EXPECT_EQ((*m.host_sockets)[0].name, "s2");
  ASSERT_EQ(m.ingress->size(), 1u);
  EXPECT_EQ((*m.ingress)[0].name, "web2");
}

// --- builtin profiles and defaults -------------------------------------------

TEST(Profiles, BuiltinNamesInOrder) {
  EXPECT_EQ(builtin_profiles(), (std::vector<std::string>{"untrusted", "supervised", "dev", "airgapped"}));
  EXPECT_FALSE(builtin_profile("nope"));
  EXPECT_FALSE(builtin_profile("Untrusted"));
}

TEST(Profiles, BuiltinValues) {
  auto u = builtin_profile("untrusted");
  ASSERT_TRUE(u);
  EXPECT_EQ(to_json(*u), (json{{"profile", "untrusted"},
                               {"memory", "1g"},
                               {"cpus", "1"},
                               {"pids_limit", 1000},
                               {"writable_rootfs", false},
                               {"trust_warden_ca", true},
                               {"timeout", "4h"},
                               {"labels", {{"brig.profile", "untrusted"}}}}));
  EXPECT_EQ(u->memory.origin.str(), "profile untrusted");
  EXPECT_TRUE(*builtin_profile("dev")->writable_rootfs);
  EXPECT_EQ(*builtin_profile("dev")->memory, "4g");
  EXPECT_FALSE(*builtin_profile("airgapped")->trust_warden_ca);
  EXPECT_FALSE(builtin_profile("supervised")->timeout.has());
  for (const auto& name : builtin_profiles()) {
    auto p = builtin_profile(name);
    ASSERT_TRUE(p) << name;
    EXPECT_EQ(p->labels->at("brig.profile"), name);
    EXPECT_GE(*p->pids_limit, 1000) << name << ": gVisor counts its own threads";
  }
}

TEST(Profiles, Defaults) {
  CellSpec d = defaults();
  EXPECT_EQ(to_json(d), (json{{"profile", "supervised"},
                              {"runtime", "runsc"},
                              {"workspace_mount", "/work"},
                              {"writable_rootfs", false},
                              {"trust_warden_ca", true},
                              {"pids_limit", 1024}}));
  EXPECT_EQ(d.runtime.origin.str(), "default");
}

TEST(Profiles, UntrustedByNameOrLabel) {
  CellSpec plain, labelled, other;
  labelled.labels.set({{"brig.profile", "untrusted"}}, Origin::profile("x"));
  other.labels.set({{"brig.profile", "dev"}}, Origin::profile("x"));
  EXPECT_TRUE(profile_is_untrusted("untrusted", plain));
  EXPECT_TRUE(profile_is_untrusted("strict", labelled));
  EXPECT_FALSE(profile_is_untrusted("strict", plain));
  EXPECT_FALSE(profile_is_untrusted("strict", other));
}

}  // namespace
}  // namespace brig::spec
