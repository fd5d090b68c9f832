// validate(): every rule of the merged cell spec, with its exact message.
#include <gtest/gtest.h>

#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using testing::FakeProbe;
using testing::strs;
using Kind = Probe::Kind;

constexpr const char* kImage = "image: localhost/agent:latest\n";

// Parses kImage + `body` as cell.yaml (so `body` starts on line 2) and
// validates it; returns every diagnostic as text.
std::vector<std::string> all_errs(const std::string& body, const ValidateOptions& opts = {}) {
  return strs(validate(testing::cell(kImage + body), opts));
}

// Like all_errs(), without the "not supported yet" refusals (ValidateUnsupported
// tests those): what the detailed rules of ingress, host_services, ... say.
std::vector<std::string> without_unsupported(std::vector<std::string> e) {
  std::erase_if(e, [](const std::string& line) { return line.find(": not supported yet (") != std::string::npos; });
  return e;
}
std::vector<std::string> errs(const std::string& body, const ValidateOptions& opts = {}) {
  return without_unsupported(all_errs(body, opts));
}

// The single diagnostic for `body`; fails the test if there are none or several.
std::string err(const std::string& body, const ValidateOptions& opts = {}) {
  auto e = errs(body, opts);
  EXPECT_EQ(e.size(), 1u) << body << "\n-> " << str::join(e, "\n-> ");
  return e.empty() ? "" : e.front();
}

void expect_ok(const std::string& body, const ValidateOptions& opts = {}) {
  auto e = errs(body, opts);
  EXPECT_TRUE(e.empty()) << body << "\n-> " << str::join(e, "\n-> ");
}

ValidateOptions untrusted() { return {.untrusted = true}; }
ValidateOptions airgapped() { return {.airgapped = true}; }
ValidateOptions with(const Probe& p, bool is_untrusted = false) {
  return {.untrusted = is_untrusted, .probe = &p};
}

TEST(Validate, SpecExampleIsValid) {
  FakeProbe probe;
  probe.add("/tmp/pg.sock", Kind::socket).add("/srv/agent", Kind::directory);
  auto e = errs(R"(name: my-agent
image_digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
command: ["agent", "serve"]
env: {LOG_LEVEL: info}
memory: 2g
cpus: "2"
pids_limit: 1024
workspace: /srv/agent
workspace_mount: /work
workspace_quota: 10g
writable_rootfs: false
trust_warden_ca: true
secrets: [openai-key]
timeout: 2h
labels: {team: x}
policy:
  allow:
    - api.github.com
    - "*.amazonaws.com"
    - {domain: api.example.com, paths: ["/v1/*"], methods: [GET, POST]}
    - chatgpt.com
  deny: [evil.example]
  tls_passthrough: [chatgpt.com]
  rate_limits: {default: {rate: 100, burst: 500}}
ingress:
  - {name: web, port: 8080, path_prefix: /, auth: bearer}
host_services:
  - {name: db, port: 5432, protocol: tcp}
  - {name: llm, port: 4000}
host_sockets:
  - {name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock, mode: ro}
)",
                with(probe));
  EXPECT_TRUE(e.empty()) << str::join(e, "\n");
}

// No field is accepted and ignored: the ones brig does not implement yet are
// refused, each with its origin, before any detailed check.
TEST(ValidateUnsupported, EachFieldIsRefused) {
  const std::string d = std::string("sha256:") + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  auto e = all_errs("image_digest: " + d +
                    "\n"
                    "workspace_quota: 10g\n"
                    "ingress: [{name: web, port: 8080}]\n"
                    "host_services: [{name: llm, port: 4000}]\n"
                    "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  EXPECT_EQ(e, (std::vector<std::string>{
                   "cell.yaml:2: image_digest: not supported yet (brig does not pin an image by a separate digest "
                   "today); put the digest in image instead (image: NAME@sha256:...)",
                   "cell.yaml:3: workspace_quota: not supported yet (brig cannot limit a workspace's size today); "
                   "remove it",
                   "cell.yaml:4: ingress: not supported yet (brig cannot route ingress to a cell today); remove it",
                   "cell.yaml:5: host_services: not supported yet (brig cannot route a cell to host services today); "
                   "remove it",
                   "cell.yaml:6: host_sockets: not supported yet (brig cannot mount host sockets into a cell today); "
                   "remove it",
               }));
}

