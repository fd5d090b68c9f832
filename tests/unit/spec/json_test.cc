// to_json, Origin::str and Diagnostics: the text forms of a spec and its errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/spec/json.h"
#include "brig/spec/parse.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using testing::cell;
using testing::kFull;

TEST(ToJson, IncludesEverySetField) {
  CellSpec s = cell(kFull);
  nlohmann::json j = to_json(s);
  for (const auto& f : field_names()) EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j.size(), field_names().size());
  EXPECT_EQ(j["cpus"], "2");
  EXPECT_EQ(j["pids_limit"], 1024);
  EXPECT_EQ(j["writable_rootfs"], false);
  EXPECT_EQ(j["env"], (nlohmann::json{{"LOG_LEVEL", "info"}}));
  EXPECT_EQ(j["policy"]["allow"][2],
            (nlohmann::json{{"domain", "api.example.com"}, {"paths", {"/v1/*"}}, {"methods", {"GET", "POST"}}}));
  EXPECT_EQ(j["policy"]["rate_limits"]["default"], (nlohmann::json{{"rate", 100.0}, {"burst", 500.0}}));
  EXPECT_EQ(j["host_sockets"][0], (nlohmann::json{{"name", "pg"},
                                                 {"host_path", "/tmp/pg.sock"},
                                                 {"mount_point", "/run/host/pg.sock"},
                                                 {"mode", "rw"}}));
  EXPECT_EQ(j["host_services"][1], (nlohmann::json{{"name", "llm"}, {"port", 4000}, {"protocol", "http"}}));
  EXPECT_EQ(j["ingress"][0],
            (nlohmann::json{{"name", "web"}, {"port", 8080}, {"path_prefix", "/app"}, {"auth", "bearer"}}));
}

TEST(ToJson, OmitsUnsetFields) {
  nlohmann::json j = to_json(cell("image: x\n"));
  EXPECT_EQ(j, (nlohmann::json{{"image", "x"}}));
}

TEST(ToJson, RoundTripsThroughTheParser) {
  CellSpec s = cell(kFull);
  nlohmann::json j = to_json(s);
  auto again = parse_cell(j.dump(2), "spec.json");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(to_json(*again), j);
}

// A mounted secret as its name, an injected one as an object (a spec holds
// no value), and both read back by the parser.
TEST(ToJson, SecretsInBothForms) {
  CellSpec s = cell(
      "secrets:\n  - openai-key\n"
      "  - {name: llm-key, env: OPENAI_API_KEY, hosts: [api.openai.com, \"*.anthropic.com\"]}\n"
      "  - {name: p, env: P, hosts: [h.example], allow_plaintext: true}\n");
  nlohmann::json j = to_json(s);
  EXPECT_EQ(j["secrets"], nlohmann::json::parse(R"([
    "openai-key",
    {"name": "llm-key", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"], "allow_plaintext": false},
    {"name": "p", "env": "P", "hosts": ["h.example"], "allow_plaintext": true}])"));
  auto again = parse_cell(j.dump(2), "spec.json");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(to_json(*again), j);
}

TEST(ToJson, PolicyKeepsPortsAndCells) {
  auto p = parse_policy("allow: [\"a.com:8443\", {domain: \"b.com:444\", methods: [GET]}]\n"
                        "rate_limits: {cells: {web: {rate: 1, burst: 2}}}\n",
                        "p.yaml");
  ASSERT_TRUE(p) << p.error().message();
  nlohmann::json j = to_json(*p);
  EXPECT_EQ(j["allow"][0], "a.com:8443");
  EXPECT_EQ(j["allow"][1], (nlohmann::json{{"domain", "b.com:444"}, {"methods", {"GET"}}}));
  EXPECT_EQ(j["rate_limits"]["cells"]["web"]["burst"], 2.0);
  EXPECT_FALSE(j["rate_limits"].contains("default"));
  auto again = parse_policy(j.dump(), "p.json");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(to_json(*again), j);
}

TEST(OriginStr, EveryKind) {
  EXPECT_EQ(Origin::file("cell.yaml", 7).str(), "cell.yaml:7");
  EXPECT_EQ(Origin::flag("--memory").str(), "--memory");
  EXPECT_EQ(Origin::profile("untrusted").str(), "profile untrusted");
  EXPECT_EQ(Origin::builtin().str(), "default");
  EXPECT_EQ(Origin().str(), "spec");
}

TEST(Diagnostics, FormatAndToError) {
  Diagnostic with_field{Origin::file("cell.yaml", 3), "memory", "bad"};
  Diagnostic whole{Origin::file("cell.yaml", 1), "", "broken"};
  EXPECT_EQ(with_field.str(), "cell.yaml:3: memory: bad");
  EXPECT_EQ(whole.str(), "cell.yaml:1: broken");
  Error e = to_error({with_field, whole});
  EXPECT_EQ(e.code(), Errc::invalid);
  EXPECT_EQ(e.message(), "cell.yaml:1: broken\ncell.yaml:3: memory: bad");  // file order
  Diagnostic flag{Origin::flag("--memory"), "memory", "bad"};
  EXPECT_EQ(to_error({flag, with_field}).message(), "cell.yaml:3: memory: bad\n--memory: memory: bad");
}

}  // namespace
}  // namespace brig::spec
