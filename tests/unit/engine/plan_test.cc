// plan_cell: brig run as data. Golden argv and file contents, no I/O.
#include "brig/engine/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace brig::engine {
namespace {

const std::string kHome = "/h";

// A spec as spec::resolve hands it to the engine (profile supervised).
spec::Resolved resolved() {
  spec::Resolved r;
  const auto o = spec::Origin::builtin();
  r.spec.name.set("c1", o);
  r.spec.image.set("localhost/agent:1", o);
  r.spec.command.set({"sh", "-c", "sleep 1000"}, o);
  r.spec.profile.set("supervised", o);
  r.spec.runtime.set("runsc", o);
  r.spec.workspace_mount.set("/work", o);
  r.spec.memory.set("2g", o);
  r.spec.cpus.set("2", o);
  r.spec.pids_limit.set(1024, o);
  r.spec.writable_rootfs.set(false, o);
  r.spec.trust_warden_ca.set(true, o);
  return r;
}

HostFacts facts() {
  HostConfig cfg;
  cfg.runsc_network = "host";
  cfg.ulimits = {"nofile=1024:1024"};
  cfg.runsc_exec_tty = true;  // a runsc without the 2022 quirks (RunscQuirks below)
  cfg.runsc_stat_ok = true;
  return HostFacts{Paths(kHome), cfg, "c1", Subnet{1}, "2026-01-02T03:04:05Z"};
}

RunPlan plan_of(const spec::Resolved& r, const HostFacts& f = facts()) {
  auto p = plan_cell(r, f);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
  return p.ok() ? *p : RunPlan{};
}

// The first `n` arguments of `a` (all of them when it is shorter).
Argv head(const Argv& a, std::size_t n) { return Argv(a.begin(), a.begin() + static_cast<long>(std::min(n, a.size()))); }

TEST(PlanCell, RunscQuirksGetTheShimRuntimeAndThePreloadedStatShim) {
  HostFacts f = facts();
  f.config.runsc_exec_tty = false;
  f.config.runsc_stat_ok = false;
  const RunPlan p = plan_of(resolved(), f);
  const auto& a = p.run_detached;
  auto at = std::find(a.begin(), a.end(), "--runtime");
  ASSERT_NE(at, a.end());
  EXPECT_EQ(*(at + 1), "/h/run/bin/runsc");
  // Still runsc to everything else: runtime flags, the record.
  EXPECT_EQ(p.record.runtime, "runsc");
  EXPECT_NE(std::find(p.run_attached.begin(), p.run_attached.end(), "oci-seccomp"), p.run_attached.end());
  auto file = [&](const std::string& path) -> const PlannedFile* {
    for (const auto& pf : p.files)
      if (pf.path == path) return &pf;
    return nullptr;
  };
  const PlannedFile* so = file("/h/state/c1/brig/libbrig-stat.so");
  ASSERT_NE(so, nullptr);
  EXPECT_EQ(so->content.substr(0, 4), "\x7f" "ELF");
  const PlannedFile* preload = file("/h/state/c1/brig/ld.so.preload");
  ASSERT_NE(preload, nullptr);
  EXPECT_EQ(preload->content, "/run/brig/libbrig-stat.so\n");
  const auto& m = p.container.mounts;
  EXPECT_TRUE(std::any_of(m.begin(), m.end(), [](const Mount& x) {
    return x.source == "/h/state/c1/brig/ld.so.preload" && x.target == "/etc/ld.so.preload" && x.read_only;
  }));
  // A runc cell needs neither.
  spec::Resolved r = resolved();
  r.spec.runtime.set("runc", spec::Origin::builtin());
  const RunPlan runc = plan_of(r, f);
  EXPECT_EQ(*(std::find(runc.run_detached.begin(), runc.run_detached.end(), "--runtime") + 1), "runc");
  EXPECT_EQ(runc.files.size(), 2u);
}

// podman run attaches stdin with --interactive, as the container keeps it.
TEST(PlanCell, InteractiveAndTtyReachTheRunArgv) {
  auto p = plan_cell(resolved(), facts(), Stdio{true, true});
  ASSERT_TRUE(p.ok());
  for (const Argv* a : {&p->run_attached, &p->run_detached}) {
    EXPECT_EQ(std::count(a->begin(), a->end(), "--interactive"), 1);
    EXPECT_EQ(std::count(a->begin(), a->end(), "--tty"), 1);
  }
  const RunPlan plain = plan_of(resolved());
  for (const Argv* a : {&plain.run_attached, &plain.run_detached}) {
    EXPECT_EQ(std::find(a->begin(), a->end(), "--interactive"), a->end());
    EXPECT_EQ(std::find(a->begin(), a->end(), "--tty"), a->end());
  }
}

TEST(PlanCell, NetworkArgv) {
  const RunPlan p = plan_of(resolved());
  EXPECT_EQ(p.network, "brig_net_1");
  EXPECT_EQ(p.network_create, (Argv{"podman", "network", "create", "--internal", "--disable-dns", "--subnet",
                                    "10.60.1.0/24", "--gateway", "10.60.1.1", "--label", "brig.cell=c1", "brig_net_1"}));
  EXPECT_EQ(p.network_connect, (Argv{"podman", "network", "connect", "--ip", "10.60.1.2", "brig_net_1", "brig-warden"}));
}

TEST(PlanCell, RunArgvWithEveryHardeningFlag) {
  const RunPlan p = plan_of(resolved());
  const std::string ca = "/run/brig/ca-bundle.crt";
  const std::string proxy = "http://10.60.1.2:3128";
  const Argv want = {
      "podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host", "run", "-d",
      "--name", "brig-c1", "--hostname", "c1", "--runtime", "runsc", "--cidfile", "/h/state/c1/container.id",
      "--network", "brig_net_1", "--ip", "10.60.1.10", "--mac-address", "02:62:72:67:01:0a", "--dns", "10.60.1.2",
      "--dns-search", ".", "--read-only",
      "--tmpfs", "/tmp:rw,size=256m,noexec,nosuid,nodev", "--tmpfs", "/run:rw,size=64m,noexec,nosuid,nodev",
      "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=/h/run/seccomp-cell.json",
      "--memory", "2g", "--memory-swap", "2g", "--cpus", "2", "--pids-limit", "1024", "--ulimit", "nofile=1024:1024",
      "--volume", "/h/state/c1/workspace:/work:rw", "--volume", "/h/state/c1/brig:/run/brig:ro",
      "--env", "BRIG_CELL=c1", "--env", "CURL_CA_BUNDLE=" + ca, "--env", "HTTPS_PROXY=" + proxy,
      "--env", "HTTP_PROXY=" + proxy, "--env", "NODE_EXTRA_CA_CERTS=" + ca, "--env", "NODE_USE_ENV_PROXY=1",
      "--env", "NO_PROXY=localhost,127.0.0.1",
      "--env", "REQUESTS_CA_BUNDLE=" + ca, "--env", "SSL_CERT_FILE=" + ca, "--env", "http_proxy=" + proxy,
      "--env", "https_proxy=" + proxy, "--env", "no_proxy=localhost,127.0.0.1",
      "--label", "brig.cell=c1", "--label", std::string("brig.version=") + BRIG_VERSION,
      "--workdir", "/work", "--pull", "never", "localhost/agent:1", "sh", "-c", "sleep 1000"};
  EXPECT_EQ(p.run_detached, want);
  // Attached: the same without -d (podman run attaches stdout and stderr).
  Argv attached = want;
  attached.erase(attached.begin() + 6);
  EXPECT_EQ(p.run_attached, attached);
}

TEST(PlanCell, SandboxNetworkNeedsNoNetworkFlag) {
  HostFacts f = facts();
  f.config.runsc_network = "sandbox";
  const RunPlan p = plan_of(resolved(), f);
  EXPECT_EQ(head(p.run_detached, 7), (Argv{"podman", "--runtime-flag", "oci-seccomp", "run", "-d", "--name", "brig-c1"}));
}

TEST(PlanCell, CellJsonIsExactAndHoldsNoHostPath) {
  const RunPlan p = plan_of(resolved());
  ASSERT_EQ(p.files.size(), 2u);
  EXPECT_EQ(p.files[0].path, "/h/state/c1/brig/cell.json");
  EXPECT_EQ(p.files[0].mode, 0644u);
  EXPECT_EQ(p.files[0].content, std::string("{\n"
                                            "  \"airgapped\": false,\n"
                                            "  \"host_services\": [],\n"
                                            "  \"host_sockets\": [],\n"
                                            "  \"injected_secrets\": [],\n"
                                            "  \"name\": \"c1\",\n"
                                            "  \"proxy\": \"http://10.60.1.2:3128\",\n"
                                            "  \"started_at\": \"2026-01-02T03:04:05Z\",\n"
                                            "  \"version\": \"") +
                                    BRIG_VERSION +
                                    "\",\n"
                                    "  \"workspace_mount\": \"/work\"\n"
                                    "}\n");
}

// Host services: each name is warden on the cell's network in its /etc/hosts
// (its resolver says so too), and cell.json says where the cell reaches it.
TEST(PlanCell, HostServicesAreNamedInHostsAndCellJson) {
  spec::Resolved r = resolved();
  spec::HostService db, llm;
  db.name = "db";
  db.port = 5432;
  db.protocol = "tcp";
  llm.name = "llm";
  llm.port = 4000;
  r.spec.host_services.set({db, llm}, spec::Origin::builtin());
  const RunPlan p = plan_of(r);
  auto at = std::find(p.run_detached.begin(), p.run_detached.end(), "--add-host");
  ASSERT_NE(at, p.run_detached.end());
  EXPECT_EQ(*(at + 1), "db.host.brig:10.60.1.2");
  EXPECT_EQ(*(at + 2), "--add-host");
  EXPECT_EQ(*(at + 3), "llm.host.brig:10.60.1.2");
  const auto json = nlohmann::json::parse(p.files[0].content);
  EXPECT_EQ(json["host_services"], nlohmann::json::parse(R"([
      {"name": "db", "port": 5432, "protocol": "tcp", "url": "tcp://db.host.brig:5432"},
      {"name": "llm", "port": 4000, "protocol": "http", "url": "http://llm.host.brig/"}])"));
}

TEST(PlanCell, RecordFile) {
  const RunPlan p = plan_of(resolved());
  ASSERT_EQ(p.files.size(), 2u);
  EXPECT_EQ(p.files[1].path, "/h/state/c1/cell-state.json");
  EXPECT_EQ(p.files[1].mode, 0600u);
  auto rec = record_from_json(nlohmann::json::parse(p.files[1].content));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->name, "c1");
  EXPECT_EQ(rec->image, "localhost/agent:1");
  EXPECT_EQ(rec->runtime, "runsc");
  EXPECT_EQ(rec->runsc_network, "host");
  EXPECT_EQ(rec->subnet.index, 1);
  EXPECT_EQ(rec->workspace, "/h/state/c1/workspace");
  EXPECT_EQ(rec->workspace_mount, "/work");
  EXPECT_EQ(rec->created, "2026-01-02T03:04:05Z");
  EXPECT_EQ(rec->spec["name"], "c1");
  EXPECT_EQ(p.state_dir, "/h/state/c1");
  EXPECT_TRUE(p.make_workspace);
  EXPECT_TRUE(p.trust_ca);
  EXPECT_EQ(p.policy, nlohmann::json::object());
}