TEST(ValidateUnsupported, RefusalComesFirstThenTheDetailedRules) {
  EXPECT_EQ(all_errs("ingress: [{name: web, port: 0}]\n"),
            (std::vector<std::string>{
                "cell.yaml:2: ingress: not supported yet (brig cannot route ingress to a cell today); remove it",
                "cell.yaml:2: ingress[0].port: 0 is not a port (1-65535)"}));
}

TEST(ValidateUnsupported, EmptyListsAndBuiltinProfilesSetNothing) {
  EXPECT_TRUE(all_errs("ingress: []\nhost_services: []\nhost_sockets: []\n").empty());
  CellSpec s = testing::cell(kImage);
  s.workspace_quota.set("5g", Origin::profile("locked"));
  EXPECT_EQ(strs(validate(s, {})),
            std::vector<std::string>{"profile locked: workspace_quota: not supported yet (brig cannot limit a "
                                     "workspace's size today); remove it"});
}

TEST(Validate, ReportsEveryProblemNotJustTheFirst) {
  auto e = errs("memory: 2x\ncpus: 0\ntimeout: soon\n");
  EXPECT_EQ(e, (std::vector<std::string>{
                   "cell.yaml:2: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g",
                   "cell.yaml:3: cpus: invalid CPU count \"0\"; use a positive number such as 1, 2 or 0.5",
                   "cell.yaml:4: timeout: invalid duration \"soon\"; use e.g. 90s, 30m, 2h or 1h30m",
               }));
}

TEST(Validate, OriginOfAFlagIsNamed) {
  CellSpec s = testing::cell(kImage);
  s.memory.set("2x", Origin::flag("--memory"));
  EXPECT_EQ(strs(validate(s, {})),
            std::vector<std::string>{"--memory: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g"});
}

// --- image -------------------------------------------------------------------

TEST(ValidateImage, Required) {
  EXPECT_EQ(strs(validate(CellSpec{}, {})),
            std::vector<std::string>{"image: no image given; pass IMAGE to brig run or set image: in the cell yaml"});
  EXPECT_EQ(strs(validate(testing::cell("image: \"\"\n"), {})),
            std::vector<std::string>{"cell.yaml:1: image: no image given; pass IMAGE to brig run or set image: in the cell yaml"});
}

TEST(ValidateImage, InvalidReference) {
  auto one = [](const std::string& yaml) {
    auto e = strs(validate(testing::cell(yaml), {}));
    EXPECT_EQ(e.size(), 1u) << yaml;
    return e.empty() ? "" : e[0];
  };
  EXPECT_EQ(one("image: \"agent latest\"\n"), "cell.yaml:1: image: invalid image reference \"agent latest\"");
  EXPECT_EQ(one("image: \"--privileged\"\n"), "cell.yaml:1: image: invalid image reference \"--privileged\"");
  EXPECT_EQ(one("image: \"agent\\tx\"\n"), "cell.yaml:1: image: invalid image reference \"agent\\x09x\"");
}

TEST(ValidateImage, DirectoryHintUsesTheProbe) {
  FakeProbe probe;
  probe.add("./agent", Kind::directory).add("/src/agent", Kind::directory).add("agent/", Kind::directory);
  auto one = [&](const std::string& img) {
    auto e = strs(validate(testing::cell("image: " + img + "\n"), with(probe)));
    EXPECT_EQ(e.size(), 1u) << img;
    return e.empty() ? "" : e[0];
  };
  EXPECT_EQ(one("./agent"),
            "cell.yaml:1: image: ./agent is a directory, not an image; build it first with: brig image build ./agent");
  EXPECT_EQ(one("/src/agent"),
            "cell.yaml:1: image: /src/agent is a directory, not an image; build it first with: brig image build /src/agent");
  EXPECT_EQ(one("agent/"),
            "cell.yaml:1: image: agent/ is a directory, not an image; build it first with: brig image build agent/");
  // No probe: nothing is asked of the host.
  EXPECT_TRUE(strs(validate(testing::cell("image: ./agent\n"), {})).empty());
  // A registry reference that is not a local directory is fine.
  EXPECT_TRUE(strs(validate(testing::cell("image: localhost/agent:latest\n"), with(probe))).empty());
}

