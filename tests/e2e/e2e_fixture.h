#pragma once
// End to end (fixture shared by tests/e2e/*_test.cc): real podman + runsc + warden container + nftables. One brig
// system (temporary BRIG_HOME) for the suite; every test starts cells from the
// local images and attacks an invariant from inside, next to a positive control
// that shows the same path works when it should.
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"

// One fixture for every e2e file: all TEST_F(Cells, ...) form one suite, so
// one brig system is set up for the whole e2e binary.
namespace brig::testing::e2e {

using ::testing::HasSubstr;
using ::testing::Not;
namespace stdfs = std::filesystem;

constexpr const char* kBusybox = "localhost/brig-busybox:latest";
constexpr const char* kDebian = "localhost/brig-debian:latest";
constexpr const char* kNode = "localhost/brig-node:latest";  // brig-debian + nodejs, python3

inline std::string skip_reason() {
  if (::geteuid() != 0) return "needs root (podman, nftables)";
  for (const char* tool : {"podman", "runsc", "nft", "ip", "nginx", "openssl"}) {
    if (!proc::find_executable(tool)) return std::string(tool) + " is not installed (scripts/bootstrap.sh installs it)";
  }
  for (const char* image : {kBusybox, kDebian, kNode}) {
    if (run({"/usr/bin/podman", "image", "exists", image}).exit_code != 0) {
      return std::string(image) + " is missing (scripts/build-images.sh builds it)";
    }
  }
  if (run({"/usr/bin/podman", "container", "exists", "brig-warden"}).exit_code == 0) {
    return "a brig system is already up on this host (brig-warden exists); run brig system down first";
  }
  return "";
}

class Cells : public ::testing::Test {
 protected:
  static inline std::string dir_, home_, skip_;
  static inline Upstream* upstream_ = nullptr;

  static proc::Output brig(std::vector<std::string> args, std::vector<std::string> extra_env = {},
                           std::string stdin_data = {}) {
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "NO_COLOR=1",
                                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home_};
    c.env->insert(c.env->end(), extra_env.begin(), extra_env.end());
    c.stdin_data = std::move(stdin_data);
    c.timeout = std::chrono::seconds(180);
    return run_command(c);
  }
  // `brig args...` under a terminal (script(1) gives it a pty); `input` is
  // typed into it. Returns what the terminal showed.
  static proc::Output brig_on_tty(const std::vector<std::string>& args, const std::string& input) {
    std::string line = BRIG_BINARY;
    for (const auto& a : args) line += " '" + a + "'";
    proc::Command c;
    c.argv = {"script", "-qec", line, "/dev/null"};
    c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "NO_COLOR=1", "TERM=dumb",
                                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home_};
    c.stdin_data = input;
    c.timeout = std::chrono::seconds(60);
    return run_command(c);
  }
  // A running cell `name` from `image` (made once; the suite's teardown removes it).
  static void running(const std::string& name, const char* image = kBusybox) {
    if (run({"/usr/bin/podman", "container", "exists", "brig-" + name}).exit_code == 0) return;
    auto out = brig({"run", "-d", "--name", name, image, "--", "sleep", "3600"});
    ASSERT_EQ(out.exit_code, 0) << out.err;
  }
  // Every cell network podman has (cells' and spares': label brig.cell).
  static std::set<std::string> cell_networks() {
    auto out = run({"/usr/bin/podman", "network", "ls", "--filter", "label=brig.cell", "--format", "{{.Name}}"});
    std::set<std::string> names;
    std::istringstream in(out.out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  }
  // The spare networks brig lists (state/system/spare-networks.json).
  static std::set<std::string> spare_networks() {
    std::ifstream f(home_ + "/state/system/spare-networks.json");
    std::set<std::string> names;
    if (!f) return names;
    const auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) names.insert(it.key());
    }
    return names;
  }
  static void add_secret(const std::string& name, const std::string& value) {
    auto out = brig({"secrets", "add", name, "-"}, {}, value);
    ASSERT_EQ(out.exit_code, 0) << out.err;
  }

  static void SetUpTestSuite() {
    skip_ = skip_reason();
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/brig-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    home_ = dir_ + "/home";
    stdfs::create_directories(dir_ + "/up");
    upstream_ = new Upstream(dir_ + "/up", {"allowed.test", "denied.test"});
    ASSERT_TRUE(upstream_->ok());
    auto init = brig({"system", "init", "--accept-weaker-network"});
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    const std::string a = upstream_->address();
    std::ofstream(home_ + "/warden.yaml") << "resolve_overrides:\n"
                                          << "  - allowed.test:443:" << a << "\n  - allowed.test:80:" << a
                                          << "\n  - denied.test:443:" << a << "\n  - denied.test:80:" << a
                                          << "\nupstream_ca: " << upstream_->ca_file() << "\n";
    auto up = brig({"system", "up"});
    ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  }

  static void TearDownTestSuite() {
    if (!skip_.empty() || home_.empty()) return;
    for (const auto& e : stdfs::directory_iterator(home_ + "/state")) {
      const std::string n = e.path().filename();
      if (n != "system") brig({"cell", "rm", "--force", n});
    }
    auto down = brig({"system", "down"});
    EXPECT_EQ(down.exit_code, 0) << down.err;
    delete upstream_;
    std::error_code ec;
    stdfs::remove_all(dir_, ec);
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // Runs `script` with sh in a fresh attached cell (removed afterwards).
  static proc::Output in_cell(const std::string& name, const std::string& script, std::vector<std::string> flags = {},
                              const char* image = kBusybox) {
    std::vector<std::string> a = {"run", "--rm", "--name", name};
    a.insert(a.end(), flags.begin(), flags.end());
    a.insert(a.end(), {image, "--", "sh", "-c", script});
    return brig(a);
  }

  static nlohmann::json inspect(const std::string& cell) {
    auto out = brig({"--format", "json", "cell", "inspect", cell});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return out.exit_code == 0 ? nlohmann::json::parse(out.out) : nlohmann::json::object();
  }

  static std::string gateway_of(const std::string& address) { return address.substr(0, address.rfind('.')) + ".1"; }
};

}  // namespace brig::testing::e2e
