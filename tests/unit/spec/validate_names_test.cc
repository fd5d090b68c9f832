// validate(): the workspace, names, runtime, command, env, labels, secrets and ingress.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"
#include "unit/spec/validate_test_util.h"

namespace brig::spec {
namespace {

// --- workspace ---------------------------------------------------------------

TEST(ValidateWorkspace, MountRejectsRootBrigPathsAndSystemPaths) {
  const std::string fix = "; use a path such as /work";
  auto mount = [&](const std::string& p) { return err("workspace_mount: \"" + p + "\"\n"); };
  const std::string pre = "cell.yaml:2: workspace_mount: ";
  EXPECT_EQ(mount("/"), pre + "cannot be / (it would hide the whole root filesystem)" + fix);
  EXPECT_EQ(mount("/run/secrets"), pre + "cannot be /run/secrets, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/run/secrets/x"), pre + "cannot be inside /run/secrets, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/run/host"), pre + "cannot be /run/host, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/run/host/x"), pre + "cannot be inside /run/host, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/run/brig"), pre + "cannot be /run/brig, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/run"), pre + "cannot be /run: it would hide /run/secrets, which brig mounts itself" + fix);
  EXPECT_EQ(mount("/etc"), pre + "cannot be the system path /etc" + fix);
  EXPECT_EQ(mount("/usr"), pre + "cannot be the system path /usr" + fix);
  EXPECT_EQ(mount("/usr/local/x"), pre + "cannot be inside the system path /usr" + fix);
  EXPECT_EQ(mount("/proc/self"), pre + "cannot be inside the system path /proc" + fix);
  EXPECT_EQ(mount("/tmp"), pre + "cannot be the system path /tmp" + fix);
  EXPECT_EQ(mount("/home"), pre + "cannot be the system path /home" + fix);
  EXPECT_EQ(mount("/var"), pre + "cannot be the system path /var" + fix);
  // Spellings that normalise onto a forbidden path.
  EXPECT_EQ(mount("//etc/"), pre + "cannot be the system path /etc" + fix);
  EXPECT_EQ(mount("/./run//secrets"), pre + "cannot be /run/secrets, which brig mounts itself" + fix);
}

TEST(ValidateWorkspace, MountMustBeAbsoluteWithoutDotDot) {
  const std::string msg = " must be an absolute path without '..'";
  EXPECT_EQ(err("workspace_mount: work\n"), "cell.yaml:2: workspace_mount: \"work\"" + msg);
  EXPECT_EQ(err("workspace_mount: /work/../etc\n"), "cell.yaml:2: workspace_mount: \"/work/../etc\"" + msg);
  EXPECT_EQ(err("workspace_mount: /..\n"), "cell.yaml:2: workspace_mount: \"/..\"" + msg);
  EXPECT_EQ(err("workspace_mount: \"\"\n"), "cell.yaml:2: workspace_mount: \"\"" + msg);
}

TEST(ValidateWorkspace, MountAcceptsOrdinaryPaths) {
  for (const char* ok : {"/work", "/work/", "/home/agent/work", "/home/agent", "/workspace", "/srv/data", "/tmp/w",
                         "/opt/app", "/run/work"}) {
    expect_ok(std::string("workspace_mount: ") + ok + "\n");
  }
}

TEST(ValidateWorkspace, HostDirectory) {
  FakeProbe probe;
  probe.add("/srv/ws", Kind::directory).add("/srv/file", Kind::file);
  EXPECT_EQ(err("workspace: srv/ws\n"), "cell.yaml:2: workspace: \"srv/ws\" must be an absolute host path");
  EXPECT_EQ(err("workspace: /srv/none\n", with(probe)),
            "cell.yaml:2: workspace: /srv/none does not exist; create it or leave workspace unset");
  EXPECT_EQ(err("workspace: /srv/file\n", with(probe)), "cell.yaml:2: workspace: /srv/file is not a directory");
  expect_ok("workspace: /srv/ws\n", with(probe));
  expect_ok("workspace: /srv/none\n");  // no probe: not checked
}