constexpr const char* kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ValidateImage, Digests) {
  const std::string d = std::string("sha256:") + kHex64;
  const std::string fix = "; expected sha256: followed by 64 lowercase hex digits";
  EXPECT_TRUE(strs(validate(testing::cell("image: agent@" + d + "\n"), {})).empty());
  EXPECT_TRUE(without_unsupported(strs(validate(testing::cell("image: agent@" + d + "\nimage_digest: " + d + "\n"), {}))).empty());
  expect_ok("image_digest: sha512:" + std::string(kHex64) + kHex64 + "\n");

  EXPECT_EQ(err("image_digest: sha256:abc\n"), "cell.yaml:2: image_digest: invalid digest \"sha256:abc\"" + fix);
  std::string upper = d;
  upper[10] = 'A';
  EXPECT_EQ(err("image_digest: " + upper + "\n"), "cell.yaml:2: image_digest: invalid digest \"" + upper + "\"" + fix);
  EXPECT_EQ(err("image_digest: md5:" + std::string(kHex64) + "\n"),
            "cell.yaml:2: image_digest: invalid digest \"md5:" + std::string(kHex64) + "\"" + fix);
  EXPECT_EQ(err("image_digest: " + std::string(kHex64) + "\n"),
            "cell.yaml:2: image_digest: invalid digest \"" + std::string(kHex64) + "\"" + fix);
  EXPECT_EQ(strs(validate(testing::cell("image: agent@sha256:xyz\n"), {})),
            std::vector<std::string>{"cell.yaml:1: image: invalid digest \"sha256:xyz\"" + fix});
}

TEST(ValidateImage, DigestMismatch) {
  const std::string a = std::string("sha256:") + kHex64;
  std::string b = a;
  b.back() = '0';
  auto e = without_unsupported(strs(validate(testing::cell("image: agent@" + a + "\nimage_digest: " + b + "\n"), {})));
  EXPECT_EQ(e, std::vector<std::string>{"cell.yaml:2: image_digest: does not match the digest in image (" + a +
                                        "); keep one of them"});
}

// --- resources ---------------------------------------------------------------

TEST(ValidateResources, Memory) {
  EXPECT_EQ(err("memory: 2x\n"), "cell.yaml:2: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g");
  EXPECT_EQ(err("memory: lots\n"),
            "cell.yaml:2: memory: invalid size \"lots\"; use a number with a unit, e.g. 512m or 2g");
  EXPECT_EQ(err("memory: -1g\n"), "cell.yaml:2: memory: invalid size \"-1g\"; use a number with a unit, e.g. 512m or 2g");
  EXPECT_EQ(err("memory: 5m\n"), "cell.yaml:2: memory: \"5m\" is below the 6m minimum");
  EXPECT_EQ(err("memory: 2\n"),
            "cell.yaml:2: memory: \"2\" is below the 6m minimum (a bare number is bytes; did you mean 2g?)");
  EXPECT_EQ(err("memory: 0.5m\n"), "cell.yaml:2: memory: \"0.5m\" is below the 6m minimum");
  for (const char* ok : {"6m", "512m", "2g", "1.5G", "2gb", "6291456", "1t"}) expect_ok(std::string("memory: ") + ok + "\n");
}

TEST(ValidateResources, Cpus) {
  const char* fix = "; use a positive number such as 1, 2 or 0.5";
  EXPECT_EQ(err("cpus: 0\n"), std::string("cell.yaml:2: cpus: invalid CPU count \"0\"") + fix);
  EXPECT_EQ(err("cpus: -1\n"), std::string("cell.yaml:2: cpus: invalid CPU count \"-1\"") + fix);
  EXPECT_EQ(err("cpus: 1025\n"), std::string("cell.yaml:2: cpus: invalid CPU count \"1025\"") + fix);
  EXPECT_EQ(err("cpus: two\n"), std::string("cell.yaml:2: cpus: invalid CPU count \"two\"") + fix);
  for (const char* ok : {"0.5", "1", "2", "1.50", "1024"}) expect_ok(std::string("cpus: ") + ok + "\n");
}

