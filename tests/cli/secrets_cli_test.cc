// brig secrets add: never silently replaces a secret a running cell mounts
// (refused, or asked at a terminal); a value typed at a terminal is not
// echoed and loses the Enter that ends it; piped input stays byte-exact.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <gmock/gmock.h>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRunningC1 = R"([{"Names": ["brig-c1"], "State": "running", "ExitCode": 0}])";

class SecretsCli : public CliTest {
 protected:
  // PATH finds a podman whose body is `script` (sh); config.json makes brig
  // "initialised", so commands that ask podman do so.
  void fake_podman(const std::string& script) {
    const std::string podman = write("bin/podman", "#!/bin/sh\n" + script);
    std::filesystem::permissions(podman, std::filesystem::perms::owner_all);
    write("config.json", "{}\n");
  }
  // A running cell c1 that mounts secret `secret`.
  void running_cell_mounting(const std::string& secret) {
    write("state/c1/cell-state.json",
          R"({"name": "c1", "image": "localhost/agent:1", "runtime": "runsc", "subnet": 1,
              "workspace": ")" + home_ + R"(/state/c1/workspace", "workspace_mount": "/work",
              "secrets": [")" + secret + R"("]})");
    fake_podman(std::string("case \"$1\" in ps) echo '") + kRunningC1 + "';; *) exit 1;; esac\n");
  }
  std::vector<std::string> env() const {
    return {"BRIG_HOME=" + home_, "NO_COLOR=1", "PATH=" + home_ + "/bin:/usr/bin:/bin", "HOME=" + home_};
  }
  proc::Output brig_piped(std::vector<std::string> args, std::string stdin_data) {
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = env();
    c.cwd = home_;
    c.stdin_data = std::move(stdin_data);
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }
  std::string stored(const std::string& name) { return read("secrets/" + name); }
};

// brig on a terminal (a pty as its stdin, stdout and stderr): a dialogue of
// (what to wait for, what to type), then everything it printed and its exit code.
struct TtyResult {
  int exit_code = -1;
  std::string transcript;
};

class Pty {
 public:
  Pty(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd) {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) return;
    const std::string slave_name = ::ptsname(master_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      int slave = ::open(slave_name.c_str(), O_RDWR);
      if (slave < 0) ::_exit(126);
      ::ioctl(slave, TIOCSCTTY, 0);
      ::dup2(slave, 0);
      ::dup2(slave, 1);
      ::dup2(slave, 2);
      if (slave > 2) ::close(slave);
      ::close(master_);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      std::vector<char*> a, e;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      for (const auto& s : env) e.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      e.push_back(nullptr);
      ::execve(a[0], a.data(), e.data());
      ::_exit(127);
    }
  }
  ~Pty() {
    if (pid_ > 0 && exit_code_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  bool started() const { return pid_ > 0; }

  // Reads until `text` has appeared in the transcript (or 10 s pass).
  bool wait_for(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (transcript_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline || !read_some(100)) return false;
    }
    return true;
  }
  void type(const std::string& keys) { EXPECT_EQ(::write(master_, keys.data(), keys.size()), ssize_t(keys.size())); }

  // Reads to the end and reaps brig.
  TtyResult finish() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline && read_some(100)) {
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_ && WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
    return {exit_code_, transcript_};
  }

 private:
  // False once the terminal closed (brig exited).
  bool read_some(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r == 0) return true;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    transcript_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string transcript_;
};

// A running cell that injects the secret (warden reads its value at each
// start) holds it as one that mounts it does.
TEST_F(SecretsCli, RmRefusesASecretARunningCellInjects) {
  ASSERT_EQ(brig({"secrets", "add", "llm-key", "-"}, "sk-value").exit_code, 0);
  write("state/c1/cell-state.json",
        R"({"name": "c1", "image": "localhost/agent:1", "runtime": "runsc", "subnet": 1,
            "workspace": ")" + home_ + R"(/state/c1/workspace", "workspace_mount": "/work", "secrets": [],
            "injected_secrets": [{"name": "llm-key", "env": "OPENAI_API_KEY",
              "placeholder": "brig-secret-llm-key-0123456789abcdef0123456789abcdef", "hosts": ["api.openai.com"]}]})");
  fake_podman(std::string("case \"$1\" in ps) echo '") + kRunningC1 + "';; *) exit 1;; esac\n");
  auto out = brig_piped({"secrets", "rm", "llm-key"}, "");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err,
            "error: secret llm-key is used by running cell(s): c1\n"
            "fix: stop it first (brig cell stop c1), or brig secrets rm llm-key --force\n");
  EXPECT_EQ(stored("llm-key"), "sk-value");
  auto forced = brig_piped({"secrets", "rm", "llm-key", "--force"}, "");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_FALSE(std::filesystem::exists(home_ + "/secrets/llm-key"));
}

TEST_F(SecretsCli, AddRefusesToReplaceASecretARunningCellMounts) {
  ASSERT_EQ(brig({"secrets", "add", "api-key", "-"}, "old-value").exit_code, 0);
  running_cell_mounting("api-key");
  auto out = brig_piped({"secrets", "add", "api-key", "-"}, "new-value");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err,
            "error: secret api-key is used by running cell(s): c1\n"
            "fix: stop it first (brig cell stop c1), or brig secrets add api-key --force\n");
  EXPECT_EQ(stored("api-key"), "old-value");
  // From a file, the fix names the file.
  const std::string file = write("new.txt", "from-file");
  auto from_file = brig_piped({"secrets", "add", "api-key", file}, "");
  EXPECT_EQ(from_file.exit_code, 1);
  EXPECT_THAT(from_file.err, HasSubstr("fix: stop it first (brig cell stop c1), or brig secrets add api-key " + file +
                                       " --force\n"));
  EXPECT_EQ(stored("api-key"), "old-value");
  // The fix works.
  auto forced = brig_piped({"secrets", "add", "api-key", "--force"}, "new-value");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(stored("api-key"), "new-value");
}