TEST(PlanCell, AirgappedCellTrustsNoCaAndItsPolicySaysSo) {
  spec::Resolved r = resolved();
  r.airgapped = true;
  const RunPlan p = plan_of(r);
  EXPECT_FALSE(p.trust_ca);
  EXPECT_EQ(p.policy, (nlohmann::json{{"airgapped", true}}));
  for (const auto& a : p.run_detached) EXPECT_EQ(a.find("ca-bundle"), std::string::npos) << a;
}

TEST(PlanCell, UserWorkspaceSecretsAndRunc) {
  spec::Resolved r = resolved();
  r.spec.workspace.set("/src/proj", spec::Origin::flag("--workspace"));
  r.spec.runtime.set("runc", spec::Origin::flag("--runtime"));
  r.spec.secrets.set(spec::secret_files({"api-key"}), spec::Origin::flag("--secret"));
  r.spec.writable_rootfs.set(true, spec::Origin::flag("--writable-rootfs"));
  const RunPlan p = plan_of(r);
  EXPECT_FALSE(p.make_workspace);
  EXPECT_EQ(p.record.runsc_network, "");
  EXPECT_EQ(head(p.run_detached, 5), (Argv{"podman", "run", "-d", "--name", "brig-c1"}));
  const Argv& a = p.run_detached;
  EXPECT_EQ(std::count(a.begin(), a.end(), "--read-only"), 0);
  auto has = [&](const std::string& x) { return std::find(a.begin(), a.end(), x) != a.end(); };
  EXPECT_TRUE(has("/src/proj:/work:rw"));
  EXPECT_TRUE(has("/h/secrets/api-key:/run/secrets/api-key:ro"));
  EXPECT_TRUE(has("runc"));
}