TEST(ValidateResources, PidsLimitUnderRunscIsAtLeast1000) {
  EXPECT_EQ(err("pids_limit: 999\n"),
            "cell.yaml:2: pids_limit: 999 is out of range; use 1000 to 4194304 (under gVisor the limit also counts "
            "the sandbox's own threads)");
  EXPECT_EQ(err("runtime: runsc\npids_limit: 100\n"),
            "cell.yaml:3: pids_limit: 100 is out of range; use 1000 to 4194304 (under gVisor the limit also counts "
            "the sandbox's own threads)");
  expect_ok("pids_limit: 1000\n");
  expect_ok("pids_limit: 4194304\n");
  EXPECT_EQ(err("pids_limit: 4194305\n"),
            "cell.yaml:2: pids_limit: 4194305 is out of range; use 1000 to 4194304 (under gVisor the limit also counts "
            "the sandbox's own threads)");
}

TEST(ValidateResources, PidsLimitUnderRuncMayBeLower) {
  expect_ok("runtime: runc\npids_limit: 100\n");
  expect_ok("runtime: runc\npids_limit: 16\n");
  EXPECT_EQ(err("runtime: runc\npids_limit: 15\n"), "cell.yaml:3: pids_limit: 15 is out of range; use 16 to 4194304");
  EXPECT_EQ(err("runtime: runc\npids_limit: -1\n"), "cell.yaml:3: pids_limit: -1 is out of range; use 16 to 4194304");
}

TEST(ValidateResources, WorkspaceQuota) {
  EXPECT_EQ(err("workspace_quota: 512k\n"),
            "cell.yaml:2: workspace_quota: invalid size \"512k\"; use e.g. 10g (at least 1m)");
  EXPECT_EQ(err("workspace_quota: big\n"),
            "cell.yaml:2: workspace_quota: invalid size \"big\"; use e.g. 10g (at least 1m)");
  expect_ok("workspace_quota: 1m\n");
  expect_ok("workspace_quota: 10g\n");
}

TEST(ValidateResources, Timeout) {
  const char* fix = "; use e.g. 90s, 30m, 2h or 1h30m";
  for (const char* bad : {"90", "0s", "1.5h", "2w", "h", "-1h", "1h 30m"}) {
    EXPECT_EQ(err(std::string("timeout: \"") + bad + "\"\n"),
              std::string("cell.yaml:2: timeout: invalid duration \"") + bad + "\"" + fix);
  }
  for (const char* ok : {"90s", "15m", "2h", "1d", "1h30m"}) expect_ok(std::string("timeout: ") + ok + "\n");
}

TEST(ParseSize, UnitsAndLimits) {
  EXPECT_EQ(parse_size("512m"), 512ull << 20);
  EXPECT_EQ(parse_size("2g"), 2ull << 30);
  EXPECT_EQ(parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_size("2gb"), 2ull << 30);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("1t"), 1ull << 40);
  EXPECT_EQ(parse_size("1073741824"), 1073741824u);
  EXPECT_EQ(parse_size(" 2g "), 2ull << 30);
  EXPECT_EQ(parse_size(""), std::nullopt);
  EXPECT_EQ(parse_size("g"), std::nullopt);
  EXPECT_EQ(parse_size("2x"), std::nullopt);
  EXPECT_EQ(parse_size("-2g"), std::nullopt);
  EXPECT_EQ(parse_size("1.3"), std::nullopt);  // not a whole number of bytes
  EXPECT_EQ(parse_size("99999999999t"), std::nullopt);
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("90s"), 90u);
  EXPECT_EQ(parse_duration("15m"), 900u);
  EXPECT_EQ(parse_duration("2h"), 7200u);
  EXPECT_EQ(parse_duration("1d"), 86400u);
  EXPECT_EQ(parse_duration("1h30m"), 5400u);
  EXPECT_EQ(parse_duration("90"), std::nullopt);
  EXPECT_EQ(parse_duration(""), std::nullopt);
  EXPECT_EQ(parse_duration("1x"), std::nullopt);
}

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

// --- host services -----------------------------------------------------------

std::string services(int n, const std::string& protocol = "http") {
  std::string y = "host_services:\n";
  for (int i = 0; i < n; ++i) {
    y += "  - {name: s" + std::to_string(i) + ", port: " + std::to_string(5000 + i) + ", protocol: " + protocol + "}\n";
  }
  return y;
}

TEST(ValidateHostServices, AtMostSixteen) {
  expect_ok(services(16));
  EXPECT_EQ(err(services(17)), "cell.yaml:3: host_services: 17 entries; at most 16 are allowed");
}