// --- names, runtime, command, env, labels, secrets ---------------------------

TEST(ValidateNames, CellName) {
  for (const char* ok : {"a", "my-agent", "0cell", "a1-b2", "x-"}) expect_ok(std::string("name: ") + ok + "\n");
  expect_ok("name: " + std::string(63, 'a') + "\n");
  const char* fix = "; use 1-63 lowercase letters, digits and '-', starting with a letter or digit";
  for (const char* bad : {"My-Agent", "-agent", "a_b", "a.b", "a b", ""}) {
    EXPECT_EQ(err(std::string("name: \"") + bad + "\"\n"),
              std::string("cell.yaml:2: name: invalid cell name \"") + bad + "\"" + fix);
  }
  EXPECT_EQ(err("name: " + std::string(64, 'a') + "\n"),
            "cell.yaml:2: name: invalid cell name \"" + std::string(64, 'a') + "\"" + fix);
  for (const char* reserved : {"system", "warden", "ext"}) {
    EXPECT_EQ(err(std::string("name: ") + reserved + "\n"),
              std::string("cell.yaml:2: name: cell name \"") + reserved + "\" is reserved for brig's own use; pick another name");
    EXPECT_FALSE(valid_cell_name(reserved));
  }
  EXPECT_TRUE(valid_cell_name("systems"));
  EXPECT_TRUE(valid_cell_name("abc"));
  EXPECT_FALSE(valid_cell_name("Abc"));
}

// Cell names have their own check and message, not the secret-name rules
// (which accept "My.Agent" and "a_b").
TEST(ValidateNames, CheckCellName) {
  EXPECT_EQ(check_cell_name("my-agent"), std::nullopt);
  EXPECT_EQ(check_cell_name("My.Agent"),
            "invalid cell name \"My.Agent\"; use 1-63 lowercase letters, digits and '-', starting with a letter or "
            "digit");
  EXPECT_EQ(check_secret_name("My.Agent"), std::nullopt);
  EXPECT_EQ(check_cell_name("../x"),
            "invalid cell name \"../x\"; use 1-63 lowercase letters, digits and '-', starting with a letter or digit");
  EXPECT_EQ(check_cell_name("warden"), "cell name \"warden\" is reserved for brig's own use; pick another name");
}

TEST(FieldTest, ValueOr) {
  Field<std::string> f;
  EXPECT_EQ(f.value_or("runsc"), "runsc");
  f.set("runc", Origin::flag("--runtime"));
  EXPECT_EQ(f.value_or("runsc"), "runc");
  Field<bool> b;
  EXPECT_FALSE(b.value_or(false));
  b.set(true, Origin::builtin());
  EXPECT_TRUE(b.value_or(false));
}

TEST(ValidateNames, Runtime) {
  EXPECT_EQ(err("runtime: kata\n"),
            "cell.yaml:2: runtime: unknown runtime \"kata\"; use runsc (gVisor) or, knowingly, runc");
  EXPECT_EQ(err("runtime: runc\n", untrusted()), "cell.yaml:2: runtime: the untrusted profile requires runsc (gVisor)");
  expect_ok("runtime: runc\n");
  expect_ok("runtime: runsc\n", untrusted());
}

TEST(ValidateNames, Command) {
  EXPECT_EQ(err("command: []\n"), "cell.yaml:2: command: is empty; remove it to use the image's default command");
  EXPECT_EQ(err("command: [\"a\\0b\"]\n"), "cell.yaml:2: command: contains a NUL byte");
  expect_ok("command: [sh, -c, \"echo hi\"]\n");
}

TEST(ValidateNames, EnvKeys) {
  const char* fix = "invalid variable name; use letters, digits and '_' not starting with a digit";
  EXPECT_EQ(err("env: {1ABC: x}\n"), std::string("cell.yaml:2: env.1ABC: ") + fix);
  EXPECT_EQ(err("env: {A-B: x}\n"), std::string("cell.yaml:2: env.A-B: ") + fix);
  EXPECT_EQ(err("env: {\"A=B\": x}\n"), std::string("cell.yaml:2: env.A=B: ") + fix);
  EXPECT_EQ(err("env: {\"\": x}\n"), std::string("cell.yaml:2: env.: ") + fix);
  EXPECT_EQ(err("env: {A: \"x\\0y\"}\n"), "cell.yaml:2: env.A: value contains a NUL byte");
  expect_ok("env: {_A1: x, lower_case: y, LOG_LEVEL: \"\"}\n");
}

