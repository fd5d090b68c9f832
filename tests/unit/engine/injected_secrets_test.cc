// Secrets warden injects (a spec's `secrets: [{name, env, hosts}]`) over a
// FakeRunner: the cell's env holds a placeholder and nothing is mounted;
// warden's file holds the value (0400) from before the container starts until
// the cell goes; the value is nowhere else (argv, record, cell.json, inspect,
// errors).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "brig/state/secret_injections.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

constexpr const char* kValue = "sk-live-0123456789";

class InjectedSecrets : public EngineTest {
 protected:
  // c1 with `secrets: [api-key, {name: llm-key, env: OPENAI_API_KEY, hosts: [...]}]`.
  static spec::Resolved with_injected(const std::string& name = "c1") {
    spec::Resolved r = resolved(name);
    spec::SecretList l = spec::secret_files({"api-key", "llm-key"}, spec::Origin::file("cell.yaml", 3));
    l[1].env = "OPENAI_API_KEY";
    l[1].hosts = {"api.openai.com", "*.anthropic.com"};
    r.spec.secrets.set(l, spec::Origin::file("cell.yaml", 2));
    return r;
  }
  void store_secrets() {
    ASSERT_TRUE(spit_secret("api-key"));
    // As `echo VALUE | brig secrets add`: the newline is not injected.
    ASSERT_TRUE(secret_add(paths, "llm-key", std::string(kValue) + "\n").ok());
  }
  std::string injections(const std::string& cell = "c1") const { return state::secret_injections_path(paths, cell); }
  std::vector<state::InjectedSecret> stored(const std::string& cell = "c1") const {
    auto l = state::parse_secret_injections(slurp(injections(cell)), injections(cell));
    EXPECT_TRUE(l.ok()) << l.error().message();
    return l ? *l : std::vector<state::InjectedSecret>{};
  }
  // The placeholder the cell was created with.
  std::string placeholder_in_env() const {
    for (const auto& a : run_argv()) {
      if (a.rfind("OPENAI_API_KEY=", 0) == 0) return a.substr(15);
    }
    return "";
  }
  // Every file under $BRIG_HOME but warden's file and the secrets themselves.
  std::string everything_else() const {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(tmp.path())) {
      if (!e.is_regular_file()) continue;
      const std::string p = e.path().string();
      if (p.rfind(paths.secrets_dir(), 0) == 0 || p.rfind(state::secret_injections_dir(paths), 0) == 0) continue;
      all += slurp(p);
    }
    return all;
  }
};

TEST_F(InjectedSecrets, RunPutsAPlaceholderInTheEnvAndMountsNothingForIt) {
  store_secrets();
  ::testing::internal::CaptureStderr();
  run_ok(with_injected());
  const std::string err = ::testing::internal::GetCapturedStderr();
  const Argv a = run_argv();
  const std::string ph = placeholder_in_env();
  EXPECT_TRUE(std::regex_match(ph, std::regex("brig-secret-llm-key-[0-9a-f]{32}"))) << ph;
  EXPECT_TRUE(has_pair(a, "--env", "OPENAI_API_KEY=" + ph)) << str(a);
  EXPECT_TRUE(has_pair(a, "--volume", paths.secret("api-key") + ":/run/secrets/api-key:ro")) << str(a);
  for (const auto& arg : a) {
    EXPECT_THAT(arg, Not(HasSubstr("llm-key:"))) << "no mount for an injected secret";
    EXPECT_THAT(arg, Not(HasSubstr(kValue))) << "secret value in argv";
  }
  EXPECT_EQ(err,
            "note: secret llm-key is injected by warden for api.openai.com, *.anthropic.com; the cell sees a "
            "placeholder in $OPENAI_API_KEY\n");
}

TEST_F(InjectedSecrets, QuietRunPrintsNoNote) {
  store_secrets();
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_injected(), RunOptions{.detach = true, .quiet = true});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_THAT(err, Not(HasSubstr("note:")));
}

// The fake runner, noting whether warden's file exists when podman makes
// the container (podman run).
class WatchingRunner final : public proc::Runner {
 public:
  WatchingRunner(FakeRunner& fake, std::string file) : fake_(fake), file_(std::move(file)) {}
  Result<proc::Output> run(const proc::Command& cmd) override {
    if (is_cell_run(cmd.argv)) present_at_create = exists(file_);
    return fake_.run(cmd);
  }
  Status spawn_detached(const proc::Command& cmd) override { return fake_.spawn_detached(cmd); }
  bool present_at_create = false;

 private:
  FakeRunner& fake_;
  std::string file_;
};