// --- host sockets: the checked real path mounted, runsc told to allow them ---

spec::Resolved with_sockets() {
  spec::Resolved r = resolved();
  const auto o = spec::Origin::file("cell.yaml", 4);
  r.spec.host_sockets.set({spec::HostSocket{"pg", "/var/run/postgresql/.s.PGSQL.5432", "/run/host/.s.PGSQL.5432", "rw", o},
                           spec::HostSocket{"echo", "/tmp/echo.sock", "/run/host/echo.sock", "ro", o}},
                          o);
  return r;
}

HostFacts facts_with_sockets() {
  HostFacts f = facts();
  f.config.runsc_host_uds = "host-uds=open";
  f.host_sockets = {{"echo", "/tmp/echo.sock", "/tmp/echo.sock", "/run/host/echo.sock", true},
                    {"pg", "/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432",
                     "/run/host/.s.PGSQL.5432", false}};
  return f;
}

TEST(PlanCell, HostSocketsMountTheCheckedRealPathWithTheirMode) {
  const RunPlan p = plan_of(with_sockets(), facts_with_sockets());
  const Argv& a = p.run_detached;
  auto at = std::find(a.begin(), a.end(), "/h/state/c1/brig:/run/brig:ro");
  ASSERT_NE(at, a.end());
  EXPECT_EQ(Argv(at + 1, at + 5), (Argv{"--volume", "/run/postgresql/.s.PGSQL.5432:/run/host/.s.PGSQL.5432:rw",
                                        "--volume", "/tmp/echo.sock:/run/host/echo.sock:ro"}));
  for (const auto& x : a) EXPECT_EQ(x.find("/var/run/postgresql"), std::string::npos) << x;  // never the unchecked path
  // In the spec's order, in the record.
  ASSERT_EQ(p.record.host_sockets.size(), 2u);
  EXPECT_EQ(p.record.host_sockets[0].name, "pg");
  EXPECT_EQ(p.record.host_sockets[0].source, "/run/postgresql/.s.PGSQL.5432");
  EXPECT_FALSE(p.record.host_sockets[0].read_only);
  EXPECT_EQ(p.record.host_sockets[1].name, "echo");
}

