// validate(): every rule of the merged cell spec, with its exact message: the
// whole spec, unsupported fields, image and resources. The other topics are in
// validate_{names,host,policy}_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"
#include "unit/spec/validate_test_util.h"

namespace brig::spec {
namespace {

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
                    "workspace_quota: 10g\n");
  EXPECT_EQ(e, (std::vector<std::string>{
                   "cell.yaml:3: workspace_quota: not supported yet (brig cannot limit a workspace's size today); "
                   "remove it",
               }));
}

// Host sockets are supported (the engine mounts them; docs/security.md):
// only their detailed rules apply.
TEST(ValidateHostSocketsSupported, AcceptedWithOnlyTheDetailedRules) {
  FakeProbe probe;
  probe.add("/tmp/pg.sock", Kind::socket);
  EXPECT_TRUE(all_errs("host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n",
                       with(probe))
                  .empty());
  EXPECT_EQ(all_errs("host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /tmp/pg.sock}]\n", with(probe)),
            (std::vector<std::string>{"cell.yaml:2: host_sockets[0].mount_point: \"/tmp/pg.sock\" must be a path "
                                      "inside /run/host/, without '..'"}));
}

// Host services are supported (warden and the host relay; docs/reference/warden.md):
// only their detailed rules apply, shared with `policy set --host-service`.
TEST(ValidateHostServicesSupported, AcceptedWithOnlyTheDetailedRules) {
  EXPECT_TRUE(all_errs("host_services: [{name: db, port: 5432, protocol: tcp}, {name: llm, port: 4000}]\n").empty());
  EXPECT_EQ(all_errs("host_services: [{name: db, port: 0}]\n"),
            (std::vector<std::string>{"cell.yaml:2: host_services[0].port: 0 is not a port (1-65535)"}));
  EXPECT_TRUE(all_errs("host_services: [{name: web, port: 80}]\n").empty());  // http: reached by name
  for (int reserved : {53, 80, 443, 3128, 8443, 9464}) {
    EXPECT_EQ(all_errs("host_services: [{name: db, port: " + std::to_string(reserved) + ", protocol: tcp}]\n"),
              (std::vector<std::string>{"cell.yaml:2: host_services[0].port: " + std::to_string(reserved) +
                                        " is reserved by warden; expose the service on another host port"}));
  }
}

TEST(HostServiceFlag, ParsesAndRefusesWithTheSpecRules) {
  auto db = parse_host_service_flag("db:5432/tcp", false);
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(db->name, "db");
  EXPECT_EQ(db->port, 5432);
  EXPECT_EQ(db->protocol, "tcp");
  auto llm = parse_host_service_flag("llm:4000", false);
  ASSERT_TRUE(llm);
  EXPECT_EQ(llm->protocol, "http");
  auto msg = [](const std::string& text, bool untrusted = false) {
    auto r = parse_host_service_flag(text, untrusted);
    EXPECT_FALSE(r) << text;
    if (r) return std::string();
    EXPECT_EQ(r.error().code(), Errc::usage);
    EXPECT_FALSE(r.error().fix().empty());
    return r.error().message();
  };
  EXPECT_EQ(msg("db"), "--host-service db: give NAME:PORT[/tcp]");
  EXPECT_EQ(msg("db:54x2"), "--host-service db:54x2: \"54x2\" is not a port");
  EXPECT_EQ(msg("db:"), "--host-service db:: \"\" is not a port");
  EXPECT_EQ(msg("db:99999"), "--host-service db:99999: 99999 is not a port (1-65535)");
  EXPECT_EQ(msg("db:3128"), "--host-service db:3128: 3128 is reserved by warden; expose the service on another host port");
  EXPECT_EQ(msg("DB:5432"), "--host-service DB:5432: invalid name \"DB\"; use 1-31 lowercase letters, digits and '-' "
                            "(it becomes <name>.host.brig)");
  EXPECT_EQ(msg("db:5432/udp"), "--host-service db:5432/udp: unknown protocol \"udp\"; use http or tcp");
  EXPECT_EQ(msg("db:5432/tcp", true), "--host-service db:5432/tcp: the untrusted profile forbids tcp host services "
                                      "(warden cannot inspect them); use protocol: http");
}

// Ingress is supported (warden's ingress listener, docs/reference/ingress.md):
// only its detailed rules apply.
TEST(ValidateIngressSupported, AcceptedWithOnlyTheDetailedRules) {
  EXPECT_TRUE(all_errs("ingress: [{name: web, port: 8080}, {name: api, port: 9000, path_prefix: /api}]\n").empty());
  EXPECT_EQ(all_errs("ingress: [{name: web, port: 0}]\n"),
            (std::vector<std::string>{"cell.yaml:2: ingress[0].port: 0 is not a port (1-65535)"}));
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
  // The hint is the build that makes it, and the name it gets.
  EXPECT_EQ(one("./agent"),
            "cell.yaml:1: image: ./agent is a directory, not an image; build it first with: brig image build "
            "./agent (then brig run localhost/agent:latest)");
  EXPECT_EQ(one("/src/agent"),
            "cell.yaml:1: image: /src/agent is a directory, not an image; build it first with: brig image build "
            "/src/agent (then brig run localhost/agent:latest)");
  EXPECT_EQ(one("agent/"),
            "cell.yaml:1: image: agent/ is a directory, not an image; build it first with: brig image build "
            "agent/ (then brig run localhost/agent:latest)");
  probe.add("./My_Cell-", Kind::directory);
  EXPECT_THAT(one("./My_Cell-"), ::testing::HasSubstr("brig image build ./My_Cell- (then brig run localhost/my_cell:latest)"));
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
  EXPECT_EQ(err("cpus: two\n"), std::string("cell.yaml:2: cpus: invalid CPU count \"two\"") + fix);
  // How many CPUs the host has is a host check (engine), not a spec rule.
  for (const char* ok : {"0.5", "1", "2", "1.50", "1024", "2000"}) expect_ok(std::string("cpus: ") + ok + "\n");
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

}  // namespace
}  // namespace brig::spec