TEST_F(InjectedSecrets, WardensFileHoldsTheValueBeforeTheContainerStarts) {
  store_secrets();
  WatchingRunner watching(fake, injections());
  Engine watched{watching, paths, HostSeams{&clock, proc_sys}};
  auto rc = watched.run(with_injected(), RunOptions{.detach = true, .quiet = true});
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_TRUE(watching.present_at_create);
  const auto l = stored();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].name, "llm-key");
  EXPECT_EQ(l[0].env, "OPENAI_API_KEY");
  EXPECT_EQ(l[0].value, kValue);  // the trailing newline dropped
  EXPECT_EQ(l[0].placeholder, placeholder_in_env());
  EXPECT_EQ(l[0].hosts, (std::vector<std::string>{"api.openai.com", "*.anthropic.com"}));
  EXPECT_FALSE(l[0].allow_plaintext);
  struct stat st {};
  ASSERT_EQ(::stat(injections().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(st.st_uid, ::geteuid() == 0 ? state::kWardenUid : ::geteuid());
}

// The record, cell.json, the policy, the events: names, variables, hosts
// and the placeholder, never the value.
TEST_F(InjectedSecrets, TheValueIsNowhereButWardensFile) {
  store_secrets();
  run_ok(with_injected());
  EXPECT_THAT(everything_else(), Not(HasSubstr(kValue)));
  auto rec = engine.load_record("c1");
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->injected.size(), 1u);
  EXPECT_EQ(rec->injected[0].placeholder, placeholder_in_env());
  EXPECT_EQ(rec->secrets, (std::vector<std::string>{"api-key"}));
  const auto cell = nlohmann::json::parse(slurp(paths.cell_state("c1") + "/brig/cell.json"));
  EXPECT_EQ(cell["injected_secrets"], nlohmann::json::parse(R"([
    {"name": "llm-key", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"]}])"));
}

TEST_F(InjectedSecrets, InspectShowsTheVariableAndHostsOnly) {
  store_secrets();
  run_ok(with_injected());
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ((*j)["injected_secrets"], nlohmann::json::parse(R"([
    {"name": "llm-key", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"],
     "allow_plaintext": false}])"));
  EXPECT_EQ((*j)["secrets"], (nlohmann::json{"api-key"}));
  for (const auto& m : (*j)["mounts"]) EXPECT_THAT(m["target"].get<std::string>(), Not(HasSubstr("llm-key")));
  EXPECT_THAT(j->dump(), Not(HasSubstr(kValue)));
  EXPECT_THAT(j->dump(), Not(HasSubstr(placeholder_in_env())));
}

TEST_F(InjectedSecrets, EveryRunGetsItsOwnPlaceholder) {
  store_secrets();
  run_ok(with_injected("c1"));
  const std::string first = placeholder_in_env();
  fake.calls.clear();
  fake.on({"podman", "container", "exists"}, out(1));
  run_ok(with_injected("c2"));
  const std::string second = placeholder_in_env();
  EXPECT_NE(first, second);
  EXPECT_EQ(stored("c1")[0].placeholder, first);
  EXPECT_EQ(stored("c2")[0].placeholder, second);
}

// --- refused before any change, or undone ---

TEST_F(InjectedSecrets, AMissingSecretIsRefusedAndNothingIsLeft) {
  ASSERT_TRUE(spit_secret("api-key"));
  auto rc = engine.run(with_injected(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::not_found);
  EXPECT_EQ(rc.error().message(), "secret \"llm-key\" does not exist");
  EXPECT_EQ(rc.error().fix(), "brig secrets add llm-key - < FILE");
  EXPECT_FALSE(called({"podman", "network", "create"}));
  EXPECT_FALSE(exists(paths.cell_state("c1")));
  EXPECT_FALSE(exists(injections()));
}

TEST_F(InjectedSecrets, AValueNoHeaderCanCarryIsRefusedWithoutShowingIt) {
  ASSERT_TRUE(spit_secret("api-key"));
  ASSERT_TRUE(secret_add(paths, "llm-key", "sk-line-one\nsk-line-two\n").ok());
  auto rc = engine.run(with_injected(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), Errc::invalid);
  EXPECT_EQ(rc.error().message(),
            "secret \"llm-key\" cannot be injected into a request header: it holds a line break (only one at the end "
            "is dropped)");
  EXPECT_EQ(rc.error().fix(), "store the value on one line (a FILE holding just it): brig secrets add llm-key - < FILE");
  EXPECT_THAT(rc.error().message() + rc.error().fix(), Not(HasSubstr("sk-line")));
  EXPECT_FALSE(called({"podman", "network", "create"}));
  EXPECT_FALSE(exists(paths.cell_state("c1")));
  EXPECT_FALSE(exists(injections()));
}

TEST_F(InjectedSecrets, AFailedCreateRemovesWardensFile) {
  store_secrets();
  fail_create("Error: bad image\n");
  auto rc = engine.run(with_injected(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_FALSE(exists(injections()));
  expect_no_trace_of_c1();
  nlohmann::json ev;
  for (const auto& line : str_lines(slurp(paths.events_log()))) {
    auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "rollback") ev = j;
  }
  EXPECT_EQ(ev["undone"], (nlohmann::json{"container", "network", "secrets", "policy", "subnet", "state"})) << ev.dump();
  EXPECT_THAT(slurp(paths.events_log()), Not(HasSubstr(kValue)));
}

// --- the cell's life: start rewrites, rm and prune remove ---

TEST_F(InjectedSecrets, StartRewritesTheFileWithTheCurrentValueAndTheSamePlaceholder) {
  store_secrets();
  run_ok(with_injected());
  const std::string ph = placeholder_in_env();
  ASSERT_TRUE(secret_add(paths, "llm-key", "sk-rotated").ok());
  ASSERT_TRUE(state::remove_secret_injections(paths, "c1").ok());  // as after a crash
  ASSERT_TRUE(engine.start("c1").ok());
  const auto l = stored();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].value, "sk-rotated");
  EXPECT_EQ(l[0].placeholder, ph);
}

TEST_F(InjectedSecrets, StartNamesAnInjectedSecretRemovedSinceTheRun) {
  store_secrets();
  run_ok(with_injected());
  std::filesystem::remove(paths.secret("llm-key"));
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
  EXPECT_EQ(st.error().message(), "cell c1 injects secret \"llm-key\", which no longer exists");
  EXPECT_EQ(st.error().fix(), "brig secrets add llm-key - < FILE, then brig cell start c1");
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
}

TEST_F(InjectedSecrets, StartRefusesAValueNoHeaderCanCarry) {
  store_secrets();
  run_ok(with_injected());
  ASSERT_TRUE(secret_add(paths, "llm-key", "").ok());
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "secret \"llm-key\" cannot be injected into a request header: it is empty");
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
}