TEST(PlanCell, HostSocketsStartWithTheHostUdsFlagAndTheRecordKeepsIt) {
  const RunPlan p = plan_of(with_sockets(), facts_with_sockets());
  EXPECT_EQ(head(p.run_detached, 9), (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host",
                                           "--runtime-flag", "host-uds=open", "run", "-d"}));
  EXPECT_EQ(head(p.run_attached, 9), (Argv{"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host",
                                           "--runtime-flag", "host-uds=open", "run", "--name"}));
  auto rec = record_from_json(nlohmann::json::parse(p.files[1].content));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->runsc_host_uds, "host-uds=open");
  ASSERT_EQ(rec->host_sockets.size(), 2u);
  EXPECT_EQ(rec->host_sockets[0].host_path, "/var/run/postgresql/.s.PGSQL.5432");
  EXPECT_EQ(rec->host_sockets[0].source, "/run/postgresql/.s.PGSQL.5432");
  EXPECT_EQ(rec->host_sockets[0].mount_point, "/run/host/.s.PGSQL.5432");
  EXPECT_TRUE(rec->host_sockets[1].read_only);
  // A cell without host sockets gets no such flag, even on a runsc that has it.
  HostFacts plain = facts_with_sockets();
  plain.host_sockets.clear();
  const RunPlan none = plan_of(resolved(), plain);
  EXPECT_EQ(none.record.runsc_host_uds, "");
  EXPECT_EQ(std::find(none.run_detached.begin(), none.run_detached.end(), "host-uds=open"), none.run_detached.end());
  // Nor a runc cell, which reaches a mounted socket without one.
  spec::Resolved runc = with_sockets();
  runc.spec.runtime.set("runc", spec::Origin::flag("--runtime"));
  EXPECT_EQ(head(plan_of(runc, facts_with_sockets()).run_detached, 3), (Argv{"podman", "run", "-d"}));
}

