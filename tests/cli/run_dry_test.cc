// brig run --dry-run: validate, merge, print; never touch the system.
#include <gmock/gmock.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using nlohmann::json;

class RunDryTest : public CliTest {
 protected:
  json dry_json(std::vector<std::string> args) {
    std::vector<std::string> argv = {"--format", "json", "run", "--dry-run"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = brig(argv);
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return out.exit_code == 0 ? json::parse(out.out) : json();
  }
};

// A unix socket listening at `path` (the file stays after the test's process ends).
bool listen_unix(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof a.sun_path) return false;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

constexpr const char* kCell = R"(name: agent
image: localhost/brig-busybox:latest
command: ["sh", "-c", "echo hi"]
memory: 3g
cpus: 1.50
env: {LOG_LEVEL: info, A: "1"}
secrets: [api-key]
policy:
  allow:
    - api.github.com
    - {domain: api.example.com, paths: ["/v1/*"], methods: [GET]}
)";

TEST_F(RunDryTest, PrintsResolvedSpecWithOrigins) {
  auto file = write("cell.yaml", kCell);
  auto out = brig({"run", "--dry-run", "--file", file, "--cpus", "2"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, StartsWith("cell spec is valid (profile supervised)\n"));
  EXPECT_THAT(out.out, ::testing::ContainsRegex("memory +3g +.*cell.yaml:4"));
  EXPECT_THAT(out.out, ::testing::ContainsRegex("cpus +2 +--cpus"));
  EXPECT_THAT(out.out, ::testing::ContainsRegex("pids_limit +1024 +profile supervised"));
  EXPECT_THAT(out.out, ::testing::ContainsRegex("workspace_mount +/work +default"));
}

TEST_F(RunDryTest, JsonIsTheFullMergedSpec) {
  auto file = write("cell.yaml", kCell);
  auto j = dry_json({"--file", file, "--env", "A=2", "--secret", "db-pass", "--allow", "pypi.org"});
  EXPECT_EQ(j["name"], "agent");
  EXPECT_EQ(j["memory"], "3g");                 // yaml over profile
  EXPECT_EQ(j["cpus"], "1.5");                  // number normalised to a string
  EXPECT_EQ(j["pids_limit"], 1024);             // profile
  EXPECT_EQ(j["runtime"], "runsc");             // default
  EXPECT_EQ(j["env"]["A"], "2");                // flag over yaml, key by key
  EXPECT_EQ(j["env"]["LOG_LEVEL"], "info");
  EXPECT_EQ(j["secrets"], json::array({"api-key", "db-pass"}));
  EXPECT_EQ(j["policy"]["allow"].size(), 3u);
  EXPECT_EQ(j["policy"]["allow"][2], "pypi.org");
  EXPECT_EQ(j["command"], json::array({"sh", "-c", "echo hi"}));
}

TEST_F(RunDryTest, ImageAndCommandFromArgv) {
  auto j = dry_json({"--memory", "1g", "localhost/x:1", "--", "ls", "--name"});
  EXPECT_EQ(j["image"], "localhost/x:1");
  EXPECT_EQ(j["memory"], "1g");
  EXPECT_EQ(j["command"], json::array({"ls", "--name"}));
}

TEST_F(RunDryTest, CommandWithShortFlagsAfterItsNameIsKept) {
  auto j = dry_json({"localhost/py:3", "python", "-m", "http.server"});
  EXPECT_EQ(j["command"], json::array({"python", "-m", "http.server"}));
}

TEST_F(RunDryTest, BrigFlagAfterImageIsRejected) {
  auto out = brig({"run", "--dry-run", "localhost/x:1", "--memory", "1g", "sh"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: brig flag \"--memory\" comes after the image \"localhost/x:1\"; move it before the image\n"));
  auto inline_value = brig({"run", "--dry-run", "localhost/x:1", "sh", "--memory=1g"});
  EXPECT_EQ(inline_value.exit_code, 2);
  auto short_first = brig({"run", "--dry-run", "localhost/x:1", "-d", "sh"});
  EXPECT_EQ(short_first.exit_code, 2);
  EXPECT_THAT(short_first.err, HasSubstr("\"-d\" comes after the image"));
}

// Both forms of `secrets:`; --secret adds the file form. The dry run reads
// no secret, so none needs to exist.
TEST_F(RunDryTest, InjectedSecretsArePrintedWithoutAValue) {
  auto file = write("cell.yaml",
                    "image: localhost/brig-busybox:latest\n"
                    "secrets:\n"
                    "  - api-key\n"
                    "  - {name: llm-key, env: OPENAI_API_KEY, hosts: [api.openai.com, \"*.anthropic.com\"]}\n");
  auto j = dry_json({"--file", file, "--secret", "db-pass"});
  EXPECT_EQ(j["secrets"], json::parse(R"(["api-key",
    {"name": "llm-key", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"], "allow_plaintext": false},
    "db-pass"])"));
  auto text = brig({"run", "--dry-run", "--file", file});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("secrets          [\"api-key\",{\"allow_plaintext\":false,\"env\":\"OPENAI_API_KEY\","));
  EXPECT_THAT(text.out + text.err, Not(HasSubstr("brig-secret-")));
}

TEST_F(RunDryTest, InjectedSecretErrorsNameFileAndLine) {
  auto file = write("cell.yaml",
                    "image: x\n"
                    "env: {API_KEY: x}\n"
                    "secrets:\n"
                    "  - {name: k, env: API_KEY, hosts: [a.com]}\n"
                    "  - {name: p, env: HTTPS_PROXY, hosts: [\"https://a.com/\"]}\n"
                    "  - {name: q, env: Q}\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr(file + ":4: secrets[0].env: API_KEY is also set in env (it would hide the "
                                        "placeholder); remove it from env or pick another variable\n"));
  EXPECT_THAT(out.err, HasSubstr(file + ":5: secrets[1].env: HTTPS_PROXY is set by brig in every cell; pick another "
                                        "variable for secret \"p\"\n"));
  EXPECT_THAT(out.err, HasSubstr(file + ":5: secrets[1].hosts[0]: \"https://a.com/\" is a URL; give a host, not a URL: "
                                        "a.com\n"));
  EXPECT_THAT(out.err, HasSubstr(file + ":6: secrets[2].hosts: secret \"q\" is injected, so it needs the hosts warden "
                                        "may send it to, e.g. hosts: [api.openai.com]"));
  EXPECT_EQ(out.out, "");
}

TEST_F(RunDryTest, InvalidSpecReportsFileLineField) {
  auto file = write("bad.yaml", "image: x\nmemory: 2x\nworkspace_mount: /run\nmemroy: 1g\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("error: " + file + ":4: unknown key \"memroy\"; did you mean \"memory\"?\n"));
  EXPECT_EQ(out.out, "");
}