TEST_F(InjectedSecrets, RmRemovesWardensFile) {
  store_secrets();
  run_ok(with_injected());
  ASSERT_TRUE(exists(injections()));
  auto kept = engine.remove("c1", false);
  ASSERT_TRUE(kept.ok()) << kept.error().message();
  EXPECT_FALSE(exists(injections()));
}

TEST_F(InjectedSecrets, PruneRemovesTheFileOfACellThatIsGone) {
  ASSERT_TRUE(state::store_secret_injections(
                  paths, "ghost",
                  {{"llm-key", "K", state::make_placeholder("llm-key", std::string(16, 'x')), kValue, {"a.com"}, false}})
                  .ok());
  fake.on({"podman", "ps"}, out(0, "[]"));
  auto dry = engine.prune(PruneOptions{.dry_run = true});
  ASSERT_TRUE(dry.ok()) << dry.error().message();
  EXPECT_EQ(dry->removed, (std::vector<std::string>{"injected secrets of ghost"}));
  EXPECT_TRUE(exists(injections("ghost")));
  auto done = engine.prune(PruneOptions{});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_FALSE(exists(injections("ghost")));
}

// --- `brig secrets rm|add` while a running cell injects it ---

TEST_F(InjectedSecrets, ARunningCellThatInjectsASecretUsesIt) {
  store_secrets();
  run_ok(with_injected());
  fake.on({"podman", "ps"}, out(0, kPs));
  auto users = engine.secret_users("llm-key");
  ASSERT_TRUE(users.ok()) << users.error().message();
  EXPECT_EQ(*users, (std::vector<std::string>{"c1"}));
  auto st = secret_rm(paths, "llm-key", *users, false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::exists);
  EXPECT_EQ(st.error().message(), "secret llm-key is used by running cell(s): c1");
  EXPECT_EQ(st.error().fix(), "stop it first (brig cell stop c1), or brig secrets rm llm-key --force");
  EXPECT_TRUE(exists(paths.secret("llm-key")));
  EXPECT_TRUE(secret_rm(paths, "llm-key", *users, true).ok());
  EXPECT_FALSE(exists(paths.secret("llm-key")));
}

// --- preflight says what run would ---

TEST_F(InjectedSecrets, PreflightChecksTheValue) {
  store_secrets();
  bool seen = false;
  for (const auto& c : engine.preflight(with_injected())) {
    if (c.name != "secret llm-key") continue;
    seen = true;
    EXPECT_EQ(c.level, Check::Level::ok);
    EXPECT_EQ(c.detail, "present, injected by warden into $OPENAI_API_KEY for api.openai.com, *.anthropic.com");
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace brig::engine