TEST(PlanCell, CellJsonNamesHostSocketsWithoutTheirHostPaths) {
  const RunPlan p = plan_of(with_sockets(), facts_with_sockets());
  const auto cell = nlohmann::json::parse(p.files[0].content);
  EXPECT_EQ(cell["host_sockets"], nlohmann::json::parse(R"([
    {"name": "pg", "mount_point": "/run/host/.s.PGSQL.5432", "mode": "rw"},
    {"name": "echo", "mount_point": "/run/host/echo.sock", "mode": "ro"}])"));
  EXPECT_EQ(p.files[0].content.find("postgresql/"), std::string::npos);
  EXPECT_EQ(p.files[0].content.find("/tmp/"), std::string::npos);
}

TEST(PlanCell, AHostSocketTheChecksDidNotSeeIsABug) {
  HostFacts f = facts_with_sockets();
  f.host_sockets.pop_back();  // pg
  auto p = plan_cell(with_sockets(), f);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message(), "host socket pg reached the plan unchecked: a bug in brig");
}

// --- injected secrets: a placeholder in the env, nothing mounted ---

const std::string kPlaceholder = "brig-secret-llm-key-0123456789abcdef0123456789abcdef";

spec::Resolved with_injected() {
  spec::Resolved r = resolved();
  spec::SecretList l = spec::secret_files({"api-key", "llm-key"}, spec::Origin::file("cell.yaml", 3));
  l[1].env = "OPENAI_API_KEY";
  l[1].hosts = {"api.openai.com", "*.anthropic.com"};
  r.spec.secrets.set(l, spec::Origin::file("cell.yaml", 2));
  return r;
}

HostFacts facts_with_placeholder() {
  HostFacts f = facts();
  f.placeholders["llm-key"] = kPlaceholder;
  return f;
}