TEST(ValidateNames, LabelsBrigPrefixIsReserved) {
  EXPECT_EQ(err("labels: {brig.cell: x}\n"),
            "cell.yaml:2: labels.brig.cell: the brig. prefix is reserved for brig's own labels");
  EXPECT_EQ(err("labels: {brig.profile.x: y}\n"),
            "cell.yaml:2: labels.brig.profile.x: the brig. prefix is reserved for brig's own labels");
  expect_ok("labels: {brig.profile: untrusted}\n");  // stricter only: recognised as untrusted
  expect_ok("labels: {team: x, brigade: y, app.brig.io: z}\n");
}

TEST(ValidateNames, LabelKeysAndValues) {
  EXPECT_EQ(err("labels: {\"a=b\": x}\n"), "cell.yaml:2: labels: invalid label key \"a=b\"");
  EXPECT_EQ(err("labels: {\"\": x}\n"), "cell.yaml:2: labels: invalid label key \"\"");
  EXPECT_EQ(err("labels: {\"a\\nb\": x}\n"), "cell.yaml:2: labels: invalid label key \"a\\x0ab\"");
  EXPECT_EQ(err("labels: {team: \"x\\ny\"}\n"), "cell.yaml:2: labels.team: value contains a control character");
}

TEST(ValidateNames, SecretNames) {
  auto secret = [](const std::string& quoted) { return err("secrets: [" + quoted + "]\n"); };
  EXPECT_EQ(secret("\"\""), "cell.yaml:2: secrets: invalid secret name \"\": it is empty");
  EXPECT_EQ(secret("\"a\\0b\""), "cell.yaml:2: secrets: invalid secret name \"a\\x00b\": it contains a NUL byte");
  EXPECT_EQ(secret("\"a\\tb\""), "cell.yaml:2: secrets: invalid secret name \"a\\x09b\": it contains a control character");
  EXPECT_EQ(secret("\"-rf\""), "cell.yaml:2: secrets: invalid secret name \"-rf\": it starts with '-'");
  EXPECT_EQ(secret("a/b"), "cell.yaml:2: secrets: invalid secret name \"a/b\": it contains '/'");
  EXPECT_EQ(secret("/etc/shadow"), "cell.yaml:2: secrets: invalid secret name \"/etc/shadow\": it contains '/'");
  EXPECT_EQ(secret(".."), "cell.yaml:2: secrets: invalid secret name \"..\": it contains '..'");
  EXPECT_EQ(secret("a..b"), "cell.yaml:2: secrets: invalid secret name \"a..b\": it contains '..'");
  EXPECT_EQ(secret("\".\""), "cell.yaml:2: secrets: invalid secret name \".\": it is '.'");
  const std::string big(256, 'k');
  EXPECT_EQ(secret(big), "cell.yaml:2: secrets: invalid secret name \"" + big + "\": it is longer than 255 characters");
  expect_ok("secrets: [openai-key, a.b, A_B, " + std::string(255, 'k') + "]\n");
}

TEST(ValidateNames, DuplicateSecrets) {
  EXPECT_EQ(err("secrets: [a, b, a]\n"), "cell.yaml:2: secrets: secret \"a\" is listed twice");
}

// --- injected secrets: {name, env, hosts, allow_plaintext} ------------------

std::string injected(const std::string& fields) { return "secrets:\n  - a\n  - {" + fields + "}\n"; }

TEST(ValidateSecrets, InjectedFormIsValid) {
  expect_ok(injected("name: llm-key, env: OPENAI_API_KEY, hosts: [api.openai.com, \"*.anthropic.com\"]"));
  expect_ok(injected("name: k, env: _K2, hosts: [internal.example], allow_plaintext: true"));
  expect_ok(injected("name: k, env: K, hosts: [api.x.com]") + "env: {OTHER: v}\n");
}