TEST_F(RunDryTest, EveryProblemIsReportedAtOnce) {
  auto file = write("bad.yaml", "image: x\nmemory: 2x\nworkspace_mount: /run\ncpus: -1\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr(file + ":2: memory: invalid size \"2x\""));
  EXPECT_THAT(out.err, HasSubstr(file + ":3: workspace_mount: "));
  EXPECT_THAT(out.err, HasSubstr(file + ":4: cpus: "));
}

// A field brig does not implement is refused, not accepted and ignored.
TEST_F(RunDryTest, UnsupportedFieldIsRefused) {
  auto file = write("cell.yaml", "image: img\nmemory: 1g\nworkspace_quota: 1g\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_THAT(out.err, StartsWith("error: " + file +
                                  ":3: workspace_quota: not supported yet (brig cannot limit a workspace's size "
                                  "today); remove it\n"));
}

// Host services are accepted, protocol defaulted.
TEST_F(RunDryTest, HostServicesAreAccepted) {
  auto file = write("cell.yaml", "image: img\nname: c\nhost_services:\n  - {name: db, port: 5432, protocol: tcp}\n"
                                 "  - {name: llm, port: 4000}\n");
  auto j = dry_json({"--file", file});
  EXPECT_EQ(j["host_services"], json::parse(R"([{"name": "db", "port": 5432, "protocol": "tcp"},
                                                {"name": "llm", "port": 4000, "protocol": "http"}])"));
}