TEST(ValidateHostServices, PortRangeAndReservedPorts) {
  EXPECT_EQ(err("host_services: [{name: db, port: 0}]\n"),
            "cell.yaml:2: host_services[0].port: 0 is not a port (1-65535)");
  EXPECT_EQ(err("host_services: [{name: db, port: 65536}]\n"),
            "cell.yaml:2: host_services[0].port: 65536 is not a port (1-65535)");
  for (int port : {3128, 8443, 9464}) {
    EXPECT_EQ(err("host_services: [{name: db, port: " + std::to_string(port) + "}]\n"),
              "cell.yaml:2: host_services[0].port: " + std::to_string(port) +
                  " is reserved by warden; expose the service on another host port");
  }
  expect_ok("host_services: [{name: a, port: 1}, {name: b, port: 65535}, {name: c, port: 3129}]\n");
}

TEST(ValidateHostServices, Protocol) {
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: TCP}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"TCP\"; use http or tcp (lowercase)");
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: Http}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"Http\"; use http or tcp (lowercase)");
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: udp}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"udp\"; use http or tcp");
  expect_ok("host_services: [{name: db, port: 5432, protocol: tcp}, {name: web, port: 80, protocol: http}]\n");
}

TEST(ValidateHostServices, UntrustedForbidsTcpButAllowsHttp) {
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: tcp}]\n", untrusted()),
            "cell.yaml:2: host_services[0].protocol: the untrusted profile forbids tcp host services (warden cannot "
            "inspect them); use protocol: http");
  expect_ok("host_services: [{name: llm, port: 4000}, {name: api, port: 80, protocol: http}]\n", untrusted());
}

TEST(ValidateHostServices, Names) {
  EXPECT_EQ(err("host_services: [{name: db, port: 1}, {name: db, port: 2}]\n"),
            "cell.yaml:2: host_services[1].name: duplicate host service \"db\"");
  EXPECT_EQ(err("host_services: [{name: my_db, port: 1}]\n"),
            "cell.yaml:2: host_services[0].name: invalid name \"my_db\"; use 1-31 lowercase letters, digits and '-' "
            "(it becomes <name>.host.brig)");
  EXPECT_EQ(err("host_services: [{name: \"" + std::string(32, 'a') + "\", port: 1}]\n"),
            "cell.yaml:2: host_services[0].name: invalid name \"" + std::string(32, 'a') +
                "\"; use 1-31 lowercase letters, digits and '-' (it becomes <name>.host.brig)");
}

// --- host sockets ------------------------------------------------------------

std::string sock(const std::string& name, const std::string& host, const std::string& mount,
                 const std::string& mode = "ro") {
  return "  - {name: " + name + ", host_path: \"" + host + "\", mount_point: \"" + mount + "\", mode: " + mode + "}\n";
}

// A probe where every path in `sockets` is a socket (resolving to itself).
FakeProbe sockets(std::initializer_list<std::string> paths) {
  FakeProbe p;
  for (const auto& s : paths) p.add(s, Kind::socket);
  return p;
}

TEST(ValidateHostSockets, AValidSocket) {
  auto probe = sockets({"/tmp/pg.sock"});
  expect_ok("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock", "rw"), with(probe));
  expect_ok("host_sockets: []\n", untrusted());  // an empty list is nothing to forbid
}

TEST(ValidateHostSockets, AtMostEight) {
  std::string y = "host_sockets:\n";
  for (int i = 0; i < 9; ++i) {
    auto n = std::to_string(i);
    y += sock("s" + n, "/tmp/s" + n + ".sock", "/run/host/s" + n + ".sock");
    if (i == 7) expect_ok(y);
  }
  EXPECT_EQ(err(y), "cell.yaml:3: host_sockets: 9 entries; at most 8 are allowed");
}

TEST(ValidateHostSockets, UntrustedForbidsThem) {
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock"), untrusted()),
            "cell.yaml:3: host_sockets: the untrusted profile forbids host sockets (traffic over them bypasses warden)");
}

TEST(ValidateHostSockets, Names) {
  EXPECT_EQ(err("host_sockets:\n" + sock("PG", "/tmp/pg.sock", "/run/host/pg.sock")),
            "cell.yaml:3: host_sockets[0].name: invalid name \"PG\"; use 1-31 lowercase letters, digits and '-'");
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/a.sock", "/run/host/a.sock") +
                sock("pg", "/tmp/b.sock", "/run/host/b.sock")),
            "cell.yaml:4: host_sockets[1].name: duplicate host socket \"pg\"");
}