TEST(ValidateSecrets, EnvMustBeAVariableOfItsOwn) {
  EXPECT_EQ(err(injected("name: k, env: 1KEY, hosts: [a.com]")),
            "cell.yaml:4: secrets[1].env: invalid variable name \"1KEY\"; use letters, digits and '_' not starting "
            "with a digit");
  EXPECT_EQ(err(injected("name: k, env: MY-KEY, hosts: [a.com]")),
            "cell.yaml:4: secrets[1].env: invalid variable name \"MY-KEY\"; use letters, digits and '_' not starting "
            "with a digit");
  // Every variable brig sets itself.
  for (const char* v : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
                        "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "BRIG_CELL",
                        "NODE_USE_ENV_PROXY"}) {
    EXPECT_EQ(err(injected(std::string("name: k, env: ") + v + ", hosts: [a.com]")),
              std::string("cell.yaml:4: secrets[1].env: ") + v +
                  " is set by brig in every cell; pick another variable for secret \"k\"");
  }
  EXPECT_EQ(err(injected("name: k, env: API_KEY, hosts: [a.com]") + "env: {API_KEY: x}\n"),
            "cell.yaml:4: secrets[1].env: API_KEY is also set in env (it would hide the placeholder); remove it from "
            "env or pick another variable");
  EXPECT_EQ(err("secrets:\n  - {name: a, env: K, hosts: [a.com]}\n  - {name: b, env: K, hosts: [b.com]}\n"),
            "cell.yaml:4: secrets[1].env: K already holds the placeholder of secret \"a\"; pick another variable");
}

TEST(ValidateSecrets, HostsAreRequiredAndArePolicyHosts) {
  EXPECT_EQ(err(injected("name: k, env: K")),
            "cell.yaml:4: secrets[1].hosts: secret \"k\" is injected, so it needs the hosts warden may send it to, "
            "e.g. hosts: [api.openai.com]");
  EXPECT_EQ(err(injected("name: k, env: K, hosts: []")),
            "cell.yaml:4: secrets[1].hosts: secret \"k\" is injected, so it needs the hosts warden may send it to, "
            "e.g. hosts: [api.openai.com]");
  EXPECT_EQ(err(injected("name: k, env: K, hosts: [a.com, \"https://api.openai.com/v1\"]")),
            "cell.yaml:4: secrets[1].hosts[1]: \"https://api.openai.com/v1\" is a URL; give a host, not a URL: "
            "api.openai.com");
  EXPECT_EQ(err(injected("name: k, env: K, hosts: [\"api.a.com:8443\"]")),
            "cell.yaml:4: secrets[1].hosts[0]: \"api.a.com:8443\" names a port: list the host alone (the policy "
            "decides the ports)");
  auto bad_host = errs(injected("name: k, env: K, hosts: [\"a b.com\"]"));
  ASSERT_EQ(bad_host.size(), 1u);
  EXPECT_THAT(bad_host[0], ::testing::StartsWith("cell.yaml:4: secrets[1].hosts[0]: "));
}

TEST(ValidateSecrets, NamesAndDuplicatesAcrossBothForms) {
  EXPECT_EQ(err(injected("name: a, env: K, hosts: [a.com]")), "cell.yaml:4: secrets: secret \"a\" is listed twice");
  EXPECT_EQ(err(injected("name: a/b, env: K, hosts: [a.com]")),
            "cell.yaml:4: secrets: invalid secret name \"a/b\": it contains '/'");
}

TEST(ValidateSecrets, AirgappedCellsHaveNothingToInjectInto) {
  EXPECT_EQ(err(injected("name: k, env: K, hosts: [a.com]"), airgapped()),
            "cell.yaml:4: secrets: the airgapped profile allows no egress, so warden has no request to inject secret "
            "\"k\" into; list just its name to mount it at /run/secrets/k");
  expect_ok("secrets: [k]\n", airgapped());
}