TEST(PlanCell, InjectedSecretIsAPlaceholderInTheEnvAndNoMount) {
  const RunPlan p = plan_of(with_injected(), facts_with_placeholder());
  const Argv& a = p.run_detached;
  auto has = [&](const std::string& x) { return std::find(a.begin(), a.end(), x) != a.end(); };
  EXPECT_TRUE(has("OPENAI_API_KEY=" + kPlaceholder));
  EXPECT_TRUE(has("/h/secrets/api-key:/run/secrets/api-key:ro"));  // the file form stays a mount
  for (const auto& x : a) EXPECT_EQ(x.find("/run/secrets/llm-key"), std::string::npos) << x;
  for (const auto& x : a) EXPECT_EQ(x.find("/h/secrets/llm-key"), std::string::npos) << x;
  // The env var goes in with every other one, in order.
  auto at = std::find(a.begin(), a.end(), "OPENAI_API_KEY=" + kPlaceholder);
  ASSERT_NE(at, a.end());
  EXPECT_EQ(*(at - 1), "--env");
  EXPECT_EQ(p.container.env.at("OPENAI_API_KEY"), kPlaceholder);

  EXPECT_EQ(p.record.secrets, (std::vector<std::string>{"api-key"}));
  ASSERT_EQ(p.record.injected.size(), 1u);
  const InjectedSecretRef& i = p.record.injected[0];
  EXPECT_EQ(i.name, "llm-key");
  EXPECT_EQ(i.env, "OPENAI_API_KEY");
  EXPECT_EQ(i.placeholder, kPlaceholder);
  EXPECT_EQ(i.hosts, (std::vector<std::string>{"api.openai.com", "*.anthropic.com"}));
  EXPECT_FALSE(i.allow_plaintext);
}

// /run/brig/cell.json tells the cell which variable holds which secret's
// placeholder and where it works; the record keeps the placeholder.
TEST(PlanCell, InjectedSecretInCellJsonAndRecord) {
  const RunPlan p = plan_of(with_injected(), facts_with_placeholder());
  const auto cell = nlohmann::json::parse(p.files[0].content);
  EXPECT_EQ(cell["injected_secrets"], nlohmann::json::parse(R"([
    {"name": "llm-key", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"]}])"));
  auto rec = record_from_json(nlohmann::json::parse(p.files[1].content));
  ASSERT_TRUE(rec.ok()) << rec.error().message();
  ASSERT_EQ(rec->injected.size(), 1u);
  EXPECT_EQ(rec->injected[0].placeholder, kPlaceholder);
  EXPECT_EQ(rec->injected[0].hosts, (std::vector<std::string>{"api.openai.com", "*.anthropic.com"}));
  EXPECT_EQ(rec->secrets, (std::vector<std::string>{"api-key"}));
  EXPECT_EQ(rec->spec["secrets"][1]["env"], "OPENAI_API_KEY");
}

// cell-state.json keeps what `cell start` needs to rewrite warden's file
// (the placeholder, the hosts), and a record from before injected secrets
// still reads.
TEST(Record, InjectedSecretsRoundTrip) {
  CellRecord r;
  r.name = "c1";
  r.image = "i";
  r.runtime = "runsc";
  r.workspace = "/w";
  r.workspace_mount = "/work";
  r.injected = {{"llm-key", "OPENAI_API_KEY", kPlaceholder, {"api.openai.com"}, true}};
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["injected_secrets"], nlohmann::json::parse(R"([{"name": "llm-key", "env": "OPENAI_API_KEY",
    "placeholder": "brig-secret-llm-key-0123456789abcdef0123456789abcdef", "hosts": ["api.openai.com"],
    "allow_plaintext": true}])"));
  auto back = record_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->injected.size(), 1u);
  EXPECT_EQ(back->injected[0].name, "llm-key");
  EXPECT_EQ(back->injected[0].env, "OPENAI_API_KEY");
  EXPECT_EQ(back->injected[0].placeholder, kPlaceholder);
  EXPECT_EQ(back->injected[0].hosts, (std::vector<std::string>{"api.openai.com"}));
  EXPECT_TRUE(back->injected[0].allow_plaintext);

  nlohmann::json old = j;
  old.erase("injected_secrets");
  auto before = record_from_json(old);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->injected.empty());
  nlohmann::json damaged = j;
  damaged["injected_secrets"][0].erase("placeholder");
  EXPECT_FALSE(record_from_json(damaged).ok());
}

TEST(PlanCell, InjectedSecretWithoutAPlaceholderIsABug) {
  auto p = plan_cell(with_injected(), facts());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Errc::invalid);
  EXPECT_EQ(p.error().message(), "no placeholder for injected secret llm-key: a bug in brig");
}