// Host sockets are supported: validation checks host_path on the host (a
// socket, no symlink, no engine's socket after realpath).
TEST_F(RunDryTest, HostSocketsAreCheckedOnTheHost) {
  const std::string dir = home_ + "/s";
  ASSERT_TRUE(listen_unix(dir + "/echo.sock"));
  ASSERT_TRUE(listen_unix(dir + "/podman/api.sock"));
  std::filesystem::create_symlink(dir + "/echo.sock", dir + "/link.sock");
  std::filesystem::create_directory_symlink(dir + "/podman", dir + "/sockets");
  auto spec = [&](const std::string& host_path) {
    return write("cell.yaml", "image: img\nname: c\nhost_sockets:\n  - {name: pg, host_path: " + host_path +
                                  ", mount_point: /run/host/echo.sock, mode: rw}\n");
  };
  auto ok = dry_json({"--file", spec(dir + "/echo.sock")});
  EXPECT_EQ(ok["host_sockets"], json::parse(R"([{"name": "pg", "host_path": ")" + dir +
                                             R"(/echo.sock", "mount_point": "/run/host/echo.sock", "mode": "rw"}])"));

  auto file = spec(dir + "/link.sock");
  auto link = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(link.exit_code, 2);
  EXPECT_EQ(link.err, "error: " + file + ":4: host_sockets[0].host_path: " + dir +
                          "/link.sock is a symlink; give the socket's real path\n");
  auto engine = brig({"run", "--dry-run", "--file", spec(dir + "/sockets/api.sock")});
  EXPECT_EQ(engine.exit_code, 2);
  EXPECT_THAT(engine.err, HasSubstr(dir + "/sockets/api.sock resolves to " + dir +
                                    "/podman/api.sock, a podman engine socket; it is never allowed"));
}

// --allow HOST[:PORT] goes through hostname::split_authority, like the spec.
TEST_F(RunDryTest, AllowFlagUsesTheOneAuthorityParser) {
  auto zero = brig({"run", "--dry-run", "--allow", "x.com:0", "img"});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_EQ(zero.err, "error: --allow: invalid port in \"x.com:0\"; write --allow HOST or --allow HOST:PORT\n");
  auto v6 = brig({"run", "--dry-run", "--allow", "2001:db8::1:443", "img"});
  EXPECT_EQ(v6.exit_code, 2);
  EXPECT_THAT(v6.err, StartsWith("error: --allow: an IPv6 address needs brackets"));
  auto j = dry_json({"--allow", "*.example.com:8443", "img"});
  EXPECT_EQ(j["policy"]["allow"][0], "*.example.com:8443");
}

TEST_F(RunDryTest, FlagErrorsNameTheFlag) {
  auto out = brig({"run", "--dry-run", "--memory", "lots", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: --memory: memory: invalid size \"lots\""));
}