TEST(ValidateHostSockets, EngineSocketsRefusedByName) {
  struct Case {
    const char* path;
    const char* engine;
  };
  for (const Case& c : {Case{"/var/run/docker.sock", "docker"}, Case{"/run/docker.sock", "docker"},
                        Case{"/run/user/1000/docker.sock", "docker"}, Case{"/home/a/.docker/run/docker.sock", "docker"},
                        Case{"/run/podman/podman.sock", "podman"}, Case{"/run/user/1000/podman/podman.sock", "podman"},
                        Case{"/run/containerd/containerd.sock", "containerd"},
                        Case{"/run/containerd/s/0123abcd", "containerd"}, Case{"/var/run/crio/crio.sock", "crio"},
                        Case{"/tmp/firecracker.socket", "firecracker"}, Case{"/srv/vm/Firecracker-1.sock", "firecracker"},
                        Case{"/home/a/.lima/default/sock/lima.sock", "lima"},
                        Case{"/home/a/.lima/default/ha.sock", "lima"}, Case{"/run//docker.sock", "docker"}}) {
    // Refused before any host lookup: the probe would call them sockets.
    auto probe = sockets({c.path});
    EXPECT_EQ(err("host_sockets:\n" + sock("e", c.path, "/run/host/e.sock"), with(probe)),
              std::string("cell.yaml:3: host_sockets[0].host_path: ") + c.path + " looks like a " + c.engine +
                  " engine socket, which gives control of the host; it is never allowed");
  }
}

TEST(ValidateHostSockets, EngineSocketsRefusedAfterRealpath) {
  FakeProbe probe;
  probe.add("/tmp/pg.sock", Kind::socket, "/var/run/docker.sock")
      .add("/tmp/x.sock", Kind::socket, "/run/containerd/containerd.sock");
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/pg.sock resolves to /var/run/docker.sock, a docker engine "
            "socket; it is never allowed");
  EXPECT_EQ(err("host_sockets:\n" + sock("x", "/tmp/x.sock", "/run/host/x.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/x.sock resolves to /run/containerd/containerd.sock, a "
            "containerd engine socket; it is never allowed");
}

TEST(ValidateHostSockets, HostPathMustBeARealSocket) {
  FakeProbe probe;
  probe.add("/tmp/link.sock", Kind::symlink, "/tmp/pg.sock")
      .add("/tmp/file", Kind::file)
      .add("/tmp/dir", Kind::directory)
      .add("/tmp/fifo", Kind::other);
  auto one = [&](const std::string& path) {
    return err("host_sockets:\n" + sock("s", path, "/run/host/s.sock"), with(probe));
  };
  const std::string pre = "cell.yaml:3: host_sockets[0].host_path: ";
  EXPECT_EQ(one("/tmp/link.sock"), pre + "/tmp/link.sock is a symlink; give the socket's real path");
  EXPECT_EQ(one("/tmp/none.sock"),
            pre + "/tmp/none.sock does not exist; start the service that provides it, or correct host_path");
  EXPECT_EQ(one("/tmp/file"), pre + "/tmp/file is not a unix socket");
  EXPECT_EQ(one("/tmp/dir"), pre + "/tmp/dir is not a unix socket");
  EXPECT_EQ(one("/tmp/fifo"), pre + "/tmp/fifo is not a unix socket");
}

TEST(ValidateHostSockets, UnresolvableSocketIsRefused) {
  class NoRealpath final : public Probe {
   public:
    Kind kind(const std::string&) const override { return Kind::socket; }
    std::optional<std::string> realpath(const std::string&) const override { return std::nullopt; }
  } probe;
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/s.sock cannot be resolved");
}

TEST(ValidateHostSockets, HostPathMustBeAbsolute) {
  const std::string msg = " must be an absolute path without '..'";
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "tmp/s.sock", "/run/host/s.sock")),
            "cell.yaml:3: host_sockets[0].host_path: \"tmp/s.sock\"" + msg);
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/../var/run/docker.sock", "/run/host/s.sock")),
            "cell.yaml:3: host_sockets[0].host_path: \"/tmp/../var/run/docker.sock\"" + msg);
}

