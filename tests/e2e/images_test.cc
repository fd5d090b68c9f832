// Images end to end: real podman builds (RUN steps under runsc), a build
// through warden to the suite's upstream, the 2 GB abort, and pull + pins +
// verify against a real registry (Debian's docker-registry) on loopback.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

void write(const std::string& path, const std::string& text) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.insert(l);
  }
  return out;
}

std::string digest_in(const std::string& text) {
  auto at = text.find("sha256:");
  return at == std::string::npos ? "" : text.substr(at, 71);
}

// A context with a tricky ignore file and symlinks: what reaches the image is
// listed from inside a cell made from it.
TEST_F(Cells, ImageBuildAssemblesTheContextAndRunsStepsUnderGvisor) {
  const std::string ctx = dir_ + "/agent-ctx";
  write(ctx + "/Containerfile",
        "FROM localhost/brig-busybox:latest\n"
        "COPY . /ctx/\n"
        "RUN cat /proc/version > /kernel && cat /proc/net/dev > /netdev\n");
  write(ctx + "/.containerignore",
        "# comments and blank lines are skipped\n\n"
        "*.env\n"
        "logs/\n"
        "!logs/keep.log\n"
        "**/*.tmp\n"
        "/build\n"
        ".git\n");
  write(ctx + "/app.py", "print('hi')\n");
  write(ctx + "/secret.env", "TOKEN=x\n");
  write(ctx + "/logs/a.log", "a\n");
  write(ctx + "/logs/keep.log", "keep\n");
  write(ctx + "/src/deep/x.tmp", "tmp\n");
  write(ctx + "/src/deep/y.py", "y\n");
  write(ctx + "/build/out.bin", "bin\n");
  write(ctx + "/src/build/kept.txt", "only the top build/ is anchored\n");
  write(ctx + "/.git/HEAD", "ref: refs/heads/main\n");
  write(dir_ + "/outside/id_rsa", "PRIVATE KEY\n");
  stdfs::create_symlink(dir_ + "/outside/id_rsa", ctx + "/id_rsa");
  stdfs::create_symlink("../outside/id_rsa", ctx + "/src/key");
  stdfs::create_symlink("app.py", ctx + "/main.py");

  auto built = brig({"image", "build", ctx});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  EXPECT_THAT(built.out, HasSubstr("STEP 1/3: FROM localhost/brig-busybox:latest"));  // podman's steps, streamed
  EXPECT_THAT(built.err, HasSubstr("dropped symlink id_rsa"));
  EXPECT_THAT(built.err, HasSubstr("dropped symlink src/key"));
  EXPECT_THAT(built.out, HasSubstr("built localhost/agent-ctx:latest (ID "));

  auto listed = brig({"run", "--rm", "localhost/agent-ctx:latest", "--", "sh", "-c",
                      "cd /ctx && find . | sort && echo KERNEL $(cat /kernel) && cat /netdev && readlink main.py"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::set<std::string> want = {".", "./.containerignore", "./Containerfile", "./app.py", "./main.py",
                                      "./logs", "./logs/keep.log", "./src", "./src/deep", "./src/deep/y.py",
                                      "./src/build", "./src/build/kept.txt"};
  std::set<std::string> files;
  for (const auto& l : lines_of(listed.out)) {
    if (l.rfind(".", 0) == 0) files.insert(l);
  }
  EXPECT_EQ(files, want) << listed.out;
  // gVisor answers uname with its own kernel, not this host's.
  EXPECT_THAT(listed.out, HasSubstr("KERNEL Linux version 4.4.0"));
  // No network in the RUN steps: loopback only.
  EXPECT_THAT(listed.out, Not(HasSubstr("eth0")));
  EXPECT_THAT(listed.out, HasSubstr("app.py"));

  // -q: no step output, only the final line.
  auto quiet = brig({"-q", "image", "build", ctx, "-t", "localhost/agent-ctx:quiet"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.out, Not(HasSubstr("STEP")));
  EXPECT_THAT(quiet.out, HasSubstr("built localhost/agent-ctx:quiet"));
  EXPECT_THAT(quiet.err, HasSubstr("dropped symlink id_rsa"));  // warnings still print

  // Nothing of the build is left behind.
  EXPECT_FALSE(stdfs::exists(home_ + "/run/builds") && !stdfs::is_empty(home_ + "/run/builds"));
  for (const char* img : {"localhost/agent-ctx:latest", "localhost/agent-ctx:quiet"}) {
    auto rm = brig({"image", "rm", img});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
  }
}

TEST_F(Cells, ImageBuildWithoutNetworkUnlessThroughWarden) {
  const std::string ctx = dir_ + "/fetch-ctx";
  write(ctx + "/Containerfile",
        "FROM localhost/brig-debian:latest\n"
        "ARG HOST=allowed.test\n"
        "RUN curl -fsS --max-time 20 https://$HOST/built -o /fetched\n");
  // No network at all by default: the step fails and the fix says how.
  auto offline = brig({"image", "build", ctx, "-t", "localhost/fetch:1"});
  EXPECT_NE(offline.exit_code, 0);
  EXPECT_THAT(offline.err, HasSubstr("--use-warden"));
  EXPECT_NE(run({"/usr/bin/podman", "image", "exists", "localhost/fetch:1"}).exit_code, 0);

  // Through warden, allowed: the step fetches from the upstream, and warden logs it.
  auto fetched = brig({"image", "build", ctx, "-t", "localhost/fetch:1", "--use-warden", "--allow", "allowed.test"});
  ASSERT_EQ(fetched.exit_code, 0) << fetched.out << fetched.err;
  auto content = brig({"run", "--rm", "localhost/fetch:1", "--", "cat", "/fetched"});
  EXPECT_EQ(content.exit_code, 0) << content.err;
  EXPECT_THAT(content.out, HasSubstr("upstream allowed.test GET /built"));

  // Denied: warden refuses, the build fails, and warden's log says why.
  auto denied = brig({"image", "build", ctx, "-t", "localhost/fetch:2", "--use-warden", "--allow", "allowed.test",
                      "--build-arg", "HOST=denied.test", "--no-cache"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("--allow HOST"));
  EXPECT_NE(run({"/usr/bin/podman", "image", "exists", "localhost/fetch:2"}).exit_code, 0);
  std::string logs;
  for (const auto& e : stdfs::directory_iterator(home_ + "/logs/cells")) {
    if (e.path().filename().string().rfind("build-", 0) != 0) continue;
    std::ifstream in(e.path());
    logs += std::string(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_THAT(logs, HasSubstr("\"allowed.test\""));
  EXPECT_THAT(logs, HasSubstr("denied.test"));
  EXPECT_THAT(logs, HasSubstr("\"decision\":\"deny\""));
  // The build's network, subnet and policy are gone.
  auto nets = run({"/usr/bin/podman", "network", "ls", "--format", "{{.Name}}"});
  EXPECT_THAT(nets.out, Not(HasSubstr("build-")));
  EXPECT_TRUE(stdfs::is_empty(home_ + "/policy/cells") ||
              std::none_of(stdfs::directory_iterator(home_ + "/policy/cells"), stdfs::directory_iterator(),
                           [](const auto& e) { return e.path().filename().string().rfind("build-", 0) == 0; }));
  brig({"image", "rm", "localhost/fetch:1"});
}

TEST_F(Cells, ImageBuildRefusesAContextOver2GBWithoutReadingIt) {
  const std::string ctx = dir_ + "/huge-ctx";
  write(ctx + "/Containerfile", "FROM localhost/brig-busybox:latest\nCOPY . /\n");
  {
    std::ofstream f(ctx + "/disk.img");
  }
  stdfs::resize_file(ctx + "/disk.img", (2ull << 30) + 1);  // sparse: nothing to read
  auto t0 = std::chrono::steady_clock::now();
  auto out = brig({"image", "build", ctx, "-t", "localhost/huge:1"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, HasSubstr("larger than 2 GB"));
  EXPECT_THAT(out.err, HasSubstr(".containerignore"));
  EXPECT_LT(took, std::chrono::seconds(20)) << "copying 2 GB would take longer than refusing";
  EXPECT_NE(run({"/usr/bin/podman", "image", "exists", "localhost/huge:1"}).exit_code, 0);
  // Ignored, the file is no obstacle.
  write(ctx + "/.containerignore", "*.img\n");
  auto ok = brig({"-q", "image", "build", ctx, "-t", "localhost/huge:1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  brig({"image", "rm", "localhost/huge:1"});
}

// A real registry on loopback: pull with a digest, pins enforced at run,
// verify, the unpinned warning and its switch, list and rm.
TEST_F(Cells, ImagePullPinAndVerifyAgainstALocalRegistry) {
  auto registry_bin = proc::find_executable("docker-registry");
  if (!registry_bin) GTEST_SKIP() << "docker-registry is not installed (scripts/bootstrap.sh installs it)";
  const int port = free_loopback_port();
  const std::string reg = dir_ + "/registry";
  write(reg + "/config.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + reg +
                                 "/data\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port) + "\n");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::freopen((reg + "/log").c_str(), "w", stderr);
    ::freopen((reg + "/access.log").c_str(), "w", stdout);
    ::execl(registry_bin->c_str(), "docker-registry", "serve", (reg + "/config.yml").c_str(), nullptr);
    ::_exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } stop{pid};
  const std::string name = "127.0.0.1:" + std::to_string(port) + "/brig/busybox";
  proc::Output pushed;
  for (int i = 0; i < 50; ++i) {  // the registry takes a moment to listen
    pushed = run({"/usr/bin/podman", "push", "--tls-verify=false", kBusybox, name + ":1"});
    if (pushed.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  auto pulled = brig({"image", "pull", "--insecure", name + ":1"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  const std::string digest = digest_in(pulled.out);
  ASSERT_EQ(digest.size(), 71u) << pulled.out;
  const std::string wrong = "sha256:" + std::string(64, '0');

  auto verified = brig({"image", "verify", name + ":1", "--digest", digest});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_THAT(verified.out, HasSubstr("verified " + name + ":1"));
  auto mismatch = brig({"image", "verify", name + ":1", "--digest", wrong});
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_THAT(mismatch.out, HasSubstr("has digest " + digest));
  EXPECT_THAT(mismatch.out, HasSubstr("pinned to " + wrong));
  write(dir_ + "/reject.json", R"({"default": [{"type": "reject"}]})");
  auto rejected = brig({"image", "verify", name + ":1", "--digest", digest, "--signature-policy", dir_ + "/reject.json"});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.out, HasSubstr("rejects images from " + name));

  // Pinned in the reference or by image_digest: the cell runs exactly that image.
  auto pinned = brig({"run", "--rm", name + ":1@" + digest, "--", "echo", "pinned"});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_THAT(pinned.out, HasSubstr("pinned"));
  EXPECT_THAT(pinned.err, Not(HasSubstr("not pinned")));
  write(dir_ + "/pinned.yaml", "image: " + name + ":1\nimage_digest: " + wrong + "\ncommand: [echo, no]\n");
  auto refused = brig({"run", "--rm", "--name", "e2e-pin-refused", "--file", dir_ + "/pinned.yaml"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("has digest " + digest));
  EXPECT_THAT(refused.err, HasSubstr("pinned to " + wrong));
  EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-pin-refused"));
  EXPECT_NE(run({"/usr/bin/podman", "container", "exists", "brig-e2e-pin-refused"}).exit_code, 0);
  // Another repository's image does not satisfy the pin, though podman
  // finds the pinned image by that digest whatever name is in front of it.
  auto other = brig({"run", "--rm", "localhost/brig-debian@" + digest, "--", "true"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_THAT(other.err, HasSubstr("pinned to " + digest));

  // Unpinned and remote: one warning line, silenced by the setting.
  auto unpinned = brig({"run", "--rm", name + ":1", "--", "true"});
  EXPECT_EQ(unpinned.exit_code, 0) << unpinned.err;
  EXPECT_THAT(unpinned.err, HasSubstr("is not pinned by digest"));
  ASSERT_EQ(brig({"config", "set", "warn_unpinned_images", "false"}).exit_code, 0);
  auto silenced = brig({"run", "--rm", name + ":1", "--", "true"});
  EXPECT_EQ(silenced.exit_code, 0) << silenced.err;
  EXPECT_THAT(silenced.err, Not(HasSubstr("not pinned")));
  ASSERT_EQ(brig({"config", "set", "warn_unpinned_images", "true"}).exit_code, 0);

  auto listed = brig({"--format", "json", "image", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto arr = nlohmann::json::parse(listed.out);
  bool found = false;
  for (const auto& i : arr) {
    for (const auto& n : i["names"]) found = found || n == name + ":1";
  }
  EXPECT_TRUE(found) << listed.out;
  EXPECT_EQ(brig({"image", "rm", name + ":1"}).exit_code, 0);
  EXPECT_NE(run({"/usr/bin/podman", "image", "exists", name + ":1"}).exit_code, 0);
  auto gone = brig({"image", "rm", name + ":1"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("no image"));
}

}  // namespace
}  // namespace brig::testing::e2e
