// Runs the real brig binary with a private BRIG_HOME, for CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "brig/core/fs.h"
#include "brig/proc/command.h"

namespace brig::testing {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  // Runs `brig args...` with BRIG_HOME set, NO_COLOR, from the temp dir.
  proc::Output brig(std::vector<std::string> args, std::string stdin_data = {}) {
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "NO_COLOR=1", "PATH=/usr/bin:/bin", "HOME=" + home_};
    c.cwd = home_;
    c.stdin_data = std::move(stdin_data);
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }

  // Runs `c`; a failure to start it fails the test.
  static proc::Output run_checked(const proc::Command& c) {
    proc::PosixRunner r;
    auto out = r.run(c);
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message());
    return out.ok() ? *out : proc::Output{};
  }

  // Writes a file under the temp home and returns its path.
  std::string write(const std::string& rel, const std::string& text) {
    const std::string path = home_ + "/" + rel;
    EXPECT_TRUE(fs::make_dirs(std::filesystem::path(path).parent_path().string()).ok());
    EXPECT_TRUE(fs::write_atomic(path, text).ok());
    return path;
  }

  // Reads a file under the temp home ("" if absent).
  std::string read(const std::string& rel) {
    auto text = fs::read_file(home_ + "/" + rel);
    return text ? *text : std::string();
  }

  std::string home_;
};

// A brig whose PATH finds a fake podman first: `script` is its body (sh).
class CliFakePodmanTest : public CliTest {
 protected:
  proc::Output brig_with_podman(const std::string& script, std::vector<std::string> args) {
    const std::string podman = write("bin/podman", "#!/bin/sh\n" + script);
    std::filesystem::permissions(podman, std::filesystem::perms::owner_all);
    write("config.json", "{}\n");  // "initialised": commands that ask podman do so
    proc::Command c;
    c.argv = {BRIG_BINARY};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = std::vector<std::string>{"BRIG_HOME=" + home_, "NO_COLOR=1", "PATH=" + home_ + "/bin:/usr/bin:/bin",
                                     "HOME=" + home_};
    c.cwd = home_;
    c.timeout = std::chrono::seconds(30);
    return run_checked(c);
  }
};

}  // namespace brig::testing