TEST_F(SecretsCli, AddOfANameNoRunningCellMountsAsksNothingMore) {
  ASSERT_EQ(brig({"secrets", "add", "api-key", "-"}, "old-value").exit_code, 0);
  running_cell_mounting("other");
  auto replaced = brig_piped({"secrets", "add", "api-key"}, "new-value");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_EQ(stored("api-key"), "new-value");
  // A new secret: nobody mounts it, podman is not asked (it would fail here).
  fake_podman("exit 125\n");
  auto added = brig_piped({"secrets", "add", "fresh"}, "fresh-value");
  EXPECT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(stored("fresh"), "fresh-value");
}

TEST_F(SecretsCli, AddFailsClosedWhenCellsCannotBeListed) {
  ASSERT_EQ(brig({"secrets", "add", "api-key", "-"}, "old-value").exit_code, 0);
  fake_podman("echo 'Error: cannot connect to Podman' >&2; exit 125\n");
  auto out = brig_piped({"secrets", "add", "api-key"}, "new-value");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err,
            "error: cannot tell which running cells use secret api-key: podman ps failed: Error: cannot connect to "
            "Podman\nfix: brig secrets add api-key --force (if no running cell uses it)\n");
  EXPECT_EQ(stored("api-key"), "old-value");
  auto forced = brig_piped({"secrets", "add", "api-key", "--force"}, "new-value");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(stored("api-key"), "new-value");
}

TEST_F(SecretsCli, PipedValueIsStoredByteForByte) {
  auto out = brig({"secrets", "add", "k"}, std::string("line1\nline2\n\n\0x", 15));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(stored("k"), std::string("line1\nline2\n\n\0x", 15));
  EXPECT_EQ(out.out,
            "stored secret k (15 bytes): a cell mounts it with --secret k, or has warden inject it (secrets: in its "
            "spec)\n");
  EXPECT_EQ(brig({"secrets", "add", "k2", "-"}, "v\n").exit_code, 0);
  EXPECT_EQ(stored("k2"), "v\n");
}

TEST_F(SecretsCli, TerminalValueIsNotEchoedAndLosesItsLastEnter) {
  std::vector<std::string> argv = {BRIG_BINARY, "secrets", "add", "api-key"};
  Pty tty(argv, env(), home_);
  ASSERT_TRUE(tty.started());
  ASSERT_TRUE(tty.wait_for("(not shown; end with Enter, then Ctrl-D): "));
  tty.type("hunter2-typed\n\x04");
  auto r = tty.finish();
  EXPECT_EQ(r.exit_code, 0) << r.transcript;
  EXPECT_EQ(stored("api-key"), "hunter2-typed");
  EXPECT_THAT(r.transcript, Not(HasSubstr("hunter2")));
  EXPECT_THAT(r.transcript, HasSubstr("stored secret api-key (13 bytes)"));
}

TEST_F(SecretsCli, TerminalValueKeepsEveryNewlineButTheLast) {
  for (const auto& [typed, want] : std::vector<std::pair<std::string, std::string>>{
           {"a\nb\n\n\x04", "a\nb\n"}, {"no-enter\x04\x04", "no-enter"}}) {
    Pty tty({BRIG_BINARY, "secrets", "add", "k"}, env(), home_);
    ASSERT_TRUE(tty.wait_for("Ctrl-D): "));
    tty.type(typed);
    auto r = tty.finish();
    EXPECT_EQ(r.exit_code, 0) << r.transcript;
    EXPECT_EQ(stored("k"), want);
  }
}

TEST_F(SecretsCli, TerminalAsksBeforeReplacingASecretInUse) {
  ASSERT_EQ(brig({"secrets", "add", "api-key", "-"}, "old-value").exit_code, 0);
  running_cell_mounting("api-key");
  {
    Pty tty({BRIG_BINARY, "secrets", "add", "api-key"}, env(), home_);
    ASSERT_TRUE(tty.wait_for("secret api-key is used by running cell(s): c1; replace it? [y/N] "));
    tty.type("n\n");
    auto r = tty.finish();
    EXPECT_EQ(r.exit_code, 1) << r.transcript;
    EXPECT_THAT(r.transcript, HasSubstr("error: secret api-key is used by running cell(s): c1"));
    EXPECT_THAT(r.transcript, Not(HasSubstr("not shown")));  // no value asked for
    EXPECT_EQ(stored("api-key"), "old-value");
  }
  Pty tty({BRIG_BINARY, "secrets", "add", "api-key"}, env(), home_);
  ASSERT_TRUE(tty.wait_for("replace it? [y/N] "));
  tty.type("y\n");
  ASSERT_TRUE(tty.wait_for("Ctrl-D): "));
  tty.type("new-value\n\x04");
  auto r = tty.finish();
  EXPECT_EQ(r.exit_code, 0) << r.transcript;
  EXPECT_EQ(stored("api-key"), "new-value");
}

}  // namespace
}  // namespace brig::testing
