// parse_cell / parse_profile: shape, types, unknown keys, lines. Policy
// documents are in parse_policy_test.cc, the JSON form in json_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/spec/json.h"
#include "brig/spec/parse.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using testing::cell;
using testing::kFull;
using testing::parse_error;

TEST(ParseCell, FullExampleFillsEveryField) {
  CellSpec s = cell(kFull);
  EXPECT_EQ(*s.name, "my-agent");
  EXPECT_EQ(*s.image, "localhost/agent:latest");
  EXPECT_EQ(*s.image_digest, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_EQ(*s.command, (StringList{"agent", "serve"}));
  EXPECT_EQ(*s.env, (StringMap{{"LOG_LEVEL", "info"}}));
  EXPECT_EQ(*s.profile, "supervised");
  EXPECT_EQ(*s.runtime, "runsc");
  EXPECT_EQ(*s.memory, "2g");
  EXPECT_EQ(*s.cpus, "2");
  EXPECT_EQ(*s.pids_limit, 1024);
  EXPECT_EQ(*s.workspace, "/srv/agent");
  EXPECT_EQ(*s.workspace_mount, "/work");
  EXPECT_EQ(*s.workspace_quota, "10g");
  EXPECT_FALSE(*s.writable_rootfs);
  EXPECT_TRUE(*s.trust_warden_ca);
  ASSERT_EQ(s.secrets->size(), 1u);
  EXPECT_EQ((*s.secrets)[0].name, "openai-key");
  EXPECT_FALSE((*s.secrets)[0].injected());
  EXPECT_EQ(*s.timeout, "2h");
  EXPECT_EQ(*s.labels, (StringMap{{"team", "x"}}));

  const PolicyBlock& p = *s.policy;
  ASSERT_EQ(p.allow.size(), 3u);
  EXPECT_EQ(p.allow[0].domain, "api.github.com");
  EXPECT_EQ(p.allow[1].domain, "*.amazonaws.com");
  EXPECT_EQ(p.allow[2].domain, "api.example.com");
  EXPECT_EQ(p.allow[2].paths, (StringList{"/v1/*"}));
  EXPECT_EQ(p.allow[2].methods, (StringList{"GET", "POST"}));
  ASSERT_EQ(p.deny.size(), 1u);
  EXPECT_EQ(p.deny[0].domain, "evil.example");
  ASSERT_EQ(p.tls_passthrough.size(), 1u);
  EXPECT_EQ(p.tls_passthrough[0].domain, "chatgpt.com");
  ASSERT_TRUE(p.rate_default);
  EXPECT_EQ(p.rate_default->rate, 100);
  EXPECT_EQ(p.rate_default->burst, 500);

  ASSERT_EQ(s.ingress->size(), 1u);
  EXPECT_EQ((*s.ingress)[0].name, "web");
  EXPECT_EQ((*s.ingress)[0].port, 8080);
  EXPECT_EQ((*s.ingress)[0].path_prefix, "/app");
  EXPECT_EQ((*s.ingress)[0].auth, "bearer");
  ASSERT_EQ(s.host_services->size(), 2u);
  EXPECT_EQ((*s.host_services)[0].name, "db");
  EXPECT_EQ((*s.host_services)[0].port, 5432);
  EXPECT_EQ((*s.host_services)[0].protocol, "tcp");
  EXPECT_EQ((*s.host_services)[1].protocol, "http");  // the default
  ASSERT_EQ(s.host_sockets->size(), 1u);
  EXPECT_EQ((*s.host_sockets)[0].name, "pg");
  EXPECT_EQ((*s.host_sockets)[0].host_path, "/tmp/pg.sock");
  EXPECT_EQ((*s.host_sockets)[0].mount_point, "/run/host/pg.sock");
  EXPECT_EQ((*s.host_sockets)[0].mode, "rw");
}

TEST(ParseCell, OriginsCarryFileAndLine) {
  CellSpec s = cell(kFull);
  EXPECT_EQ(s.name.origin.str(), "cell.yaml:1");
  EXPECT_EQ(s.memory.origin.str(), "cell.yaml:8");
  EXPECT_EQ(s.memory.origin.kind, Origin::Kind::file);
  EXPECT_EQ(s.memory.origin.where, "cell.yaml");
  EXPECT_EQ(s.memory.origin.line, 8);
  EXPECT_EQ(s.timeout.origin.str(), "cell.yaml:17");
  EXPECT_EQ(s.policy->allow[0].origin.str(), "cell.yaml:21");
  EXPECT_EQ(s.policy->allow[2].origin.str(), "cell.yaml:23");
  EXPECT_EQ(s.policy->deny[0].origin.str(), "cell.yaml:24");
  EXPECT_EQ(s.policy->tls_passthrough[0].origin.str(), "cell.yaml:25");
  EXPECT_EQ(s.policy->rate_default->origin.str(), "cell.yaml:26");
  EXPECT_EQ((*s.ingress)[0].origin.str(), "cell.yaml:28");
  EXPECT_EQ((*s.host_services)[1].origin.str(), "cell.yaml:31");
  EXPECT_EQ((*s.host_sockets)[0].origin.str(), "cell.yaml:33");
}

TEST(ParseCell, UnsetFieldsStayUnset) {
  CellSpec s = cell("image: x\n");
  EXPECT_TRUE(s.image.has());
#define BRIG_EXPECT_UNSET(f) \
  if (std::string(#f) != "image") {    \
    EXPECT_FALSE(s.f.has()) << #f;       \
  }
  BRIG_CELL_SPEC_FIELDS(BRIG_EXPECT_UNSET)
#undef BRIG_EXPECT_UNSET
}

TEST(ParseCell, EmptyDocumentIsAnEmptySpec) {
  CellSpec s = cell("");
  EXPECT_FALSE(s.image.has());
  CellSpec c = cell("# only a comment\n");
  EXPECT_FALSE(c.name.has());
}

TEST(ParseCell, FieldNamesListsEveryTopLevelKey) {
  EXPECT_EQ(field_names(),
            (std::vector<std::string>{"name", "image", "image_digest", "command", "env", "profile", "runtime",
                                      "memory", "cpus", "pids_limit", "workspace", "workspace_mount",
                                      "workspace_quota", "writable_rootfs", "trust_warden_ca", "secrets", "timeout",
                                      "labels", "policy", "ingress", "host_services", "host_sockets"}));
}

// --- numbers normalised to strings -------------------------------------------

TEST(ParseCell, CpusIntsAndFloatsAreNormalised) {
  EXPECT_EQ(*cell("cpus: 4\n").cpus, "4");
  EXPECT_EQ(*cell("cpus: 1.50\n").cpus, "1.5");
  EXPECT_EQ(*cell("cpus: 2.0\n").cpus, "2");
  EXPECT_EQ(*cell("cpus: \"2\"\n").cpus, "2");
  EXPECT_EQ(*cell("cpus: '0.50'\n").cpus, "0.5");
  EXPECT_EQ(*cell("cpus: .5\n").cpus, "0.5");
  EXPECT_EQ(*cell("cpus: lots\n").cpus, "lots");
}

TEST(ParseCell, MemoryAndQuotaNumbersAreNormalisedAndUnitsKept) {
  EXPECT_EQ(*cell("memory: 2g\n").memory, "2g");
  EXPECT_EQ(*cell("memory: 1.5G\n").memory, "1.5G");
  EXPECT_EQ(*cell("memory: 1073741824\n").memory, "1073741824");
  EXPECT_EQ(*cell("memory: 2.0\n").memory, "2");
  EXPECT_EQ(*cell("workspace_quota: 10.0\n").workspace_quota, "10");
  EXPECT_EQ(*cell("workspace_quota: 10g\n").workspace_quota, "10g");
}

// --- unknown keys ------------------------------------------------------------

TEST(ParseCell, UnknownTopLevelKeyWithDidYouMean) {
  EXPECT_EQ(parse_error("image: x\nmemroy: 2g\n"),
            "cell.yaml:2: unknown key \"memroy\"; did you mean \"memory\"?");
  EXPECT_EQ(parse_error("image: x\nhost_socket: []\n"),
            "cell.yaml:2: unknown key \"host_socket\"; did you mean \"host_sockets\"?");
  EXPECT_EQ(parse_error("imag: x\n"), "cell.yaml:1: unknown key \"imag\"; did you mean \"image\"?");
}

TEST(ParseCell, UnknownTopLevelKeyWithoutCloseMatchListsKnownKeys) {
  EXPECT_EQ(parse_error("image: x\nzzzzzzzz: 1\n"),
            "cell.yaml:2: unknown key \"zzzzzzzz\"; known keys: name, image, image_digest, command, env, profile, "
            "runtime, memory, cpus, pids_limit, workspace, workspace_mount, workspace_quota, writable_rootfs, "
            "trust_warden_ca, secrets, timeout, labels, policy, ingress, host_services, host_sockets");
}

TEST(ParseCell, UnknownNestedKeysWithDidYouMean) {
  EXPECT_EQ(parse_error("image: x\npolicy:\n  alow: [a.com]\n"),
            "cell.yaml:3: policy: unknown key \"alow\"; did you mean \"allow\"?");
  EXPECT_EQ(parse_error("policy:\n  rate_limits:\n    default: {rate: 1, brust: 2}\n"),
            "cell.yaml:3: policy.rate_limits.default: unknown key \"brust\"; did you mean \"burst\"?");
  EXPECT_EQ(parse_error("policy:\n  rate_limits: {defualt: {rate: 1}}\n"),
            "cell.yaml:2: policy.rate_limits: unknown key \"defualt\"; did you mean \"default\"?");
  EXPECT_EQ(parse_error("policy:\n  allow:\n    - {domian: a.com}\n"),
            "cell.yaml:3: policy.allow[0]: unknown key \"domian\"; did you mean \"domain\"?\n"
            "cell.yaml:3: policy.allow[0]: missing key \"domain\"");
  EXPECT_EQ(parse_error("ingress:\n  - {name: web, prot: 8080}\n"),
            "cell.yaml:2: ingress[0]: unknown key \"prot\"; did you mean \"port\"?\n"
            "cell.yaml:2: ingress[0]: missing key \"port\"");
  EXPECT_EQ(parse_error("host_services:\n  - {name: db, port: 5432, protocl: tcp}\n"),
            "cell.yaml:2: host_services[0]: unknown key \"protocl\"; did you mean \"protocol\"?");
  EXPECT_EQ(parse_error("host_sockets:\n"
                        "  - name: pg\n"
                        "    host_path: /tmp/pg.sock\n"
                        "    mount_point: /run/host/pg.sock\n"
                        "    mdoe: rw\n"),
            "cell.yaml:5: host_sockets[0]: unknown key \"mdoe\"; did you mean \"mode\"?");
}

TEST(ParseCell, DuplicateKeysAreErrors) {
  EXPECT_EQ(parse_error("image: x\nmemory: 1g\nmemory: 2g\n"), "cell.yaml:3: memory: key appears twice");
  EXPECT_EQ(parse_error("env:\n  A: 1\n  A: 2\n"), "cell.yaml:3: env: duplicate key \"A\"");
}

// --- types -------------------------------------------------------------------

TEST(ParseCell, TypeErrorsNameTheFieldAndLine) {
  EXPECT_EQ(parse_error("image: x\nmemory: [1]\n"), "cell.yaml:2: memory: expected a size like 2g, got a list");
  EXPECT_EQ(parse_error("image: x\ncpus: {a: 1}\n"),
            "cell.yaml:2: cpus: expected a number of CPUs, got a mapping");
  EXPECT_EQ(parse_error("image: [x]\n"), "cell.yaml:1: image: expected an image reference, got a list");
  EXPECT_EQ(parse_error("name: {a: b}\n"), "cell.yaml:1: name: expected a cell name, got a mapping");
  EXPECT_EQ(parse_error("image: x\npids_limit: lots\n"),
            "cell.yaml:2: pids_limit: expected an integer, got \"lots\"");
  EXPECT_EQ(parse_error("pids_limit: 10.5\n"), "cell.yaml:1: pids_limit: expected an integer, got \"10.5\"");
  EXPECT_EQ(parse_error("pids_limit: [1]\n"), "cell.yaml:1: pids_limit: expected an integer, got a list");
  EXPECT_EQ(parse_error("writable_rootfs: yes\n"),
            "cell.yaml:1: writable_rootfs: expected true or false, got \"yes\"");
  EXPECT_EQ(parse_error("trust_warden_ca: 1\n"), "cell.yaml:1: trust_warden_ca: expected true or false, got \"1\"");
  EXPECT_EQ(parse_error("command: agent serve\n"),
            "cell.yaml:1: command: expected a list like [\"sh\", \"-c\", \"...\"], got a string");
  EXPECT_EQ(parse_error("command: [a, [b]]\n"), "cell.yaml:1: command[1]: expected a string, got a list");
  EXPECT_EQ(parse_error("env: [A]\n"), "cell.yaml:1: env: expected a mapping of names to values, got a list");
  EXPECT_EQ(parse_error("env:\n  A: [1]\n"), "cell.yaml:2: env.A: expected a string value, got a list");
  EXPECT_EQ(parse_error("labels: x\n"), "cell.yaml:1: labels: expected a mapping of names to values, got a scalar");
  EXPECT_EQ(parse_error("secrets: openai-key\n"), "cell.yaml:1: secrets: expected a list of secret names or {name, env, hosts} mappings, got a scalar");
  EXPECT_EQ(parse_error("secrets:\n  - a\n  - [b]\n"),
            "cell.yaml:3: secrets[1]: expected a secret name or a mapping {name, env, hosts}, got a list");
  EXPECT_EQ(parse_error("timeout: [2h]\n"), "cell.yaml:1: timeout: expected a duration like 2h, got a list");
  EXPECT_EQ(parse_error("workspace_mount: {}\n"),
            "cell.yaml:1: workspace_mount: expected an absolute path, got a mapping");
  EXPECT_EQ(parse_error("runtime: [runc]\n"), "cell.yaml:1: runtime: expected runsc or runc, got a list");
  EXPECT_EQ(parse_error("policy: [a.com]\n"), "cell.yaml:1: policy: expected a mapping, got a list");
  EXPECT_EQ(parse_error("policy:\n  allow: a.com\n"),
            "cell.yaml:2: policy.allow: expected a list of domains, got a scalar");
  EXPECT_EQ(parse_error("policy:\n  deny: {a: b}\n"),
            "cell.yaml:2: policy.deny: expected a list of domains, got a mapping");
  EXPECT_EQ(parse_error("policy:\n  tls_passthrough: [[a.com]]\n"),
            "cell.yaml:2: policy.tls_passthrough[0]: expected a domain, got a list");
  EXPECT_EQ(parse_error("ingress: {name: web}\n"), "cell.yaml:1: ingress: expected a list, got a mapping");
  EXPECT_EQ(parse_error("host_services:\n  - db\n"), "cell.yaml:2: host_services[0]: expected a mapping, got a scalar");
  EXPECT_EQ(parse_error("host_services:\n  - {name: db, port: http}\n"),
            "cell.yaml:2: host_services[0].port: expected an integer, got \"http\"");
  EXPECT_EQ(parse_error("host_sockets: /tmp/pg.sock\n"), "cell.yaml:1: host_sockets: expected a list, got a scalar");
}

// `secrets:` holds names (mounted) and mappings (injected by warden), each
// entry with its own line.
TEST(ParseCell, SecretsInBothForms) {
  CellSpec s = cell(
      "secrets:\n"
      "  - openai-key\n"
      "  - {name: llm-key, env: OPENAI_API_KEY, hosts: [api.openai.com, \"*.anthropic.com\"]}\n"
      "  - name: plain\n"
      "    env: PLAIN_KEY\n"
      "    hosts: [internal.example]\n"
      "    allow_plaintext: true\n"
      "  - {name: mapped}\n");
  ASSERT_EQ(s.secrets->size(), 4u);
  const SecretRef& file = (*s.secrets)[0];
  EXPECT_EQ(file.name, "openai-key");
  EXPECT_FALSE(file.injected());
  EXPECT_EQ(file.origin.str(), "cell.yaml:2");
  const SecretRef& llm = (*s.secrets)[1];
  EXPECT_EQ(llm.name, "llm-key");
  EXPECT_EQ(llm.env, "OPENAI_API_KEY");
  EXPECT_EQ(llm.hosts, (StringList{"api.openai.com", "*.anthropic.com"}));
  EXPECT_FALSE(llm.allow_plaintext);
  EXPECT_TRUE(llm.injected());
  EXPECT_EQ(llm.origin.str(), "cell.yaml:3");
  const SecretRef& plain = (*s.secrets)[2];
  EXPECT_EQ(plain.env, "PLAIN_KEY");
  EXPECT_TRUE(plain.allow_plaintext);
  EXPECT_EQ(plain.origin.str(), "cell.yaml:4");
  // A mapping with just a name is the file form.
  EXPECT_FALSE((*s.secrets)[3].injected());
  EXPECT_EQ((*s.secrets)[3].name, "mapped");
}

TEST(ParseCell, SecretMappingShapeErrors) {
  auto one = [](const std::string& entry) { return parse_error("image: x\nsecrets:\n  - " + entry + "\n"); };
  EXPECT_EQ(one("{name: k, env: K, hosts: [a.com], host: b.com}"),
            "cell.yaml:3: secrets[0]: unknown key \"host\"; did you mean \"hosts\"?");
  EXPECT_EQ(one("{env: K, hosts: [a.com]}"), "cell.yaml:3: secrets[0]: missing key \"name\"");
  EXPECT_EQ(one("{name: k, hosts: [a.com]}"),
            "cell.yaml:3: secrets[0]: hosts only goes with env (warden injects such a secret into requests to its "
            "hosts); add env: VARIABLE, or give just the name to mount it at /run/secrets/NAME");
  EXPECT_EQ(one("{name: k, allow_plaintext: false}"),
            "cell.yaml:3: secrets[0]: allow_plaintext only goes with env (warden injects such a secret into requests "
            "to its hosts); add env: VARIABLE, or give just the name to mount it at /run/secrets/NAME");
  EXPECT_EQ(one("{name: k, env: \"\", hosts: [a.com]}"),
            "cell.yaml:3: secrets[0].env: is empty; give the variable that holds the placeholder, e.g. env: "
            "OPENAI_API_KEY");
  EXPECT_EQ(one("{name: k, env: [K], hosts: [a.com]}"),
            "cell.yaml:3: secrets[0].env: expected a variable name, got a list");
  EXPECT_EQ(one("{name: k, env: K, hosts: a.com}"), "cell.yaml:3: secrets[0].hosts: expected a list, got a scalar");
  EXPECT_EQ(one("{name: k, env: K, hosts: [a.com], allow_plaintext: yes}"),
            "cell.yaml:3: secrets[0].allow_plaintext: expected true or false, got \"yes\"");
  EXPECT_EQ(one("{name: [k]}"), "cell.yaml:3: secrets[0].name: expected a secret name, got a list");
  // The line of the entry's key, in block style.
  EXPECT_EQ(parse_error("secrets:\n  - a\n  - name: k\n    env: K\n    hostz: [a.com]\n"),
            "cell.yaml:5: secrets[1]: unknown key \"hostz\"; did you mean \"hosts\"?");
}

TEST(ParseCell, AnEmptyValueIsReportedOnItsKeysLine) {
  // yaml-cpp marks an implicit null at the next token; the message must not
  // point at the following key (or past the end of the file).
  EXPECT_EQ(parse_error("image: x\nsecrets:\n"), "cell.yaml:2: secrets: expected a list of secret names or {name, env, hosts} mappings, got nothing");
  EXPECT_EQ(parse_error("secrets:\nmemory: 1g\n"), "cell.yaml:1: secrets: expected a list of secret names or {name, env, hosts} mappings, got nothing");
  EXPECT_EQ(parse_error("image: x\npolicy:\n  allow:\n  deny: []\n"),
            "cell.yaml:3: policy.allow: expected a list of domains, got nothing");
  EXPECT_EQ(parse_error("image: ~\n"), "cell.yaml:1: image: expected an image reference, got nothing");
}

TEST(ParseCell, OutOfRangeIntegersInEntriesAreErrorsNotTruncated) {
  // 2^32 + 8080 must not wrap around to port 8080.
  EXPECT_EQ(parse_error("ingress:\n  - {name: web, port: 4294975376}\n"),
            "cell.yaml:2: ingress[0].port: 4294975376 is out of range");
  EXPECT_EQ(parse_error("pids_limit: 99999999999999999999\n"),
            "cell.yaml:1: pids_limit: expected an integer, got \"99999999999999999999\"");
}

TEST(ParseCell, MissingRequiredEntryKeys) {
  EXPECT_EQ(parse_error("host_sockets:\n  - {name: pg, mount_point: /run/host/pg.sock}\n"),
            "cell.yaml:2: host_sockets[0]: missing key \"host_path\"");
  EXPECT_EQ(parse_error("host_sockets:\n  - {name: pg, host_path: /tmp/pg.sock}\n"),
            "cell.yaml:2: host_sockets[0]: missing key \"mount_point\"");
  EXPECT_EQ(parse_error("host_services:\n  - {port: 5432}\n"), "cell.yaml:2: host_services[0]: missing key \"name\"");
  EXPECT_EQ(parse_error("ingress:\n  - {name: web}\n"), "cell.yaml:2: ingress[0]: missing key \"port\"");
  EXPECT_EQ(parse_error("policy:\n  allow:\n    - {paths: [/v1/*]}\n"),
            "cell.yaml:3: policy.allow[0]: missing key \"domain\"");
}

TEST(ParseCell, EntryDefaults) {
  CellSpec s = cell(
      "ingress: [{name: web, port: 8080}]\n"
      "host_services: [{name: llm, port: 4000}]\n"
      "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  EXPECT_EQ((*s.ingress)[0].path_prefix, "/");
  EXPECT_EQ((*s.ingress)[0].auth, "bearer");
  EXPECT_EQ((*s.host_services)[0].protocol, "http");
  EXPECT_EQ((*s.host_sockets)[0].mode, "ro");
}

TEST(ParseCell, EveryErrorIsReportedWithItsOwnLine) {
  EXPECT_EQ(parse_error("image: x\n"
                        "memroy: 2g\n"
                        "pids_limit: many\n"
                        "writable_rootfs: maybe\n"),
            "cell.yaml:2: unknown key \"memroy\"; did you mean \"memory\"?\n"
            "cell.yaml:3: pids_limit: expected an integer, got \"many\"\n"
            "cell.yaml:4: writable_rootfs: expected true or false, got \"maybe\"");
}

// parse_cell_all reads past shape errors: every one is reported, and the
// fields that parsed are kept for validation to judge (resolve reports both).
TEST(ParseCell, AllKeepsWhatParsedWithEveryShapeError) {
  auto p = parse_cell_all("image: x\n"
                          "memroy: 2g\n"
                          "cpus: [1]\n"
                          "memory: 2x\n",
                          "cell.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(testing::strs(p->diags), (std::vector<std::string>{
                                         "cell.yaml:2: unknown key \"memroy\"; did you mean \"memory\"?",
                                         "cell.yaml:3: cpus: expected a number of CPUs, got a list",
                                     }));
  EXPECT_EQ(p->spec.image.value_or(""), "x");
  EXPECT_EQ(p->spec.memory.value_or(""), "2x");  // not judged here
  EXPECT_FALSE(p->spec.cpus.has());
  // Nothing to read past: a syntax error is still an error.
  auto bad = parse_cell_all("image: [x\n", "cell.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("cell.yaml:", 0), 0u) << bad.error().message();
}

TEST(ParseCell, YamlSyntaxErrorGivesTheLine) {
  auto r = parse_cell("image: x\nmemory: 2g\nenv: {A: 1\nname: y\n", "cell.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(), "cell.yaml:4: end of map flow not found");

  auto bad_indent = parse_cell("image: x\nenv:\n  A: 1\n B: 2\n", "cell.yaml");
  ASSERT_FALSE(bad_indent);
  EXPECT_EQ(bad_indent.error().message(), "cell.yaml:4: end of map not found");
}

TEST(ParseCell, TopLevelMustBeAMapping) {
  EXPECT_EQ(parse_error("- image: x\n"), "cell.yaml:1: expected a cell spec (a mapping of keys), got a list");
  EXPECT_EQ(parse_error("just a string\n"), "cell.yaml:1: expected a cell spec (a mapping of keys), got a scalar");
}

TEST(ParseCell, PolicyBlockWithAnErrorIsNotSet) {
  auto r = parse_cell("policy:\n  allow: [a.com:0]\n", "cell.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "cell.yaml:2: policy.allow[0]: invalid port in \"a.com:0\"; write host or host:port with a port from 1 "
            "to 65535");
}

// --- profiles ----------------------------------------------------------------

TEST(ParseProfile, SetsLimitsAndTheProfileName) {
  auto r = parse_profile("memory: 3g\ncpus: 3\nlabels: {brig.profile: untrusted}\n", "/p/strict.yaml", "strict");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->memory, "3g");
  EXPECT_EQ(*r->cpus, "3");
  EXPECT_EQ(r->memory.origin.str(), "/p/strict.yaml:1");
  EXPECT_EQ(*r->profile, "strict");
  EXPECT_EQ(r->profile.origin.str(), "/p/strict.yaml:1");
  EXPECT_EQ(r->labels->at("brig.profile"), "untrusted");
}

TEST(ParseProfile, CannotSetWhatRuns) {
  auto one = [](const std::string& yaml) {
    auto r = parse_profile(yaml, "strict.yaml", "strict");
    EXPECT_FALSE(r) << yaml;
    return r ? std::string() : r.error().message();
  };
  EXPECT_EQ(one("memory: 1g\nname: x\n"),
            "strict.yaml:2: name: a profile cannot set this key; put it in the cell yaml");
  EXPECT_EQ(one("image: alpine\n"), "strict.yaml:1: image: a profile cannot set this key; put it in the cell yaml");
  EXPECT_EQ(one("image_digest: sha256:00\n"),
            "strict.yaml:1: image_digest: a profile cannot set this key; put it in the cell yaml");
  EXPECT_EQ(one("command: [sh]\n"), "strict.yaml:1: command: a profile cannot set this key; put it in the cell yaml");
  EXPECT_EQ(one("profile: dev\n"), "strict.yaml:1: profile: a profile cannot set this key; put it in the cell yaml");
}

TEST(ParseProfile, UnknownKeysAndTypesAreCheckedToo) {
  auto r = parse_profile("memroy: 1g\npids_limit: x\n", "strict.yaml", "strict");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "strict.yaml:1: unknown key \"memroy\"; did you mean \"memory\"?\n"
            "strict.yaml:2: pids_limit: expected an integer, got \"x\"");
}

TEST(Parse, SecondYamlDocumentIsAnError) {
  auto r = parse_cell("image: a\n---\nimage: b\n", "cell.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cell.yaml:3: a second YAML document ('---'); one file holds one document");
}

}  // namespace
}  // namespace brig::spec