// The engine applies no defaults of its own: a field spec::resolve always
// fills is a programming error when missing, named in the error.
TEST(PlanCell, AMissingConcreteFieldIsAnInvalidErrorNamingIt) {
  const std::vector<std::pair<std::string, std::function<void(spec::CellSpec&)>>> fields = {
      {"profile", [](spec::CellSpec& s) { s.profile = {}; }},
      {"runtime", [](spec::CellSpec& s) { s.runtime = {}; }},
      {"workspace_mount", [](spec::CellSpec& s) { s.workspace_mount = {}; }},
      {"writable_rootfs", [](spec::CellSpec& s) { s.writable_rootfs = {}; }},
      {"trust_warden_ca", [](spec::CellSpec& s) { s.trust_warden_ca = {}; }},
  };
  for (const auto& [field, drop] : fields) {
    spec::Resolved r = resolved();
    drop(r.spec);
    auto p = plan_cell(r, facts());
    ASSERT_FALSE(p.ok()) << field;
    EXPECT_EQ(p.error().code(), Errc::invalid) << field;
    EXPECT_EQ(p.error().message(),
              "the spec reached the engine without " + field + " (spec::resolve sets it): a bug in brig");
  }
}

// What spec::resolve hands over passes check_concrete, from the built-in
// profiles and from a user profile that sets nothing.
TEST(PlanCell, EveryResolvedSpecIsConcrete) {
  for (const std::string profile : {"supervised", "untrusted", "dev", "airgapped", "mine"}) {
    spec::Sources src;
    src.flags.image.set("localhost/agent:1", spec::Origin::flag("IMAGE"));
    src.flags.profile.set(profile, spec::Origin::flag("--profile"));
    src.user_profile = [](const std::string& name) -> Result<std::optional<spec::CellSpec>> {
      if (name != "mine") return std::optional<spec::CellSpec>();
      spec::CellSpec s;
      s.profile.set("mine", spec::Origin::profile("mine"));
      return std::optional<spec::CellSpec>(s);
    };
    auto r = spec::resolve(src);
    ASSERT_TRUE(r.ok()) << profile << ": " << r.error().message();
    EXPECT_TRUE(check_concrete(r->spec).ok()) << profile;
    auto p = plan_cell(*r, facts());
    ASSERT_TRUE(p.ok()) << profile;
    // A user profile without pids_limit still gets a limit.
    EXPECT_NE(std::find(p->run_detached.begin(), p->run_detached.end(), "--pids-limit"), p->run_detached.end()) << profile;
  }
}

TEST(PlanCell, NoImageIsAUsageError) {
  spec::Resolved r = resolved();
  r.spec.image = {};
  auto p = plan_cell(r, facts());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Errc::usage);
  EXPECT_EQ(p.error().message(), "no image given");
}

}  // namespace
}  // namespace brig::engine

namespace brig::engine {
namespace {

TEST(PlanCell, APoolMemberRunsTheIdleInitNotItsCommand) {
  HostFacts f = facts();
  f.pool = "web";
  f.idle = true;
  const RunPlan p = plan_of(resolved(), f);
  EXPECT_EQ(p.record.pool, "web");
  EXPECT_FALSE(p.record.claimed);
  EXPECT_EQ(p.container.entrypoint, "/run/brig/idle");
  EXPECT_TRUE(p.container.command.empty());
  auto idle = std::find_if(p.files.begin(), p.files.end(),
                           [](const PlannedFile& pf) { return pf.path == "/h/state/c1/brig/idle"; });
  ASSERT_NE(idle, p.files.end());
  EXPECT_EQ(idle->mode, 0755u);
  EXPECT_EQ(idle->content.substr(0, 4), "\x7f" "ELF");
  EXPECT_EQ(p.run_detached.back(), "localhost/agent:1");
}

}  // namespace
}  // namespace brig::engine