TEST(ValidateHostSockets, MountPointMustBeInsideRunHost) {
  const std::string msg = " must be a path inside /run/host/, without '..'";
  auto mount = [&](const std::string& m) { return err("host_sockets:\n" + sock("s", "/tmp/s.sock", m)); };
  const std::string pre = "cell.yaml:3: host_sockets[0].mount_point: ";
  for (const char* bad : {"/run/host", "/run/host/", "/run/host//", "/run/hostile/s.sock", "/run/s.sock",
                          "/run/secrets/s.sock", "/run/host/../brig/s.sock", "run/host/s.sock", "/var/run/host/s"}) {
    EXPECT_EQ(mount(bad), pre + "\"" + bad + "\"" + msg);
  }
  expect_ok("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/a/b.sock"));
}

TEST(ValidateHostSockets, DuplicateMountPointsAfterNormalisation) {
  for (const char* other : {"/run/host/x", "/run/host//x", "/run/host/./x", "/run/host/x/"}) {
    EXPECT_EQ(err("host_sockets:\n" + sock("a", "/tmp/a.sock", "/run/host/x") + sock("b", "/tmp/b.sock", other)),
              "cell.yaml:4: host_sockets[1].mount_point: another host socket already mounts at /run/host/x")
        << other;
  }
}

TEST(ValidateHostSockets, Mode) {
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock", "RW")),
            "cell.yaml:3: host_sockets[0].mode: unknown mode \"RW\"; use ro or rw");
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock", "wo")),
            "cell.yaml:3: host_sockets[0].mode: unknown mode \"wo\"; use ro or rw");
}

// --- policy ------------------------------------------------------------------

