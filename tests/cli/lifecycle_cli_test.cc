// What brig prints about a cell's lifecycle: system events and history, cell
// list, inspect, start, wait and stats (over a fake podman), warden stats
// (over a one-shot /metrics server).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kEvents =
    R"({"cell":"c1","event":"create","image":"busybox","runtime":"runsc","subnet":"10.60.1.0/24","ts":"2026-12-01T10:00:00Z"})"
    "\n"
    R"({"cell":"c1","event":"start","ts":"2026-12-01T10:00:00Z"})"
    "\n"
    R"({"cell":"c1","duration_s":3.1,"event":"exit","exit_code":124,"podman_exit_code":255,"reason":"timeout","ts":"2026-12-01T10:00:03Z"})"
    "\n"
    R"({"cell":"c1","event":"rm","exit_code":124,"kept_workspace":"","reason":"timeout","ts":"2026-12-01T10:00:04Z"})"
    "\n"
    R"({"cell":"c2","event":"create","image":"alpine","ts":"2026-12-01T10:01:00Z"})"
    "\n"
    R"({"cell":"c2","event":"start","ts":"2026-12-01T10:01:00Z"})"
    "\n"
    R"({"event":"warden_stop","ts":"2026-12-01T10:02:00Z"})"
    "\n";

TEST_F(CliTest, SystemEventsPrintsOneReadableLinePerEvent) {
  write("logs/events.jsonl", kEvents);
  auto out = brig({"system", "events"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "2026-12-01T10:00:00Z  create    c1  image=busybox  runtime=runsc  subnet=10.60.1.0/24\n"
            "2026-12-01T10:00:00Z  start     c1\n"
            "2026-12-01T10:00:03Z  exit      c1  duration_s=3.1  exit_code=124  podman_exit_code=255  reason=timeout\n"
            "2026-12-01T10:00:04Z  rm        c1  exit_code=124  reason=timeout\n"
            "2026-12-01T10:01:00Z  create    c2  image=alpine\n"
            "2026-12-01T10:01:00Z  start     c2\n"
            "2026-12-01T10:02:00Z  warden_stop -\n");
}

TEST_F(CliTest, SystemEventsInJsonIsTheFileAsStored) {
  write("logs/events.jsonl", kEvents);
  auto out = brig({"system", "events", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, kEvents);
}

TEST_F(CliTest, SystemHistoryListsPastCellsAndHowTheyEnded) {
  write("logs/events.jsonl", kEvents);
  auto out = brig({"system", "history"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "NAME                     IMAGE                            EXIT         DURATION  CREATED              REMOVED\n"
            "c1                       busybox                          timeout      3.1s      2026-12-01T10:00:00Z "
            "2026-12-01T10:00:04Z\n"
            "c2                       alpine                           -            -         2026-12-01T10:01:00Z -\n");
  auto json = brig({"system", "history", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto rows = nlohmann::json::parse(json.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["exit_code"], 124);
  EXPECT_EQ(rows[0]["reason"], "timeout");
  EXPECT_EQ(rows[0]["duration_s"], 3.1);
  EXPECT_EQ(rows[0]["removed"], "2026-12-01T10:00:04Z");
  EXPECT_TRUE(rows[1]["exit_code"].is_null());
  EXPECT_TRUE(rows[1]["removed"].is_null());
}

TEST_F(CliTest, SystemHistoryWithoutCells) {
  auto out = brig({"system", "history"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "no cells yet (brig run records them)\n");
}

// Serves `body` to `requests` HTTP requests on 127.0.0.1 (port chosen by the
// kernel), then stops.
class OneShotHttp {
 public:
  OneShotHttp(std::string body, int requests) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, requests] {
      for (int i = 0; i < requests; ++i) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        (void)::read(c, buf, sizeof buf);
        const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
                                  "\r\nConnection: close\r\n\r\n" + body_;
        (void)::write(c, reply.data(), reply.size());
        ::close(c);
      }
    });
  }
  ~OneShotHttp() {
    thread_.join();
    ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string metrics_for(const std::string& cell) {
  return "brig_warden_requests_total{cell=\"" + cell + "\",decision=\"allow\"} 100\n" +
         "brig_warden_request_duration_seconds_bucket{cell=\"" + cell + "\",le=\"0.001\"} 90\n" +
         "brig_warden_request_duration_seconds_bucket{cell=\"" + cell + "\",le=\"0.05\"} 90\n" +
         "brig_warden_request_duration_seconds_bucket{cell=\"" + cell + "\",le=\"0.1\"} 100\n" +
         "brig_warden_request_duration_seconds_bucket{cell=\"" + cell + "\",le=\"+Inf\"} 100\n" +
         "brig_warden_ingress_requests_total{cell=\"" + cell + "\",route=\"web\",code=\"200\"} 7\n" +
         "brig_warden_ingress_requests_total{cell=\"" + cell + "\",route=\"web\",code=\"401\"} 2\n";
}

TEST_F(CliTest, WardenStatsShowsTheCellsThatExistWithInterpolatedPercentiles) {
  OneShotHttp ops(metrics_for("live") + metrics_for("gone"), 2);
  write("run/warden.json", "{\"proxy\":\"127.0.0.1:3128\",\"ops\":\"" + ops.address() + "\",\"pid\":" +
                               std::to_string(::getpid()) + "}\n");
  write("state/live/cell-state.json", "{}");
  auto out = brig({"warden", "stats"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out,
            "CELL                       REQUESTS   BLOCKED     BYTES IN    BYTES OUT   P50 MS   P95 MS   P99 MS  INGRESS\n"
            "live                            100      0.0%            0            0      0.6     75.0     95.0        9\n"
            "(1 removed cell not shown; --format json lists them)\n");
  auto json = brig({"warden", "stats", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["gone"]["removed"], true);
  EXPECT_EQ(j["live"]["removed"], false);
  EXPECT_EQ(j["live"]["p95_ms"], 75.0);
  EXPECT_EQ(j["live"]["ingress"], 9.0);
}

// Cell c1's record: its spec has a 3s timeout.
class CellCli : public CliFakePodmanTest {
 protected:
  void SetUp() override {
    CliFakePodmanTest::SetUp();
    nlohmann::json rec = {{"name", "c1"},
                          {"image", "busybox"},
                          {"runtime", "runsc"},
                          {"runsc_network", "sandbox"},
                          {"subnet", 1},
                          {"workspace", home_ + "/state/c1/workspace"},
                          {"workspace_mount", "/work"},
                          {"created", "2026-12-01T10:00:00Z"},
                          {"spec",
                           {{"name", "c1"},
                            {"image", "busybox"},
                            {"profile", "supervised"},
                            {"command", {"sh", "-c", "sleep 120; echo done"}},
                            {"memory", "512m"},
                            {"cpus", 1.5},
                            {"pids_limit", 256},
                            {"timeout", "3s"},
                            {"policy", {{"allow", {"pypi.org", "files.pythonhosted.org"}}, {"deny", nlohmann::json::array()}}}}}};
    write("state/c1/cell-state.json", rec.dump());
  }
  // A podman that answers as for a cell in `state` ("running 0", "exited 255")
  // that ran 3.1 s; ps, stats and wait as given.
  std::string podman(const std::string& state, const std::string& ps = "[]", const std::string& wait = "0") {
    return "case \"$*\" in\n"
           "  *OOMKilled*) echo 'false 1700000000000000000 1700000003100000000';;\n"
           "  *State.Status*) echo '" + state + "';;\n"
           "  *State.Running*) case '" + state + "' in running*) echo true;; *) echo false;; esac;;\n"
           "  ps*) echo '" + ps + "';;\n"
           "  wait*) echo '" + wait + "';;\n"
           "  stats*) echo '[{\"name\": \"brig-c1\", \"cpu_percent\": \"1.50%\", \"mem_usage\": \"10MB / 512MB\", "
           "\"mem_percent\": \"1.95%\", \"net_io\": \"1kB / 2kB\", \"block_io\": \"0B / 0B\", \"pids\": \"3\"}]';;\n"
           "esac\n";
  }
};

TEST_F(CliFakePodmanTest, AnEmptyCellListIsJustNoCells) {
  auto all = brig_with_podman("echo '[]'\n", {"cell", "list", "--all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "no cells\n");
  auto running = brig_with_podman("echo '[]'\n", {"cell", "list"});
  EXPECT_EQ(running.out, "no running cells (--all shows stopped ones)\n");
  auto json = brig_with_podman("echo '[]'\n", {"cell", "list", "--format", "json"});
  EXPECT_EQ(json.out, "[]\n");
}

TEST_F(CellCli, ListInJsonHasNoExitCodeWhileRunning) {
  auto out = brig_with_podman(podman("running 0", R"([{"Names": ["brig-c1"], "State": "running", "ExitCode": 0}])"),
                              {"cell", "list", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto rows = nlohmann::json::parse(out.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0]["exit_code"].is_null()) << out.out;
  EXPECT_FALSE(rows[0].contains("exit_reason"));
}

TEST_F(CellCli, ListInJsonSaysATimedOutCellExited124) {
  auto out = brig_with_podman(
      podman("exited 255",
             R"([{"Names": ["brig-c1"], "State": "exited", "ExitCode": 255, "StartedAt": 1700000000, "ExitedAt": 1700000003}])"),
      {"cell", "list", "--all", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto rows = nlohmann::json::parse(out.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["exit_code"], 124);
  EXPECT_EQ(rows[0]["exit_reason"], "timeout");
}

TEST_F(CellCli, InspectShowsTheExitCodeAndTheResolvedSpec) {
  auto out = brig_with_podman(podman("exited 255"), {"cell", "inspect", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("state            exited\nexit code        124 (stopped after the 3s timeout)\n"));
  EXPECT_THAT(out.out, HasSubstr("\nspec:\n"
                                 "  profile        supervised\n"
                                 "  command        [\"sh\",\"-c\",\"sleep 120; echo done\"]\n"
                                 "  memory         512m\n"
                                 "  cpus           1.5\n"
                                 "  pids_limit     256\n"
                                 "  timeout        3s\n"
                                 "  policy         allow: pypi.org, files.pythonhosted.org; deny: (none)\n"));
  EXPECT_THAT(out.out, HasSubstr("mount            " + home_ + "/state/c1/workspace -> /work (rw)\n"));
}

TEST_F(CellCli, InspectOfARunningCellHasNoExitCode) {
  auto out = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, Not(HasSubstr("exit code")));
  auto json = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1", "--format", "json"});
  EXPECT_TRUE(nlohmann::json::parse(json.out)["exit_code"].is_null()) << json.out;
}

// A cell with ingress: where its routes answer, one URL each.
TEST_F(CellCli, InspectShowsTheIngressUrls) {
  auto rec = nlohmann::json::parse(read("state/c1/cell-state.json"));
  rec["spec"]["ingress"] = nlohmann::json::parse(
      R"([{"name": "web", "port": 8080, "path_prefix": "/", "auth": "bearer"},
          {"name": "api", "port": 9000, "path_prefix": "/api", "auth": "bearer"}])");
  write("state/c1/cell-state.json", rec.dump());
  auto out = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("ingress          https://c1.localhost:8443/ (route web -> port 8080)\n"
                                 "ingress          https://c1.localhost:8443/api (route api -> port 9000)\n"));
  auto json = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1", "--format", "json"});
  EXPECT_EQ(nlohmann::json::parse(json.out)["ingress"], nlohmann::json::parse(R"([
    {"name": "web", "port": 8080, "path_prefix": "/", "url": "https://c1.localhost:8443/"},
    {"name": "api", "port": 9000, "path_prefix": "/api", "url": "https://c1.localhost:8443/api"}])"));
}

// An injected secret: its variable and hosts, one line; never the value
// (which the record does not hold) nor the placeholder.
TEST_F(CellCli, InspectShowsAnInjectedSecretAsVariableAndHosts) {
  auto rec = nlohmann::json::parse(read("state/c1/cell-state.json"));
  rec["secrets"] = {"openai-key"};
  rec["injected_secrets"] = nlohmann::json::parse(R"([{"name": "llm-key", "env": "OPENAI_API_KEY",
    "placeholder": "brig-secret-llm-key-0123456789abcdef0123456789abcdef",
    "hosts": ["api.openai.com", "*.anthropic.com"], "allow_plaintext": false}])");
  write("state/c1/cell-state.json", rec.dump());
  write("secrets/llm-key", "sk-live-value\n");
  auto out = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("secret           llm-key -> $OPENAI_API_KEY for api.openai.com, *.anthropic.com\n"));
  EXPECT_THAT(out.out, HasSubstr("mount            " + home_ + "/secrets/openai-key -> /run/secrets/openai-key (ro)\n"));
  EXPECT_THAT(out.out, Not(HasSubstr("/run/secrets/llm-key")));
  EXPECT_THAT(out.out, Not(HasSubstr("brig-secret-llm-key-")));
  EXPECT_THAT(out.out, Not(HasSubstr("sk-live-value")));
  auto json = brig_with_podman(podman("running 0"), {"cell", "inspect", "c1", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["injected_secrets"], nlohmann::json::parse(R"([{"name": "llm-key",
    "env": "OPENAI_API_KEY", "hosts": ["api.openai.com", "*.anthropic.com"], "allow_plaintext": false}])"));
  EXPECT_THAT(json.out, Not(HasSubstr("brig-secret-llm-key-")));
  EXPECT_THAT(json.out, Not(HasSubstr("sk-live-value")));
}

TEST_F(CellCli, StartOfARunningCellSaysItIsAlreadyRunning) {
  auto out = brig_with_podman(podman("running 0"), {"cell", "start", "c1"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "c1 is already running\n");
}

TEST_F(CellCli, WaitSaysTheTimeout) {
  auto out = brig_with_podman(podman("exited 255", "[]", "255"), {"cell", "wait", "c1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "124\n");
  EXPECT_EQ(out.err, "cell c1 stopped after the 3s timeout\n");
}

TEST_F(CellCli, StatsShowTheCellsNameAndHonourJson) {
  auto text = brig_with_podman(podman("running 0"), {"cell", "stats", "c1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("\nc1   "));
  EXPECT_THAT(text.out, Not(HasSubstr("brig-c1")));
  auto json = brig_with_podman(podman("running 0"), {"cell", "stats", "c1", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["cell"], "c1");
  EXPECT_EQ(j["cpu_percent"], "1.50%");
  EXPECT_EQ(j["memory_usage"], "10MB / 512MB");
  EXPECT_EQ(j["pids"], "3");
}

}  // namespace
}  // namespace brig::testing
