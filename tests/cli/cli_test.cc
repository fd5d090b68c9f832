// The CLI surface: cheat-sheet, version, unknown commands and flags, stubs.
#include "brig/core/strings.h"
#include "cli/cli_harness.h"

#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(CliTest, BareBrigPrintsGroupedCheatSheet) {
  auto out = brig({});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("Cells\n"));
  EXPECT_THAT(out.out, HasSubstr("Policy\n"));
  EXPECT_THAT(out.out, HasSubstr("System\n"));
  EXPECT_THAT(out.out, HasSubstr("brig run"));
}

TEST_F(CliTest, VersionIsSemver) {
  auto out = brig({"--version"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, ::testing::MatchesRegex("brig [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_F(CliTest, UnknownCommandSuggests) {
  auto out = brig({"clel", "list"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown command \"clel\" for 'brig'; did you mean 'cell'?\n"));
}

TEST_F(CliTest, UnknownVerbSuggests) {
  auto out = brig({"cell", "lst"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown command \"lst\" for 'brig cell'; did you mean 'list'?\n"));
}

TEST_F(CliTest, UnknownFlagSuggests) {
  auto out = brig({"policy", "test", "--metod", "GET", "https://x.com/"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: unknown flag \"--metod\" for 'brig policy test'; did you mean '--method'?\n"));
}

TEST_F(CliTest, UnknownCommandWithoutCloseMatchHasNoSuggestion) {
  auto out = brig({"zzzzzz"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: unknown command \"zzzzzz\" for 'brig'\nfix: see 'brig --help'\n");
}

TEST_F(CliTest, MissingRequiredArgumentIsUsageError) {
  auto out = brig({"policy", "validate"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: "));
}

// Bad input to image build is refused before anything is made: exit 2, one
// line, a fix (no brig system needed: nothing reaches podman).
TEST_F(CliTest, ImageBuildRefusesBadInputFirst) {
  const std::string ctx = home_ + "/agent";
  std::filesystem::create_directories(ctx);
  auto none = brig({"image", "build", ctx});
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_THAT(none.err, HasSubstr("no Containerfile or Dockerfile"));
  EXPECT_THAT(none.err, HasSubstr("fix: "));
  std::ofstream(ctx + "/Containerfile") << "FROM localhost/brig-busybox:latest\n";
  std::ofstream(ctx + "/Containerfile") << "FROM localhost/brig-busybox:latest\nADD https://example.com/x.tgz /x\n";
  auto url = brig({"image", "build", ctx});
  EXPECT_EQ(url.exit_code, 2);
  EXPECT_THAT(url.err, HasSubstr("ADD https://example.com/x.tgz would be fetched by podman on this host"));
  std::ofstream(ctx + "/Containerfile") << "FROM localhost/brig-busybox:latest\n";
  auto tag = brig({"image", "build", ctx, "-t", "Agent:latest"});
  EXPECT_EQ(tag.exit_code, 2);
  EXPECT_THAT(tag.err, HasSubstr("invalid image name \"Agent:latest\""));
  auto arg = brig({"image", "build", ctx, "--build-arg", "NOVALUE"});
  EXPECT_EQ(arg.exit_code, 2);
  EXPECT_THAT(arg.err, HasSubstr("--build-arg \"NOVALUE\" is not KEY=VALUE"));
  auto allow = brig({"image", "build", ctx, "--allow", "pypi.org"});
  EXPECT_EQ(allow.exit_code, 2);
  EXPECT_THAT(allow.err, HasSubstr("fix: add --use-warden"));
  auto file = brig({"image", "build", home_ + "/missing-dir"});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_THAT(file.err, HasSubstr("is not a directory"));
  auto verify = brig({"image", "verify", "localhost/x:1"});
  EXPECT_EQ(verify.exit_code, 2);
  EXPECT_THAT(verify.err, HasSubstr("nothing to verify localhost/x:1 against"));
  auto bad_digest = brig({"image", "verify", "localhost/x:1", "--digest", "sha256:abc"});
  EXPECT_EQ(bad_digest.exit_code, 2);
  EXPECT_THAT(bad_digest.err, HasSubstr("invalid digest"));
  auto local_pull = brig({"image", "pull", "localhost/agent:1"});
  EXPECT_EQ(local_pull.exit_code, 2);
  EXPECT_THAT(local_pull.err, HasSubstr("fix: build it instead: brig image build DIR -t localhost/agent:1"));
}

// The API never listens on TCP: the flags are refused, nothing is served.
TEST_F(CliTest, ApiOnTcpIsNotSupportedYet) {
  auto tcp = brig({"api", "serve", "--listen", "127.0.0.1:9999", "--token-file", home_ + "/token"});
  EXPECT_EQ(tcp.exit_code, 1);
  EXPECT_THAT(tcp.err, HasSubstr("--listen and --token-file: not supported yet"));
  EXPECT_FALSE(std::filesystem::exists(home_ + "/run/api.sock"));
}

TEST_F(CliTest, RunBeforeSystemInitSaysHowToInit) {
  auto out = brig({"run", "localhost/x:latest", "true"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("brig is not initialised here"));
  EXPECT_THAT(out.err, HasSubstr("fix: brig system init"));
  EXPECT_FALSE(std::filesystem::exists(home_ + "/state"));  // nothing was created
}

TEST_F(CliTest, SystemVerbsBeforeInitSayHowToInit) {
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{{"system", "up"}, {"config", "list"}}) {
    auto out = brig(argv);
    EXPECT_EQ(out.exit_code, 1) << argv[0] << " " << argv[1];
    EXPECT_THAT(out.err, HasSubstr("fix: brig system init")) << argv[0] << " " << argv[1];
  }
}

TEST_F(CliTest, NounAloneShowsItsVerbs) {
  auto out = brig({"cell"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("inspect"));
  EXPECT_THAT(out.out, HasSubstr("preflight"));
}

// Each verb's --help is its own page: the exact usage line (the command path
// and its positionals) and every flag the verb has, each at the start of an
// option line. An unregistered verb would fall back to the noun's page (exit
// 0), which has neither.
TEST_F(CliTest, EverySpecVerbHasItsOwnHelpWithItsFlags) {
  struct VerbHelp {
    std::vector<std::string> argv;
    std::string usage;
    std::vector<std::string> flags;
  };
  const std::vector<VerbHelp> verbs = {
      {{"run"}, "Usage: brig run [OPTIONS]", {
        "--name", "-f,--file", "-d,--detach", "--rm", "-e,--env", "-m,--memory", "--cpus", "--pids-limit",
        "--profile", "--secret", "--allow", "--workspace", "--timeout", "--runtime", "-y,--yes", "--keep-workspace",
        "--dry-run"}},
      {{"cell", "list"}, "Usage: brig cell list [OPTIONS]", {"-a,--all", "--format"}},
      {{"cell", "inspect"}, "Usage: brig cell inspect [OPTIONS] CELL", {}},
      {{"cell", "logs"}, "Usage: brig cell logs [OPTIONS] CELL", {"-f,--follow", "--tail"}},
      {{"cell", "exec"}, "Usage: brig cell exec [OPTIONS] CELL [CMD...]", {"-i,--interactive", "-t,--tty"}},
      {{"cell", "shell"}, "Usage: brig cell shell [OPTIONS] CELL", {}},
      {{"cell", "stop"}, "Usage: brig cell stop [OPTIONS] CELL", {"--time"}},
      {{"cell", "kill"}, "Usage: brig cell kill [OPTIONS] CELL", {"--signal"}},
      {{"cell", "start"}, "Usage: brig cell start [OPTIONS] CELL", {}},
      {{"cell", "restart"}, "Usage: brig cell restart [OPTIONS] CELL", {}},
      {{"cell", "rm"}, "Usage: brig cell rm [OPTIONS] CELL", {"--keep-workspace", "--force", "--wait"}},
      {{"cell", "wait"}, "Usage: brig cell wait [OPTIONS] CELL", {}},
      {{"cell", "cp"}, "Usage: brig cell cp [OPTIONS] SRC DST", {}},
      {{"cell", "read"}, "Usage: brig cell read [OPTIONS] CELL PATH", {}},
      {{"cell", "stats"}, "Usage: brig cell stats [OPTIONS] CELL", {}},
      {{"cell", "top"}, "Usage: brig cell top [OPTIONS] CELL", {}},
      {{"cell", "network"}, "Usage: brig cell network [OPTIONS] CELL", {"--blocked", "-f,--follow"}},
      {{"cell", "events"}, "Usage: brig cell events [OPTIONS] CELL", {}},
      {{"cell", "preflight"}, "Usage: brig cell preflight [OPTIONS] FILE", {}},
      {{"cell", "diff"}, "Usage: brig cell diff [OPTIONS] CELL", {}},
      {{"cell", "export"}, "Usage: brig cell export [OPTIONS] CELL", {"-o,--output"}},
      {{"image", "build"}, "Usage: brig image build [OPTIONS] CONTEXT", {
        "-f,--containerfile", "-t,--tag", "--build-arg", "--no-cache", "--use-warden", "--allow", "--file"}},
      {{"image", "pull"}, "Usage: brig image pull [OPTIONS] IMAGE", {"--insecure"}},
      {{"image", "list"}, "Usage: brig image list [OPTIONS]", {}},
      {{"image", "rm"}, "Usage: brig image rm [OPTIONS] IMAGE...", {}},
      {{"image", "verify"}, "Usage: brig image verify [OPTIONS] [IMAGE]", {"--digest", "--file", "--signature-policy"}},
      {{"api", "serve"}, "Usage: brig api serve [OPTIONS]", {"--socket", "--pidfile", "--listen", "--token-file"}},
      {{"system", "init"}, "Usage: brig system init [OPTIONS]", {"--accept-weaker-network"}},
      {{"system", "up"}, "Usage: brig system up [OPTIONS]", {}},
      {{"system", "down"}, "Usage: brig system down [OPTIONS]", {}},
      {{"system", "restart"}, "Usage: brig system restart [OPTIONS]", {}},
      {{"system", "doctor"}, "Usage: brig system doctor [OPTIONS]", {"--quick"}},
      {{"system", "verify"}, "Usage: brig system verify [OPTIONS]", {}},
      {{"system", "prune"}, "Usage: brig system prune [OPTIONS]", {"--cells", "--logs", "--subnets", "--dry-run"}},
      {{"system", "stats"}, "Usage: brig system stats [OPTIONS]", {}},
      {{"system", "events"}, "Usage: brig system events [OPTIONS]", {"-f,--follow"}},
      {{"system", "history"}, "Usage: brig system history [OPTIONS]", {}},
      {{"policy", "validate"}, "Usage: brig policy validate [OPTIONS] FILE", {}},
      {{"policy", "show"}, "Usage: brig policy show [OPTIONS] [CELL]", {"--policy"}},
      {{"policy", "test"}, "Usage: brig policy test [OPTIONS] TARGET", {"--method", "--policy", "-f,--file", "--cell"}},
      {{"policy", "set"}, "Usage: brig policy set [OPTIONS] CELL", {"--allow", "--deny", "--passthrough", "--remove"}},
      {{"policy", "rm"}, "Usage: brig policy rm [OPTIONS] CELL", {}},
      {{"secrets", "add"}, "Usage: brig secrets add [OPTIONS] NAME [SOURCE]", {}},
      {{"secrets", "list"}, "Usage: brig secrets list [OPTIONS]", {}},
      {{"secrets", "rm"}, "Usage: brig secrets rm [OPTIONS] NAME", {"--force"}},
      {{"config", "get"}, "Usage: brig config get [OPTIONS] KEY", {}},
      {{"config", "set"}, "Usage: brig config set [OPTIONS] KEY VALUE", {}},
      {{"config", "list"}, "Usage: brig config list [OPTIONS]", {}},
      {{"vm", "create"}, "Usage: brig vm create [OPTIONS]", {"--force-vm", "--cpus", "--memory", "--disk", "--source"}},
      {{"vm", "start"}, "Usage: brig vm start [OPTIONS]", {"--force-vm"}},
      {{"vm", "stop"}, "Usage: brig vm stop [OPTIONS]", {"--force-vm"}},
      {{"vm", "status"}, "Usage: brig vm status [OPTIONS]", {"--force-vm"}},
      {{"vm", "shell"}, "Usage: brig vm shell [OPTIONS] [cmd...]", {"--force-vm"}},
      {{"vm", "delete"}, "Usage: brig vm delete [OPTIONS]", {"--force-vm", "--force"}},
      {{"warden", "serve"}, "Usage: brig warden serve [OPTIONS]", {
        "--config", "--proxy-listen", "--ops-listen", "--ingress-listen", "--dns-listen", "--http-listen", "--https-listen",
        "--resolve", "--upstream-ca", "--threads"}},
      {{"warden", "status"}, "Usage: brig warden status [OPTIONS]", {}},
      {{"warden", "stats"}, "Usage: brig warden stats [OPTIONS]", {}},
      {{"warden", "health"}, "Usage: brig warden health [OPTIONS]", {}},
      {{"warden", "policy"}, "Usage: brig warden policy [OPTIONS] [SUBCOMMAND]", {}},
      {{"warden", "policy", "validate"}, "Usage: brig warden policy validate [OPTIONS] FILE", {}},
  };
  for (const auto& v : verbs) {
    std::vector<std::string> argv = v.argv;
    argv.push_back("--help");
    auto out = brig(argv);
    const std::string cmd = ::testing::PrintToString(v.argv);
    EXPECT_EQ(out.exit_code, 0) << cmd;
    EXPECT_THAT(out.out, HasSubstr("\n" + v.usage + "\n")) << cmd;
    for (const auto& flag : v.flags) EXPECT_THAT(out.out, HasSubstr("\n  " + flag + " ")) << cmd << " " << flag;
  }
}

TEST_F(CliTest, AnUnknownVerbsHelpIsTheNounsPage) {
  // Why the usage line is checked above: help for a verb that does not exist
  // still exits 0 (CLI11 answers --help before it rejects the extra word).
  auto out = brig({"cell", "bogus", "--help"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("\nUsage: brig cell [OPTIONS] [SUBCOMMAND]\n"));
}

TEST_F(CliTest, VmStatusOnLinuxSaysNative) {
  auto out = brig({"vm", "status"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.out, HasSubstr("native"));
  auto js = brig({"--format", "json", "vm", "status"});
  EXPECT_THAT(js.out, HasSubstr("\"mode\": \"native\""));
}

TEST_F(CliTest, BadFormatValueIsUsageError) {
  auto out = brig({"--format", "yaml", "vm", "status"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: "));
}

}  // namespace
}  // namespace brig::testing

namespace brig::testing {
namespace {

TEST_F(CliTest, CellNetworkTagsLines) {
  write("logs/cells/c1.jsonl.1",
        R"({"ts":"2026-01-01T00:00:00.000Z","cell":"c1","kind":"http","tls":"none","method":"GET","host":"old.test","port":80,"path":"/","status":200,"decision":"allow","rule":"r","reason":"","bytes_in":1,"bytes_out":2,"duration_ms":1.5})"
        "\n");
  write("logs/cells/c1.jsonl",
        R"({"ts":"2026-01-01T00:00:01.000Z","cell":"c1","kind":"http","tls":"mitm","method":"GET","host":"api.test","port":443,"path":"/v1","status":200,"decision":"allow","rule":"r","reason":"","bytes_in":10,"bytes_out":20,"duration_ms":3.25})"
        "\n"
        R"({"ts":"2026-01-01T00:00:02.000Z","cell":"c1","kind":"http","tls":"none","method":"GET","host":"evil.test","port":80,"path":"/x","status":403,"decision":"deny","rule":"default deny","reason":"default deny: no allow rule matches the host","bytes_in":0,"bytes_out":0,"duration_ms":0.1})"
        "\n"
        R"({"ts":"2026-01-01T00:00:03.000Z","cell":"c1","kind":"connect","tls":"passthrough","method":"CONNECT","host":"pass.test","port":443,"path":"","status":200,"decision":"allow","rule":"r","reason":"","bytes_in":943,"bytes_out":750,"duration_ms":12})"
        "\nnot json\n");
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-01-01T00:00:00.000Z OUT: GET old.test:80/ 200 1.5ms\n"
            "2026-01-01T00:00:01.000Z OUT: GET api.test:443/v1 200 3.2ms\n"
            "2026-01-01T00:00:02.000Z BLOCKED: GET evil.test:80/x 403 0.1ms (default deny: no allow rule matches the host)\n"
            "2026-01-01T00:00:03.000Z PASSTHROUGH: pass.test:443 sni=pass.test in=943 out=750\n");
  auto blocked = brig({"cell", "network", "c1", "--blocked"});
  EXPECT_EQ(blocked.out,
            "2026-01-01T00:00:02.000Z BLOCKED: GET evil.test:80/x 403 0.1ms (default deny: no allow rule matches the host)\n");
}

// Requests from outside (warden's ingress): who asked, for what, on which route.
TEST_F(CliTest, CellNetworkShowsIngressRequests) {
  write("logs/cells/c1.jsonl",
        R"({"ts":"2026-01-01T00:00:01.000Z","cell":"c1","kind":"ingress","client":"127.0.0.1:51000","route":"web","method":"POST","host":"c1.localhost","path":"/api/run","status":200,"decision":"allow","bytes_in":120,"bytes_out":3400,"duration_ms":42.5})"
        "\n"
        R"({"ts":"2026-01-01T00:00:02.000Z","cell":"c1","kind":"ingress","client":"127.0.0.1:51001","route":"","method":"GET","host":"c1.localhost","path":"/","status":401,"decision":"deny","reason":"bad token","bytes_in":0,"bytes_out":0,"duration_ms":0.2})"
        "\n");
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-01-01T00:00:01.000Z INGRESS: 127.0.0.1:51000 -> POST /api/run (route=web) 200 in=120 out=3400 42.5ms\n"
            "2026-01-01T00:00:02.000Z INGRESS: 127.0.0.1:51001 -> GET / (route=-) 401 in=0 out=0 0.2ms (bad token)\n");
  auto blocked = brig({"cell", "network", "c1", "--blocked"});
  EXPECT_EQ(blocked.out,
            "2026-01-01T00:00:02.000Z INGRESS: 127.0.0.1:51001 -> GET / (route=-) 401 in=0 out=0 0.2ms (bad token)\n");
}

// A time-boxed grant lapsing is a policy event in the cell's log; a tunnel
// the change cut says so.
TEST_F(CliTest, CellNetworkShowsALapsedGrantAndACutTunnel) {
  write("logs/cells/c1.jsonl",
        R"({"ts":"2026-01-01T00:00:05.000Z","cell":"c1","kind":"policy","decision":"expire","generation":7,"rule":"allow api.test until 2026-01-01T00:00:05Z","reason":"time-boxed grant lapsed"})"
        "\n"
        R"({"ts":"2026-01-01T00:00:06.000Z","cell":"c1","kind":"connect","tls":"passthrough","method":"CONNECT","host":"api.test","port":443,"path":"","status":200,"decision":"allow","generation":7,"rule":"","reason":"closed by warden: policy generation 7 no longer allows this connection","bytes_in":10,"bytes_out":5,"duration_ms":9})"
        "\n");
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-01-01T00:00:05.000Z POLICY: allow api.test until 2026-01-01T00:00:05Z (time-boxed grant lapsed)\n"
            "2026-01-01T00:00:06.000Z PASSTHROUGH: api.test:443 sni=api.test in=10 out=5 (closed by warden: policy "
            "generation 7 no longer allows this connection)\n");
  EXPECT_EQ(brig({"cell", "network", "c1", "--blocked"}).out, "");
}

// Warden's resolver refusing a name, and requests taken on warden's :80/:443
// from clients that ignore the proxy variables.
TEST_F(CliTest, CellNetworkShowsDnsRefusalsAndTransparentRequests) {
  write("logs/cells/c1.jsonl",
        R"({"ts":"2026-01-01T00:00:01.000Z","cell":"c1","kind":"dns","host":"evil.test","decision":"deny","reason":"default deny: no allow rule matches the host"})"
        "\n"
        R"({"ts":"2026-01-01T00:00:02.000Z","cell":"c1","kind":"http","tls":"none","method":"GET","host":"api.test","port":80,"path":"/","status":200,"decision":"allow","rule":"r","reason":"","bytes_in":1,"bytes_out":2,"duration_ms":1.5,"transparent":true})"
        "\n"
        R"({"ts":"2026-01-01T00:00:03.000Z","cell":"c1","kind":"connect","tls":"passthrough","method":"CONNECT","host":"pass.test","port":443,"path":"","status":200,"decision":"allow","rule":"r","reason":"","bytes_in":943,"bytes_out":750,"duration_ms":12,"transparent":true})"
        "\n"
        R"({"ts":"2026-01-01T00:00:04.000Z","cell":"c1","kind":"http","tls":"mitm","method":"GET","host":"evil.test","port":443,"path":"/x","status":403,"decision":"deny","rule":"","reason":"default deny: no allow rule matches the host","bytes_in":0,"bytes_out":0,"duration_ms":0.1,"transparent":true})"
        "\n");
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-01-01T00:00:01.000Z BLOCKED: dns evil.test (default deny: no allow rule matches the host)\n"
            "2026-01-01T00:00:02.000Z OUT: GET api.test:80/ 200 1.5ms (transparent)\n"
            "2026-01-01T00:00:03.000Z PASSTHROUGH: pass.test:443 sni=pass.test in=943 out=750 (transparent)\n"
            "2026-01-01T00:00:04.000Z BLOCKED: GET evil.test:443/x 403 0.1ms (default deny: no allow rule matches the "
            "host) (transparent)\n");
  EXPECT_EQ(brig({"cell", "network", "c1", "--blocked"}).out,
            "2026-01-01T00:00:01.000Z BLOCKED: dns evil.test (default deny: no allow rule matches the host)\n"
            "2026-01-01T00:00:04.000Z BLOCKED: GET evil.test:443/x 403 0.1ms (default deny: no allow rule matches the "
            "host) (transparent)\n");
}

// Host services: HTTP requests and TCP connections tagged HOST:, a refused
// one BLOCKED:.
TEST_F(CliTest, CellNetworkShowsHostServices) {
  write("logs/cells/c1.jsonl",
        R"({"ts":"2026-01-01T00:00:01.000Z","cell":"c1","kind":"http","tls":"none","method":"GET","host":"llm.host.brig","port":80,"path":"/v1","status":200,"decision":"allow","rule":"host service llm","reason":"","bytes_in":1,"bytes_out":2,"duration_ms":1.5,"host_service":"llm"})"
        "\n"
        R"({"ts":"2026-01-01T00:00:02.000Z","cell":"c1","kind":"tcp","host":"db.host.brig","port":5432,"decision":"allow","reason":"","bytes_in":120,"bytes_out":4096,"duration_ms":2500,"host_service":"db"})"
        "\n"
        R"({"ts":"2026-01-01T00:00:03.000Z","cell":"c1","kind":"tcp","host":"db.host.brig","port":6379,"decision":"deny","reason":"no tcp host service on port 6379","bytes_in":0,"bytes_out":0,"duration_ms":0,"host_service":""})"
        "\n");
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-01-01T00:00:01.000Z HOST: GET llm.host.brig:80/v1 200 1.5ms\n"
            "2026-01-01T00:00:02.000Z HOST: tcp db (db.host.brig:5432) in=120 out=4096 2500.0ms\n"
            "2026-01-01T00:00:03.000Z BLOCKED: tcp - (db.host.brig:6379) in=0 out=0 0.0ms (no tcp host service on port 6379)\n");
}

TEST_F(CliTest, CellNetworkUnknownCellAndBadName) {
  auto missing = brig({"cell", "network", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("no cell named \"nope\""));
  auto bad = brig({"cell", "network", "../etc"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(CliTest, WardenStatusWhenNotRunning) {
  auto out = brig({"warden", "status"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, ::testing::HasSubstr("warden is not running"));
  EXPECT_THAT(out.err, ::testing::HasSubstr("fix: start it with: brig system up"));
}

TEST_F(CliTest, DoctorQuickWorksWhenNothingIsUp) {
  auto out = brig({"system", "doctor", "--quick"});
  EXPECT_EQ(out.exit_code, 1);  // not initialised is a failure, reported like any other check
  EXPECT_THAT(out.out, HasSubstr("[WARN]  boundary"));
  EXPECT_THAT(out.out, HasSubstr("[FAIL]  config"));
  EXPECT_THAT(out.out, HasSubstr("fix: brig system init"));
  EXPECT_EQ(out.err, "");
}

TEST_F(CliTest, SecretsRoundTripWithoutEverPrintingTheValue) {
  auto add = brig({"secrets", "add", "api-key", "-"}, "hunter2-value");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(add.out, Not(HasSubstr("hunter2")));
  auto list = brig({"secrets", "list"});
  EXPECT_THAT(list.out, HasSubstr("api-key"));
  EXPECT_THAT(list.out, HasSubstr("13 bytes"));
  EXPECT_THAT(list.out, Not(HasSubstr("hunter2")));
  auto bad = brig({"secrets", "add", "../escape", "-"}, "x");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("invalid secret name"));
  EXPECT_FALSE(std::filesystem::exists(home_ + "/escape"));
  EXPECT_EQ(brig({"secrets", "rm", "api-key"}).exit_code, 0);
  EXPECT_EQ(brig({"secrets", "rm", "api-key"}).exit_code, 1);
}

TEST_F(CliFakePodmanTest, SecretsRmFailsClosedWhenCellsCannotBeListed) {
  ASSERT_EQ(brig({"secrets", "add", "api-key", "-"}, "v").exit_code, 0);
  auto out = brig_with_podman("echo 'Error: cannot connect to Podman' >&2; exit 125\n", {"secrets", "rm", "api-key"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err,
            "error: cannot tell which running cells use secret api-key: podman ps failed: Error: cannot connect to "
            "Podman\nfix: brig secrets rm api-key --force (if no running cell uses it)\n");
  EXPECT_TRUE(std::filesystem::exists(home_ + "/secrets/api-key"));
  // The fix works.
  auto forced = brig_with_podman("exit 125\n", {"secrets", "rm", "api-key", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_FALSE(std::filesystem::exists(home_ + "/secrets/api-key"));
}

TEST_F(CliFakePodmanTest, CellListShowsADamagedRecord) {
  write("state/bad/cell-state.json", "{\"name\": \"bad\"}");
  auto json = brig_with_podman("echo '[]'\n", {"cell", "list", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto rows = nlohmann::json::parse(json.out);
  ASSERT_EQ(rows.size(), 1u) << json.out;
  EXPECT_EQ(rows[0]["name"], "bad");
  EXPECT_EQ(rows[0]["state"], "damaged");
  EXPECT_THAT(rows[0]["reason"].get<std::string>(), ::testing::StartsWith("cell bad: cell state is damaged: "));
  auto table = brig_with_podman("echo '[]'\n", {"cell", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("\nbad                      damaged    cell bad: cell state is damaged: "));
  EXPECT_THAT(table.out, ::testing::EndsWith(" (fix: brig cell rm bad)\n"));
}

}  // namespace
}  // namespace brig::testing

namespace brig::testing {
namespace {

TEST_F(CliTest, CellNetworkReadsEveryRotatedFileOldestFirst) {
  auto line = [](const char* ts, const char* host) {
    return std::string(R"({"ts":")") + ts + R"(","cell":"c1","kind":"http","tls":"none","method":"GET","host":")" + host +
           R"(","port":80,"path":"/","status":200,"decision":"allow","duration_ms":1})" + "\n";
  };
  write("logs/cells/c1.jsonl.4", line("t4", "oldest.test"));
  write("logs/cells/c1.jsonl.2", line("t2", "older.test"));
  write("logs/cells/c1.jsonl", line("t0", "now.test"));
  auto out = brig({"cell", "network", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "t4 OUT: GET oldest.test:80/ 200 1.0ms\n"
            "t2 OUT: GET older.test:80/ 200 1.0ms\n"
            "t0 OUT: GET now.test:80/ 200 1.0ms\n");
}

// A cell's events are the lines whose "cell" is that cell, not lines that
// mention it somewhere.
TEST_F(CliTest, CellEventsAreTheCellsOwn) {
  write("logs/events.jsonl",
        "{\"cell\":\"c1\",\"event\":\"create\",\"ts\":\"t1\"}\n"
        "{\"cell\":\"c10\",\"event\":\"create\",\"ts\":\"t2\"}\n"
        "{\"cell\":\"c2\",\"event\":\"rollback\",\"peer\":{\"cell\":\"c1\"},\"ts\":\"t3\"}\n"
        "not json \"cell\":\"c1\"\n"
        "{\"event\":\"warden_stop\",\"ts\":\"t4\"}\n"
        "{\"cell\":\"c1\",\"event\":\"rm\",\"ts\":\"t5\"}\n");
  auto out = brig({"--format", "json", "cell", "events", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "{\"cell\":\"c1\",\"event\":\"create\",\"ts\":\"t1\"}\n{\"cell\":\"c1\",\"event\":\"rm\",\"ts\":\"t5\"}\n");
  // Text: one readable line per event, as system events prints them.
  auto text = brig({"cell", "events", "c1"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  auto lines = str::split(std::string(str::trim(text.out)), '\n');
  ASSERT_EQ(lines.size(), 2u) << text.out;
  EXPECT_THAT(lines[0], HasSubstr("create"));
  EXPECT_THAT(lines[1], HasSubstr("rm"));
  EXPECT_NE(lines[0].front(), '{');
}

TEST_F(CliTest, SystemEventsPrintsTheFileAndReportsAnUnreadableOne) {
  write("logs/events.jsonl", "{\"event\":\"init\",\"ts\":\"t\"}\n");
  auto out = brig({"system", "events", "--format", "json"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "{\"event\":\"init\",\"ts\":\"t\"}\n");
  // Not "no events yet": the file is there and cannot be read.
  std::filesystem::remove(home_ + "/logs/events.jsonl");
  std::filesystem::create_directories(home_ + "/logs/events.jsonl");
  auto bad = brig({"system", "events"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "error: " + home_ + "/logs/events.jsonl is a directory, not a file\n");
}

TEST_F(CliTest, WardenStatusWithADamagedRuntimeFile) {
  write("run/warden.json", "{\"proxy\":\"127.0.0.1:3128\",\"pid\":1}\n");
  auto out = brig({"warden", "status"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("warden.json is unreadable: \"ops\" must be a non-empty string (ADDR:PORT)"));
  EXPECT_THAT(out.err, HasSubstr("fix: restart warden: brig system restart"));
}

}  // namespace
}  // namespace brig::testing

// brig cell: handlers that parse, call the engine, print.
namespace brig::testing {
namespace {

TEST_F(CliTest, CellEventsMatchTheCellFieldExactly) {
  write("logs/events.jsonl",
        "{\"cell\":\"a\",\"event\":\"run\",\"ts\":\"t1\"}\n"
        "{\"cell\":\"ab\",\"event\":\"run\",\"ts\":\"t2\"}\n"
        "{\"cell\":\"xa\",\"event\":\"rm\",\"ts\":\"t3\",\"extra\":{\"cell\":\"a\"}}\n"
        "{\"event\":\"up\",\"ts\":\"t4\"}\n");
  auto a = brig({"--format", "json", "cell", "events", "a"});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, "{\"cell\":\"a\",\"event\":\"run\",\"ts\":\"t1\"}\n");
  auto none = brig({"cell", "events", "b"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "no events for b\n");
}

TEST_F(CliTest, CellCpWithoutACellIsUsage) {
  auto out = brig({"cell", "cp", "a", "./dir/b:c"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err,
            "error: neither side names a cell\nfix: brig cell cp CELL:/work/file ./file  or  brig cell cp ./file "
            "CELL:/work/\n");
}

TEST_F(CliTest, CellExecWithoutACommandIsUsage) {
  auto out = brig({"cell", "exec", "c1"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: no command given\nfix: brig cell exec c1 -- ls\n");
}

}  // namespace
}  // namespace brig::testing
