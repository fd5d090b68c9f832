// brig system verify: invariant 4 (no secret's value in a cell's environment)
// checked against every stored secret, not only the ones a cell mounts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/engine/podman.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

class VerifyTest : public EngineTest {
 protected:
  // Cell c1 runs, mounting `mounted`, with `env` in its container.
  void running_c1(const std::vector<std::string>& mounted, const std::vector<std::string>& env) {
    write_record("c1", 1);
    auto rec = nlohmann::json::parse(slurp(paths.cell_state("c1") + "/cell-state.json"));
    rec["secrets"] = mounted;
    rec["spec"] = {{"runtime", "runsc"}};
    spit(paths.cell_state("c1") + "/cell-state.json", rec.dump(2));
    fake.on(cell_ps_args(true), out(0, kPs));
    nlohmann::json inspect = nlohmann::json::array({{{"OCIRuntime", "runsc"},
                                                     {"NetworkSettings", {{"Networks", {{"brig-c1", nlohmann::json::object()}}}}},
                                                     {"Config", {{"Env", env}}}}});
    fake.on({"podman", "container", "inspect", "brig-c1"}, out(0, inspect.dump()));
    fake.on({"podman", "ps", "--all", "--filter", "network=brig-c1"}, out(0, "brig-c1\nbrig-warden\n"));
  }

  // verify's lines about invariant 4.
  std::vector<std::string> invariant4() {
    auto v = engine.verify();
    EXPECT_TRUE(v.ok()) << (v ? "" : v.error().message());
    std::vector<std::string> lines;
    for (const auto& l : v ? *v : std::vector<std::string>{}) {
      if (l.find("invariant 4") != std::string::npos) lines.push_back(l);
    }
    return lines;
  }
};

TEST_F(VerifyTest, FlagsASecretTheCellDoesNotMount) {
  ASSERT_TRUE(secret_add(paths, "api-key", "sk-api-0123456789").ok());
  ASSERT_TRUE(secret_add(paths, "other-key", "sk-other-0123456789\n").ok());
  running_c1({"api-key"}, {"PATH=/usr/bin:/bin", "LEAK=sk-other-0123456789", "HTTP_PROXY=http://10.60.1.2:3128"});
  const auto lines = invariant4();
  EXPECT_EQ(lines, (std::vector<std::string>{"cell c1: env LEAK holds the value of secret other-key (invariant 4)"}));
  for (const auto& l : lines) EXPECT_THAT(l, Not(HasSubstr("sk-other")));
}

TEST_F(VerifyTest, FlagsAMountedSecretInsideAValue) {
  ASSERT_TRUE(secret_add(paths, "api-key", "sk-api-0123456789").ok());
  running_c1({"api-key"}, {"AUTH=Bearer sk-api-0123456789", "EMPTY=", "NOEQUALS"});
  EXPECT_EQ(invariant4(), (std::vector<std::string>{"cell c1: env AUTH holds the value of secret api-key (invariant 4)"}));
}

TEST_F(VerifyTest, ACleanEnvironmentIsNoViolation) {
  ASSERT_TRUE(secret_add(paths, "api-key", "sk-api-0123456789").ok());
  running_c1({"api-key"}, {"PATH=/usr/bin:/bin", "LOG_LEVEL=info"});
  EXPECT_TRUE(invariant4().empty());
}

}  // namespace
}  // namespace brig::engine
