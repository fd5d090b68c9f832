// Host sockets end to end: a unix socket on the host, mounted into a gVisor
// cell (runsc --host-uds), carries bytes both ways; a symlink or an engine's
// socket is refused by `brig run` (validation) and by `brig cell start` (the
// engine's check on the real file), leaving nothing behind.
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>

#include "brig/core/strings.h"
#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

// A unix-socket echo server at `path`, served by a thread until destroyed.
// World-writable: the cell's user must be allowed to connect.
class EchoServer {
 public:
  explicit EchoServer(const std::string& path) {
    stdfs::create_directories(stdfs::path(path).parent_path());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ok_ = fd_ >= 0 && path.size() < sizeof a.sun_path && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::chmod(path.c_str(), 0777) == 0 && ::listen(fd_, 4) == 0;
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  bool ok() const { return ok_; }
  int served() const { return served_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[4096];
      for (;;) {  // echo until the client is done (or 10 s of silence)
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 10000) <= 0) break;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0 || ::write(c, buf, static_cast<size_t>(n)) != n) break;
      }
      ::close(c);
      ++served_;
    }
  }

  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

// A cell spec (--file) from the node image (python3) with one host socket at
// /run/host/echo.sock; `script` is python3's program.
std::string socket_spec(const std::string& dir, const std::string& name, const std::string& host_path,
                        const std::string& script) {
  const std::string file = dir + "/" + name + ".yaml";
  std::ofstream out(file);
  out << "name: " << name << "\nimage: " << kNode << "\ncommand:\n  - python3\n  - -c\n  - |\n";
  for (const auto& line : str::split(script, '\n')) out << "    " << line << "\n";
  out << "host_sockets:\n  - {name: echo, host_path: " << host_path
      << ", mount_point: /run/host/echo.sock, mode: rw}\n";
  return file;
}

constexpr const char* kEchoClient =
    "import socket\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "s.connect('/run/host/echo.sock')\n"
    "msg = b'brig-host-socket-round-trip'\n"
    "s.sendall(msg)\n"
    "got = b''\n"
    "while len(got) < len(msg):\n"
    "    d = s.recv(4096)\n"
    "    if not d: break\n"
    "    got += d\n"
    "print('GOT', got.decode())";

constexpr const char* kSleep = "import time\ntime.sleep(3600)";

bool container_exists(const std::string& cell) {
  return run({"/usr/bin/podman", "container", "exists", "brig-" + cell}).exit_code == 0;
}
// A refused `brig run` made nothing: no container, subnet (so no network) or state.
void expect_nothing_made(const std::string& cell, const std::string& home) {
  EXPECT_FALSE(container_exists(cell));
  std::ifstream map(home + "/state/system/subnet-map.json");
  std::string text((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, Not(HasSubstr("\"" + cell + "\"")));
  EXPECT_FALSE(stdfs::exists(home + "/state/" + cell));
}
std::string container_state(const std::string& cell) {
  auto out = run({"/usr/bin/podman", "container", "inspect", "--format", "{{.State.Status}}", "brig-" + cell});
  return std::string(str::trim(out.out));
}

TEST_F(Cells, HostSocketRoundTripUnderRunsc) {
  const std::string sock = dir_ + "/sockets/echo.sock";
  EchoServer server(sock);
  ASSERT_TRUE(server.ok());
  auto out = brig({"run", "--rm", "--file", socket_spec(dir_, "e2e-sock", sock, kEchoClient)});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("GOT brig-host-socket-round-trip"));
  EXPECT_THAT(out.err, HasSubstr("note: host socket echo (/run/host/echo.sock) bypasses warden: traffic over it is "
                                 "neither filtered nor logged"));
  EXPECT_GE(server.served(), 1);
}

// A symlink in place of the socket: `brig run` refuses it (validation, exit
// 2); swapped in while a cell is stopped, `brig cell start` refuses it (the
// engine's check, exit 125) and the cell stays stopped.
TEST_F(Cells, HostSocketSymlinkIsRefusedAtRunAndAtStart) {
  const std::string dir = dir_ + "/sockets-link";
  EchoServer server(dir + "/real.sock");
  ASSERT_TRUE(server.ok());
  stdfs::create_symlink(dir + "/real.sock", dir + "/link.sock");
  auto out = brig({"run", "--rm", "--file", socket_spec(dir_, "e2e-sock-link", dir + "/link.sock", kEchoClient)});
  EXPECT_EQ(out.exit_code, 2) << out.out << out.err;
  EXPECT_THAT(out.err, HasSubstr(dir + "/link.sock is a symlink"));
  expect_nothing_made("e2e-sock-link", home_);

  EchoServer own(dir + "/pg.sock");
  ASSERT_TRUE(own.ok());
  auto started = brig({"run", "-d", "--file", socket_spec(dir_, "e2e-sock-swap", dir + "/pg.sock", kSleep)});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  auto stop = brig({"cell", "stop", "e2e-sock-swap"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  stdfs::rename(dir + "/pg.sock", dir + "/moved.sock");
  stdfs::create_symlink(dir + "/moved.sock", dir + "/pg.sock");
  auto again = brig({"cell", "start", "e2e-sock-swap"});
  EXPECT_EQ(again.exit_code, 125) << again.out << again.err;
  EXPECT_THAT(again.err, HasSubstr("host socket echo: " + dir + "/pg.sock is a symlink"));
  EXPECT_NE(container_state("e2e-sock-swap"), "running");
  EXPECT_EQ(brig({"cell", "rm", "--force", "e2e-sock-swap"}).exit_code, 0);
}

// A harmless-looking path whose directory is a symlink into one named after
// an engine: refused by `brig run`, and by `brig cell start` once a stopped
// cell's path is re-pointed there.
TEST_F(Cells, EngineSocketBehindASymlinkIsRefused) {
  const std::string dir = dir_ + "/sockets-engine";
  EchoServer engine(dir + "/podman/api.sock");
  ASSERT_TRUE(engine.ok());
  stdfs::create_directory_symlink(dir + "/podman", dir + "/svc");
  auto out = brig({"run", "--rm", "--file", socket_spec(dir_, "e2e-sock-engine", dir + "/svc/api.sock", kEchoClient)});
  EXPECT_EQ(out.exit_code, 2) << out.out << out.err;
  EXPECT_THAT(out.err, HasSubstr("resolves to " + dir + "/podman/api.sock, a podman engine socket"));
  expect_nothing_made("e2e-sock-engine", home_);

  EchoServer plain(dir + "/plain/api.sock");
  ASSERT_TRUE(plain.ok());
  stdfs::create_directory_symlink(dir + "/plain", dir + "/cur");
  auto started = brig({"run", "-d", "--file", socket_spec(dir_, "e2e-sock-repoint", dir + "/cur/api.sock", kSleep)});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  ASSERT_EQ(brig({"cell", "stop", "e2e-sock-repoint"}).exit_code, 0);
  stdfs::remove(dir + "/cur");
  stdfs::create_directory_symlink(dir + "/podman", dir + "/cur");
  auto again = brig({"cell", "start", "e2e-sock-repoint"});
  EXPECT_EQ(again.exit_code, 125) << again.out << again.err;
  EXPECT_THAT(again.err, HasSubstr("resolves to " + dir + "/podman/api.sock, which is a podman engine socket"));
  EXPECT_NE(container_state("e2e-sock-repoint"), "running");
  EXPECT_EQ(brig({"cell", "rm", "--force", "e2e-sock-repoint"}).exit_code, 0);
}

}  // namespace
}  // namespace brig::testing::e2e
