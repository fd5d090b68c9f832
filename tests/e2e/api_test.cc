// The API end to end: curl on the socket `brig system up` started, and the
// Python SDK's live suite (tests/sdk/test_sdk_live.py) against the same system.
#include <sys/stat.h>

#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

// curl on the API socket: the body, then the status code on the last line.
proc::Output api(const std::string& home, std::vector<std::string> args) {
  std::vector<std::string> a = {"curl", "-sS", "-N", "--max-time", "60", "--unix-socket", home + "/run/api.sock",
                                "-w", "\n%{http_code}"};
  a.insert(a.end(), args.begin(), args.end());
  return run(a);
}

std::string status_of(const proc::Output& o) { return o.out.substr(o.out.rfind('\n') + 1); }
std::string body_of(const proc::Output& o) { return o.out.substr(0, o.out.rfind('\n')); }

TEST_F(Cells, ApiSocketIsPrivateAndServesCellsWithCurl) {
  struct stat st {};
  ASSERT_EQ(::stat((home_ + "/run/api.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // api_group: the socket 0660 of that group, the run directory 0710; back to 0600/0700 without it.
  ASSERT_EQ(brig({"config", "set", "api_group", "root"}).exit_code, 0);
  ASSERT_EQ(brig({"system", "up"}).exit_code, 0);
  ASSERT_EQ(::stat((home_ + "/run/api.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat((home_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0710u);
  ASSERT_EQ(brig({"config", "set", "api_group", ""}).exit_code, 0);
  ASSERT_EQ(brig({"system", "up"}).exit_code, 0);
  ASSERT_EQ(::stat((home_ + "/run/api.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((home_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto doctor = brig({"system", "doctor"});
  EXPECT_THAT(doctor.out, ::testing::ContainsRegex("\\[OK\\] +api +pid"));

  auto bad = api(home_, {"-X", "POST", "localhost/v1/cells", "-d", R"({"image": "localhost/brig-busybox:latest", "memroy": "1g"})"});
  EXPECT_EQ(status_of(bad), "400") << bad.out;
  auto err = nlohmann::json::parse(body_of(bad));
  EXPECT_THAT(err["error"].get<std::string>(), HasSubstr("unknown key \"memroy\""));
  EXPECT_FALSE(err["fix"].get<std::string>().empty());
  EXPECT_FALSE(stdfs::exists(home_ + "/state/memroy"));

  auto made = api(home_, {"-X", "POST", "localhost/v1/cells", "-d",
                          R"({"name": "e2e-api", "image": "localhost/brig-busybox:latest", "command": ["sleep", "600"]})"});
  ASSERT_EQ(status_of(made), "201") << made.out;
  EXPECT_EQ(nlohmann::json::parse(body_of(made))["state"], "running");
  auto again = api(home_, {"-X", "POST", "localhost/v1/cells", "-d",
                           R"({"name": "e2e-api", "image": "localhost/brig-busybox:latest", "command": ["sleep", "600"]})"});
  EXPECT_EQ(status_of(again), "409") << again.out;

  // exec: NDJSON lines as the command writes, then its exit code.
  auto ex = api(home_, {"-X", "POST", "localhost/v1/cells/e2e-api/exec", "-d",
                        R"({"cmd": ["sh", "-c", "echo out; echo err >&2; exit 7"]})"});
  EXPECT_EQ(status_of(ex), "200");
  std::vector<nlohmann::json> lines;
  std::istringstream in(body_of(ex));
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) lines.push_back(nlohmann::json::parse(l));
  }
  ASSERT_FALSE(lines.empty()) << ex.out;
  EXPECT_EQ(lines.back(), (nlohmann::json{{"exit_code", 7}}));
  std::string out, errs;
  for (const auto& l : lines) {
    if (l.contains("stream")) (l["stream"] == "stdout" ? out : errs) += l["data"].get<std::string>();
  }
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(errs, "err\n");

  // A deadline, or a client that leaves, ends the command inside the cell too.
  auto slow = api(home_, {"-X", "POST", "localhost/v1/cells/e2e-api/exec", "-d", R"({"cmd": ["sleep", "31"], "timeout": 1})"});
  EXPECT_THAT(body_of(slow), HasSubstr(R"({"exit_code":124,"timeout":true})"));
  (void)run({"curl", "-sS", "--max-time", "1.5", "--unix-socket", home_ + "/run/api.sock", "-X", "POST",
             "localhost/v1/cells/e2e-api/exec", "-d", R"({"cmd": ["sleep", "41"]})"});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto procs = brig({"cell", "exec", "e2e-api", "--", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"});
  EXPECT_THAT(procs.out, HasSubstr("sleep 600"));  // the control: the cell's own command is seen
  EXPECT_THAT(procs.out, Not(HasSubstr("sleep 31")));
  EXPECT_THAT(procs.out, Not(HasSubstr("sleep 41")));

  auto put = api(home_, {"-X", "PUT", "localhost/v1/cells/e2e-api/files?path=notes/a.txt", "--data-binary", "hello"});
  EXPECT_EQ(status_of(put), "200") << put.out;
  auto got = api(home_, {"localhost/v1/cells/e2e-api/files?path=notes/a.txt"});
  EXPECT_EQ(status_of(got), "200");
  EXPECT_EQ(body_of(got), "hello");
  brig({"cell", "exec", "e2e-api", "--", "ln", "-s", "/etc/passwd", "/work/pw"});
  auto link = api(home_, {"localhost/v1/cells/e2e-api/files?path=pw"});
  EXPECT_EQ(status_of(link), "400") << link.out;

  // A malformed field is the client's 400, and the server goes on answering.
  auto odd = api(home_, {"-X", "POST", "localhost/v1/cells/e2e-api/stop", "-d", R"({"timeout": "5"})"});
  EXPECT_EQ(status_of(odd), "400") << odd.out;
  auto bad_json = api(home_, {"-X", "POST", "localhost/v1/cells/e2e-api/exec", "-d", "{not json"});
  EXPECT_EQ(status_of(bad_json), "400") << bad_json.out;
  auto method = api(home_, {"-X", "PUT", "localhost/v1/cells/e2e-api/exec"});
  EXPECT_EQ(status_of(method), "405");
  auto missing = api(home_, {"localhost/v1/cells/e2e-nope"});
  EXPECT_EQ(status_of(missing), "404");
  auto running = api(home_, {"-X", "DELETE", "localhost/v1/cells/e2e-api"});
  EXPECT_EQ(status_of(running), "409");
  auto removed = api(home_, {"-X", "DELETE", "localhost/v1/cells/e2e-api?force=1"});
  EXPECT_EQ(status_of(removed), "200") << removed.out;
  EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-api"));
}

TEST_F(Cells, PythonSdkLiveSuitePasses) {
  proc::Command c;
  c.argv = {"python3", "-m", "unittest", "tests/sdk/test_sdk_live.py"};
  c.cwd = BRIG_SOURCE_DIR;
  c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home_};
  c.timeout = std::chrono::seconds(600);
  auto out = run_command(c);
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.err, HasSubstr("OK"));
  EXPECT_THAT(out.err, Not(HasSubstr("skipped")));
}

}  // namespace
}  // namespace brig::testing::e2e