// The one list of brig's own variables (spec/validate.h), which the engine sets.
TEST(ValidateSecrets, BrigSetsEnv) {
  EXPECT_TRUE(brig_sets_env("HTTPS_PROXY"));
  EXPECT_TRUE(brig_sets_env("BRIG_CELL"));
  EXPECT_TRUE(brig_sets_env("NODE_USE_ENV_PROXY"));
  EXPECT_FALSE(brig_sets_env("OPENAI_API_KEY"));
  EXPECT_FALSE(brig_sets_env("https_proxy_x"));
}

TEST(ValidateNames, CheckSecretNameDirectly) {
  EXPECT_EQ(check_secret_name(""), "it is empty");
  EXPECT_EQ(check_secret_name(std::string_view("a\0b", 3)), "it contains a NUL byte");
  EXPECT_EQ(check_secret_name("ok-name"), std::nullopt);
}

TEST(ValidateNames, WritableRootfs) {
  EXPECT_EQ(err("writable_rootfs: true\n", untrusted()),
            "cell.yaml:2: writable_rootfs: the untrusted profile keeps the root filesystem read-only; write to the "
            "workspace, /tmp or /run instead");
  EXPECT_EQ(err("writable_rootfs: true\n", airgapped()),
            "cell.yaml:2: writable_rootfs: the airgapped profile keeps the root filesystem read-only; write to the "
            "workspace, /tmp or /run instead");
  expect_ok("writable_rootfs: true\n");
  expect_ok("writable_rootfs: false\n", untrusted());
}

// --- ingress -----------------------------------------------------------------

TEST(ValidateIngress, Rules) {
  EXPECT_EQ(err("ingress: [{name: Web, port: 8080}]\n"),
            "cell.yaml:2: ingress[0].name: invalid name \"Web\"; use 1-31 lowercase letters, digits and '-'");
  EXPECT_EQ(err("ingress: [{name: web, port: 8080}, {name: web, port: 8081, path_prefix: /b}]\n"),
            "cell.yaml:2: ingress[1].name: duplicate ingress name \"web\"");
  EXPECT_EQ(err("ingress: [{name: web, port: 0}]\n"), "cell.yaml:2: ingress[0].port: 0 is not a port (1-65535)");
  EXPECT_EQ(err("ingress: [{name: web, port: 65536}]\n"),
            "cell.yaml:2: ingress[0].port: 65536 is not a port (1-65535)");
  EXPECT_EQ(err("ingress: [{name: web, port: 80, path_prefix: api}]\n"),
            "cell.yaml:2: ingress[0].path_prefix: \"api\" must be a path starting with '/'");
  EXPECT_EQ(err("ingress: [{name: web, port: 80, path_prefix: /a/../b}]\n"),
            "cell.yaml:2: ingress[0].path_prefix: \"/a/../b\" must be a path starting with '/'");
  EXPECT_EQ(err("ingress: [{name: a, port: 80, path_prefix: /x}, {name: b, port: 81, path_prefix: /x}]\n"),
            "cell.yaml:2: ingress[1].path_prefix: another ingress route already uses \"/x\"");
  EXPECT_EQ(err("ingress: [{name: web, port: 80, auth: none}]\n"),
            "cell.yaml:2: ingress[0].auth: unsupported auth \"none\"; ingress always requires auth: bearer");
  expect_ok("ingress: [{name: web, port: 8080}, {name: api, port: 9000, path_prefix: /api}]\n");
}

// warden's route table holds at most 16 routes per cell.
TEST(ValidateIngress, AtMostSixteenRoutes) {
  auto routes = [](int n) {
    std::string y = "ingress:\n";
    for (int i = 0; i < n; ++i) {
      y += "  - {name: r" + std::to_string(i) + ", port: 80, path_prefix: /p" + std::to_string(i) + "}\n";
    }
    return y;
  };
  expect_ok(routes(16));
  EXPECT_EQ(err(routes(17)), "cell.yaml:3: ingress: 17 routes; a cell may declare at most 16");
}

}  // namespace
}  // namespace brig::spec
