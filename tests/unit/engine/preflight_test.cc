// One set of host checks: brig run and brig cell preflight refuse alike.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <vector>
#include <nlohmann/json.hpp>

#include <sched.h>

#include "brig/engine/subnets.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

// What the host check counts: the CPUs this process may run on.
int host_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  return CPU_COUNT(&set);
}

// --- one set of host checks: run and preflight refuse alike ---

TEST_F(EngineTest, RunRefusesASpecWithoutAConcreteFieldBeforeAnyCommand) {
  spec::Resolved r = resolved();
  r.spec.runtime = {};
  auto rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::invalid);
  EXPECT_EQ(rc.error().message(), "the spec reached the engine without runtime (spec::resolve sets it): a bug in brig");
  EXPECT_TRUE(fake.calls.empty()) << all_calls();
  EXPECT_FALSE(exists(paths.cell_state("c1")));
}

// Each bad input: preflight's failing line carries exactly run's error.
TEST_F(EngineTest, PreflightAndRunRefuseTheSameInputWithTheSameMessage) {
  struct Case {
    std::string name;
    std::function<void(spec::Resolved&)> make_bad;
  };
  const std::vector<Case> cases = {
      {"missing secret", [](spec::Resolved& r) { r.spec.secrets.set(spec::secret_files({"nope"}), spec::Origin::flag("--secret")); }},
      {"warden down", [this](spec::Resolved&) { fake.on(kWardenRunning, out(0, "false\n")); }},
      // (brig run hears these two from its podman run; preflight asks podman)
      {"image missing", [this](spec::Resolved&) {
         fake.on({"podman", "image", "exists"}, out(1));
         fake.on(kRun, out(125, "", "Error: localhost/agent:1: image not known\n"));
       }},
      {"name taken", [this](spec::Resolved&) {
         fake.on({"podman", "container", "exists"}, out(0));
         fake.on(kRun, out(125, "", "Error: creating container storage: the container name \"brig-c1\" is already in use\n"));
       }},
      {"runsc network", [this](spec::Resolved&) { save_config(""); }},
      {"more cpus than the host", [](spec::Resolved& r) { r.spec.cpus.set("100000", spec::Origin::flag("--cpus")); }},
      {"no concrete runtime", [](spec::Resolved& r) { r.spec.runtime = {}; }},
      {"secret in env", [this](spec::Resolved& r) {
         ASSERT_TRUE(spit_secret("api-key"));
         r.spec.env.set({{"TOKEN", "s3cr3t"}}, spec::Origin::flag("--env"));
       }},
  };
  for (const auto& c : cases) {
    SetUp();
    spec::Resolved r = resolved();
    c.make_bad(r);
    auto rc = engine.run(r, RunOptions{.detach = true});
    ASSERT_FALSE(rc.ok()) << c.name;
    std::vector<Check> failed;
    for (const auto& check : engine.preflight(r)) {
      if (check.level == Check::Level::fail) failed.push_back(check);
    }
    ASSERT_EQ(failed.size(), 1u) << c.name;
    EXPECT_EQ(failed[0].detail, rc.error().message()) << c.name;
    EXPECT_EQ(failed[0].fix, rc.error().fix()) << c.name;
    EXPECT_FALSE(exists(paths.cell_state("c1"))) << c.name;
  }
}

// A cell whose container is gone (state "missing") still holds its name:
// preflight fails the name check with run's words, and run refuses before
// touching anything.
TEST_F(EngineTest, PreflightFailsANameHeldByACellWithoutAContainer) {
  write_record("c1", 1);  // `podman container exists brig-c1` says no (the fixture)
  std::vector<Check> failed;
  for (const auto& c : engine.preflight(resolved())) {
    if (c.level == Check::Level::fail) failed.push_back(c);
  }
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].name, "name");
  EXPECT_EQ(failed[0].detail, "a cell named \"c1\" already exists");
  EXPECT_EQ(failed[0].fix, "remove it (brig cell rm c1) or pick another name (--name)");
  auto rc = engine.run(resolved(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), failed[0].detail);
  EXPECT_FALSE(called({"podman", "network", "create"}));
  EXPECT_TRUE(exists(paths.cell_state("c1") + "/cell-state.json"));
}

// State a crashed run left (no record) holds the name too; prune clears it.
TEST_F(EngineTest, PreflightFailsANameHeldByLeftoverState) {
  spit(paths.workspace("c1") + "/file", "x");
  std::vector<Check> failed;
  for (const auto& c : engine.preflight(resolved())) {
    if (c.level == Check::Level::fail) failed.push_back(c);
  }
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].name, "name");
  EXPECT_EQ(failed[0].detail, "the name \"c1\" is held by leftover state in " + paths.cell_state("c1"));
  EXPECT_EQ(failed[0].fix, "brig system prune --cells (removes it), or pick another name (--name)");
  // The fix works: prune removes the leftover, and the name is free again.
  fake.on({"podman", "ps"}, out(0, "[]"));
  ASSERT_TRUE(engine.prune(PruneOptions{.cells = true}).ok());
  for (const auto& c : engine.preflight(resolved())) EXPECT_EQ(c.level, Check::Level::ok) << c.name << ": " << c.detail;
}