TEST(ValidatePolicy, Domains) {
  EXPECT_EQ(err("policy: {allow: [\"*.com\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"*.com\": a wildcard must name at least a two-label domain (*.example.com, "
            "not *.com)");
  EXPECT_EQ(err("policy: {allow: [\"*.co.uk\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"*.co.uk\": a wildcard must name a domain below a public suffix "
            "(*.example.co.uk, not *.co.uk)");
  EXPECT_EQ(err("policy: {tls_passthrough: [\"*.github.io\"]}\n"),
            "cell.yaml:2: policy.tls_passthrough[0]: \"*.github.io\": a wildcard must name a domain below a public "
            "suffix (*.example.github.io, not *.github.io)");
  EXPECT_EQ(err("policy: {allow: [\"a*.example.com\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"a*.example.com\": '*' is only allowed as a leading '*.' (as in "
            "*.example.com)");
  EXPECT_EQ(err("policy: {allow: [\"10.0.0.1\"]}\n"),
            "cell.yaml:2: policy.allow[0]: \"10.0.0.1\": IP addresses cannot be policy domains; warden refuses IP "
            "destinations");
  EXPECT_EQ(errs("policy: {deny: [\"bad domain\"]}\n").size(), 1u);
  EXPECT_EQ(errs("policy: {deny: [\"bad domain\"]}\n")[0].rfind("cell.yaml:2: policy.deny[0]: \"bad domain\": ", 0), 0u);
  EXPECT_EQ(errs("policy: {tls_passthrough: [\"a..b\"]}\n")[0].rfind("cell.yaml:2: policy.tls_passthrough[0]: \"a..b\": ", 0),
            0u);
}

TEST(ValidatePolicy, PathsAndMethods) {
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, paths: [v1/*]}]\n"),
            "cell.yaml:3: policy.allow[0].paths: \"v1/*\" must start with '/' (globs use '*', e.g. /v1/*)");
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, methods: [get]}]\n"),
            "cell.yaml:3: policy.allow[0].methods: invalid method \"get\"; methods are uppercase, e.g. GET");
  EXPECT_EQ(err("policy:\n  allow: [{domain: a.com, methods: [\"\"]}]\n"),
            "cell.yaml:3: policy.allow[0].methods: invalid method \"\"; methods are uppercase, e.g. GET");
}

TEST(ValidatePolicy, RateLimits) {
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 0, burst: 5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: rate must be a positive number of requests per second");
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 10, burst: 5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: burst must be at least 1 and at least rate");
  EXPECT_EQ(err("policy: {rate_limits: {default: {rate: 0.5}}}\n"),
            "cell.yaml:2: policy.rate_limits.default: burst must be at least 1 and at least rate");
  EXPECT_EQ(err("policy: {rate_limits: {cells: {Web: {rate: 1}}}}\n"),
            "cell.yaml:2: policy.rate_limits.cells: invalid cell name \"Web\"; use 1-63 lowercase letters, digits and "
            "'-', starting with a letter or digit");
  expect_ok("policy: {rate_limits: {default: {rate: 0.5, burst: 1}, cells: {web: {rate: 10}}}}\n");
}

TEST(ValidatePolicy, StandalonePolicyFieldsHaveNoPrefix) {
  auto p = parse_policy("allow: [\"*.com\"]\nrate_limits: {default: {rate: 0}}\n", "policy.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(strs(validate_policy(*p, "")),
            (std::vector<std::string>{
                "policy.yaml:1: allow[0]: \"*.com\": a wildcard must name at least a two-label domain (*.example.com, "
                "not *.com)",
                "policy.yaml:2: rate_limits.default: rate must be a positive number of requests per second",
                "policy.yaml:2: rate_limits.default: burst must be at least 1 and at least rate",
            }));
}

std::string passthrough(const std::string& allow, const std::string& pass) {
  return "policy:\n  allow: [" + allow + "]\n  tls_passthrough: [" + pass + "]\n";
}

TEST(ValidatePolicy, PassthroughMustBeCoveredByAnAllowEntry) {
  expect_ok(passthrough("chatgpt.com", "chatgpt.com"));
  expect_ok(passthrough("\"*.openai.com\"", "auth.openai.com"));
  expect_ok(passthrough("\"*.openai.com\"", "\"*.a.openai.com\""));
  expect_ok(passthrough("\"*.openai.com\"", "\"*.openai.com\""));
  expect_ok(passthrough("\"chatgpt.com:443\"", "chatgpt.com"));
  expect_ok(passthrough("CHATGPT.COM", "chatgpt.com."));  // compared in canonical form

  const std::string fix = " is not covered by any policy.allow entry; add it (or a wildcard covering it) to policy.allow";
  EXPECT_EQ(err(passthrough("x.com", "\"*.x.com\"")), "cell.yaml:4: policy.tls_passthrough[0]: *.x.com" + fix);
  EXPECT_EQ(err(passthrough("\"*.x.com\"", "x.com")), "cell.yaml:4: policy.tls_passthrough[0]: x.com" + fix);
  EXPECT_EQ(err(passthrough("a.x.com", "b.x.com")), "cell.yaml:4: policy.tls_passthrough[0]: b.x.com" + fix);
  EXPECT_EQ(err(passthrough("\"chatgpt.com:8443\"", "chatgpt.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: chatgpt.com" + fix);
  EXPECT_EQ(err("policy:\n  tls_passthrough: [chatgpt.com]\n"),
            "cell.yaml:3: policy.tls_passthrough[0]: chatgpt.com" + fix);
}

TEST(ValidatePolicy, PathRestrictedAllowCannotCoverPassthrough) {
  const std::string msg =
      " is allowed only for some paths or methods, which passthrough cannot enforce; allow the whole host or drop the "
      "passthrough";
  EXPECT_EQ(err(passthrough("{domain: chatgpt.com, paths: [\"/v1/*\"]}", "chatgpt.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: chatgpt.com" + msg);
  EXPECT_EQ(err(passthrough("{domain: \"*.openai.com\", methods: [GET]}", "auth.openai.com")),
            "cell.yaml:4: policy.tls_passthrough[0]: auth.openai.com" + msg);
  // A second, unrestricted entry for the same host covers it.
  expect_ok(passthrough("{domain: chatgpt.com, paths: [\"/v1/*\"]}, \"*.chatgpt.com\", chatgpt.com", "chatgpt.com"));
}

TEST(ValidatePolicy, UntrustedForbidsPassthrough) {
  EXPECT_EQ(err(passthrough("chatgpt.com", "chatgpt.com"), untrusted()),
            "cell.yaml:4: policy.tls_passthrough: the untrusted profile forbids TLS passthrough (uninspected egress)");
  expect_ok("policy: {allow: [chatgpt.com]}\n", untrusted());
}

TEST(ValidatePolicy, AirgappedForbidsAllow) {
  EXPECT_EQ(err("policy:\n  allow: [api.github.com]\n", airgapped()),
            "cell.yaml:3: policy.allow: the airgapped profile allows no egress; remove policy.allow or choose another "
            "profile");
  expect_ok("policy:\n  deny: [evil.com]\n", airgapped());
}

}  // namespace
}  // namespace brig::spec