TEST_F(RunDryTest, MissingImage) {
  auto out = brig({"run", "--dry-run"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("no image given"));
}

TEST_F(RunDryTest, DirectoryAsImageSuggestsImageBuild) {
  std::filesystem::create_directories(home_ + "/my-cell");
  auto out = brig({"run", "--dry-run", "./my-cell"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("is a directory, not an image; build it first with: brig image build ./my-cell "
                                 "(then brig run localhost/my-cell:latest)"));
}

TEST_F(RunDryTest, EnvWithoutValueIsUsageError) {
  auto out = brig({"run", "--dry-run", "--env", "TOKEN", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("is not KEY=VALUE"));
}

// An unknown key or a wrong type in the file does not hide the other problems:
// every one is reported at once, file:line: field: message each.
TEST_F(RunDryTest, SpecFileErrorsAllAtOnce) {
  auto file = write("cell.yaml", "image: img\nmemroy: 2g\nmemory: 2x\ncpus: [1]\n");
  auto out = brig({"run", "--dry-run", "--file", file});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err, "error: " + file + ":2: unknown key \"memroy\"; did you mean \"memory\"?\n" +
                         "error: " + file + ":3: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or " +
                         "2g\n" +
                         "error: " + file + ":4: cpus: expected a number of CPUs, got a list\n");
}

// Likewise for flags: a malformed --env does not hide --memory 2x.
TEST_F(RunDryTest, FlagErrorsAllAtOnce) {
  auto out = brig({"run", "--dry-run", "--env", "NOEQ", "--memory", "2x", "--allow", "x.com:0", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err,
            "error: --env: \"NOEQ\" is not KEY=VALUE; write --env NAME=value (secrets belong in --secret, never in "
            "the environment)\n"
            "error: --allow: invalid port in \"x.com:0\"; write --allow HOST or --allow HOST:PORT\n"
            "error: --memory: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g\n");
}

TEST_F(RunDryTest, UnknownProfileSuggests) {
  auto out = brig({"run", "--dry-run", "--profile", "untrustd", "img"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("unknown profile \"untrustd\"; did you mean \"untrusted\"?"));
}

TEST_F(RunDryTest, UserProfileShadowsBuiltinAndStaysUntrusted) {
  write("profiles/untrusted.yaml", "memory: 8g\n");
  auto j = dry_json({"--profile", "untrusted", "img"});
  EXPECT_EQ(j["memory"], "8g");
  auto out = brig({"run", "--dry-run", "--profile", "untrusted", "--allow", "x.com", "img"});
  EXPECT_EQ(out.exit_code, 0);
  auto cell = write("cell.yaml", "image: img\nprofile: untrusted\npolicy:\n  allow: [x.com]\n  tls_passthrough: [x.com]\n");
  auto bad = brig({"run", "--dry-run", "--file", cell});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("untrusted profile forbids TLS passthrough"));
}

TEST_F(RunDryTest, ProfileLabelledUntrustedIsUntrusted) {
  write("profiles/locked.yaml", "labels: {brig.profile: untrusted}\n");
  auto cell = write("cell.yaml",
                    "image: img\nprofile: locked\nhost_services:\n  - {name: db, port: 5432, protocol: tcp}\n");
  auto out = brig({"run", "--dry-run", "--file", cell});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("untrusted profile forbids tcp host services"));
}

// SPEC §3 lists --yes, but run never asks a question: the flag is refused,
// never accepted and ignored (with or without --dry-run, long or short).
TEST_F(RunDryTest, YesIsRefusedAsNotSupportedYet) {
  const std::string want =
      "error: --yes: not supported yet (brig run never asks a question today)\n"
      "fix: run the same command without -y/--yes\n";
  for (const auto& argv : std::vector<std::vector<std::string>>{{"run", "--dry-run", "--yes", "img"},
                                                                {"run", "-y", "--dry-run", "img"},
                                                                {"run", "--yes", "img"}}) {
    auto out = brig(argv);
    EXPECT_EQ(out.exit_code, 2) << argv[1];
    EXPECT_EQ(out.out, "");
    EXPECT_EQ(out.err, want);
  }
}

TEST_F(RunDryTest, MissingFileHasFix) {
  auto out = brig({"run", "--dry-run", "--file", "nope.yaml"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("nope.yaml"));
  EXPECT_THAT(out.err, HasSubstr("fix: check the path given to --file"));
}

TEST_F(RunDryTest, TouchesNothing) {
  auto file = write("cell.yaml", kCell);
  auto before = std::distance(std::filesystem::recursive_directory_iterator(home_), {});
  auto out = brig({"run", "--dry-run", "--file", file});
  ASSERT_EQ(out.exit_code, 0);
  auto after = std::distance(std::filesystem::recursive_directory_iterator(home_), {});
  EXPECT_EQ(before, after);
}

TEST_F(RunDryTest, ExampleCellIsValid) {
  auto out = brig({"run", "--dry-run", "--file", std::string(BRIG_SOURCE_DIR) + "/docs/examples/hello.yaml"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
}

}  // namespace
}  // namespace brig::testing