TEST_F(EngineTest, PreflightOfAGoodSpecPassesEveryCheck) {
  std::string lines;
  for (const auto& c : engine.preflight(resolved())) {
    EXPECT_EQ(c.level, Check::Level::ok) << c.name << ": " << c.detail;
    lines += c.name + ": " + c.detail + "\n";
  }
  EXPECT_EQ(lines,
            "spec: valid (profile supervised)\nruntime: runsc (network host)\nwarden: running\n"
            "image: localhost/agent:1\nname: c1 is free\n");
}

// Invariant 4 before any command: an --env value that is (or holds) any
// stored secret's value is refused, mounted by this cell or not; the error
// names the variable and the secret, never the value.
TEST_F(EngineTest, RunRefusesASecretsValueInTheEnvironment) {
  ASSERT_TRUE(secret_add(paths, "other-key", "sk-other-0123456789\n").ok());
  ASSERT_TRUE(spit_secret("api-key"));
  spec::Resolved r = resolved();
  r.spec.secrets.set(spec::secret_files({"api-key"}), spec::Origin::flag("--secret"));
  r.spec.env.set({{"LOG_LEVEL", "info"}, {"AUTH", "Bearer sk-other-0123456789"}}, spec::Origin::flag("--env"));
  auto rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::invalid);
  EXPECT_EQ(rc.error().message(), "env AUTH holds the value of secret other-key: secrets never go in a cell's environment");
  EXPECT_EQ(rc.error().fix(),
            "drop AUTH from --env (or the file's env:) and mount the secret instead: --secret other-key (the cell reads "
            "/run/secrets/other-key)");
  EXPECT_TRUE(fake.calls.empty()) << all_calls();
  EXPECT_FALSE(exists(paths.cell_state("c1")));

  std::string lines;
  for (const auto& c : engine.preflight(r)) {
    if (c.level == Check::Level::fail) lines += c.name + ": " + c.detail + "\n";
  }
  EXPECT_EQ(lines, "env AUTH: env AUTH holds the value of secret other-key: secrets never go in a cell's environment\n");
}

TEST_F(EngineTest, PreflightPassesAnEnvironmentWithoutSecrets) {
  ASSERT_TRUE(spit_secret("api-key"));
  spec::Resolved r = resolved();
  r.spec.env.set({{"LOG_LEVEL", "info"}, {"NOTE", "s3cr3 is not it"}}, spec::Origin::flag("--env"));
  std::string lines;
  for (const auto& c : engine.preflight(r)) {
    EXPECT_EQ(c.level, Check::Level::ok) << c.name << ": " << c.detail;
    if (c.name == "env") lines += c.name + ": " + c.detail + "\n";
  }
  EXPECT_EQ(lines, "env: 2 variable(s), no secret's value\n");
}

// --cpus is judged against the host (not in spec validation): the error says
// how many CPUs the host has, and where the value came from.
TEST_F(EngineTest, CpusBeyondTheHostSayHowManyItHas) {
  const std::string n = std::to_string(host_cpus());
  spec::Resolved r = resolved();
  r.spec.cpus.set("100000", spec::Origin::flag("--cpus"));
  auto rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::invalid);
  EXPECT_EQ(rc.error().message(), "--cpus: cpus: \"100000\" is more than this host's " + n + " CPUs");
  EXPECT_EQ(rc.error().fix(), "run it again with --cpus " + n + " or less");
  EXPECT_FALSE(called({"podman", "image", "exists"})) << all_calls();

  spec::Origin file{spec::Origin::Kind::file, "cell.yaml", 3};
  r.spec.cpus.set("100000", file);
  rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cell.yaml:3: cpus: \"100000\" is more than this host's " + n + " CPUs");
  EXPECT_EQ(rc.error().fix(), "set cpus: " + n + " or less in cell.yaml");

  r.spec.cpus.set("1", spec::Origin::flag("--cpus"));
  bool seen = false;
  for (const auto& c : engine.preflight(r)) {
    if (c.name != "cpus") continue;
    seen = true;
    EXPECT_EQ(c.level, Check::Level::ok);
    EXPECT_EQ(c.detail, "1 of " + n);
  }
  EXPECT_TRUE(seen);
}

// The fix for a missing image is brig's own verb that makes it.
TEST_F(EngineTest, MissingImageFixIsTheVerbThatMakesIt) {
  fake.on({"podman", "image", "exists"}, out(1));
  fake.on(kRun, out(125, "", "Error: image not known\n"));
  auto fix_for = [this](const std::string& image) {
    spec::Resolved r = resolved();
    r.spec.image.set(image, spec::Origin::flag("IMAGE"));
    auto rc = engine.run(r, RunOptions{.detach = true});
    EXPECT_FALSE(rc.ok()) << image;
    return rc.ok() ? std::string() : rc.error().fix();
  };
  EXPECT_EQ(fix_for("docker.io/library/alpine:3"), "brig image pull docker.io/library/alpine:3");
  EXPECT_EQ(fix_for("localhost/agent:1"), "brig image build DIR -t localhost/agent:1 (the directory with its Containerfile)");
  EXPECT_EQ(fix_for("localhost/brig-busybox:latest"), "scripts/build-images.sh (in brig's source tree)");
  EXPECT_EQ(fix_for("localhost/brig-node:latest"), "scripts/build-images.sh (in brig's source tree)");
}

}  // namespace
}  // namespace brig::engine
