// Host services end to end: services on this host's loopback (and one on
// 0.0.0.0), reached from gVisor cells through warden and the host relay: a
// declaring cell reaches its HTTP service by name through the proxy and its
// TCP service at <name>.host.brig:PORT; a cell that declared nothing gets 403
// and a refused connection at once; `policy set --host-service` adds and
// removes them live; every connection is logged.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "brig/core/strings.h"
#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

// A TCP server on the host (`bind_address`, a free port), served by a thread
// until destroyed: `http` answers one request per connection with a body
// naming the Host it got; otherwise it echoes.
class HostServer {
 public:
  HostServer(const char* bind_address, bool http) : http_(http) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, bind_address, &a.sin_addr);
    socklen_t len = sizeof a;
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0 &&
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~HostServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;

  bool ok() const { return ok_; }
  int port() const { return port_; }
  int served() const { return served_; }
  std::string port_text() const { return std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++served_;
      std::string got;
      char buf[4096];
      for (;;) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 10000) <= 0) break;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        if (!http_) {
          if (::write(c, buf, static_cast<size_t>(n)) != n) break;
          continue;
        }
        got.append(buf, static_cast<size_t>(n));
        if (got.find("\r\n\r\n") == std::string::npos) continue;
        std::string host;
        if (auto h = got.find("\r\nHost: "); h != std::string::npos) host = got.substr(h + 8, got.find("\r\n", h + 8) - h - 8);
        const std::string body = "host-service says hi; Host " + host + "\n";
        const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
        (void)!::write(c, resp.data(), resp.size());
        break;
      }
      ::close(c);
    }
  }

  bool http_;
  int fd_ = -1, port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

// python3 in a cell: a TCP round trip to HOST:PORT, printing what came back,
// or REFUSED/RESET/FAILED and how long that took. HOST "" is the cell's
// resolver (warden on its network).
std::string tcp_client(const std::string& host, int port) {
  const std::string h = host.empty() ? "open('/etc/resolv.conf').read().split('nameserver ')[1].split()[0]" : "'" + host + "'";
  return "python3 - <<'EOF'\n"
         "import socket, time\n"
         "t = time.time()\n"
         "try:\n"
         "    s = socket.create_connection((" + h + ", " + std::to_string(port) + "), timeout=10)\n"
         "    s.sendall(b'brig-host-service-round-trip')\n"
         "    got = b''\n"
         "    while len(got) < 28:\n"
         "        d = s.recv(4096)\n"
         "        if not d: break\n"
         "        got += d\n"
         "    print('GOT', got.decode())\n"
         "except ConnectionRefusedError:\n"
         "    print('REFUSED after %.1f s' % (time.time() - t))\n"
         "except (ConnectionResetError, BrokenPipeError):\n"
         "    print('RESET after %.1f s' % (time.time() - t))\n"
         "except OSError as e:\n"
         "    print('FAILED', e, 'after %.1f s' % (time.time() - t))\n"
         "EOF\n";
}

std::string warden_of(const nlohmann::json& cell) {
  const std::string a = cell.value("address", "");
  return a.substr(0, a.rfind('.')) + ".2";
}

TEST_F(Cells, HostServicesReachOnlyTheDeclaringCell) {
  HostServer web("127.0.0.1", true);
  HostServer db("0.0.0.0", false);  // on every address: still only through the declaration
  ASSERT_TRUE(web.ok() && db.ok());
  const std::string spec = dir_ + "/hs.yaml";
  std::ofstream(spec) << "name: e2e-hs\nimage: " << kNode << "\ncommand: [sleep, '3600']\nhost_services:\n"
                      << "  - {name: llm, port: " << web.port() << "}\n"
                      << "  - {name: db, port: " << db.port() << ", protocol: tcp}\n";
  auto started = brig({"run", "-d", "--file", spec});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_THAT(started.err, HasSubstr("note: host service db (db.host.brig:" + db.port_text() +
                                     ") is a declared tcp channel"));

  // HTTP by name through the proxy, Host rewritten for the service.
  auto http = brig({"cell", "exec", "e2e-hs", "--", "curl", "-s", "--max-time", "10", "http://llm.host.brig/v1/x"});
  EXPECT_EQ(http.exit_code, 0) << http.out << http.err;
  EXPECT_THAT(http.out, HasSubstr("host-service says hi; Host localhost:" + web.port_text()));
  // The names are in its /etc/hosts, and its resolver agrees.
  const std::string warden = warden_of(inspect("e2e-hs"));
  auto hosts = brig({"cell", "exec", "e2e-hs", "--", "sh", "-c", "grep host.brig /etc/hosts; getent ahostsv4 db.host.brig"});
  EXPECT_THAT(hosts.out, HasSubstr(warden + "\tdb.host.brig"));
  EXPECT_THAT(hosts.out, HasSubstr(warden + "\tllm.host.brig"));
  // TCP: bytes both ways through warden and the relay.
  auto tcp = brig({"cell", "exec", "e2e-hs", "--", "sh", "-c", tcp_client("db.host.brig", db.port())});
  EXPECT_THAT(tcp.out, HasSubstr("GOT brig-host-service-round-trip")) << tcp.err;
  // A port it did not declare: refused at once.
  auto other = brig({"cell", "exec", "e2e-hs", "--", "sh", "-c", tcp_client(warden, web.port())});
  EXPECT_THAT(other.out, HasSubstr("REFUSED after 0.")) << other.err;

  // A cell that declared nothing: 403 for the name, a refused connection for the port.
  const int served = web.served() + db.served();
  auto stranger = in_cell("e2e-hs-none",
                          "curl -s -o /dev/null -w 'status %{http_code}\\n' --max-time 10 http://llm.host.brig/; " +
                              tcp_client("", db.port()),
                          {}, kNode);
  EXPECT_THAT(stranger.out, HasSubstr("status 403")) << stranger.out << stranger.err;
  EXPECT_THAT(stranger.out, HasSubstr("REFUSED after 0.")) << stranger.out << stranger.err;
  EXPECT_EQ(web.served() + db.served(), served);  // nothing reached the host

  // Logged: the HTTP request with its service, the TCP connection with its bytes.
  auto network = brig({"cell", "network", "e2e-hs"});
  EXPECT_THAT(network.out, HasSubstr("HOST:")) << network.out;
  EXPECT_THAT(network.out, HasSubstr("llm.host.brig")) << network.out;
  EXPECT_THAT(network.out, HasSubstr("db")) << network.out;
  EXPECT_EQ(brig({"cell", "rm", "--force", "e2e-hs"}).exit_code, 0);
}

TEST_F(Cells, HostServiceAddedAndRemovedLive) {
  HostServer db("127.0.0.1", false);
  ASSERT_TRUE(db.ok());
  running("e2e-hs-live", kNode);
  const std::string warden = warden_of(inspect("e2e-hs-live"));
  auto before = brig({"cell", "exec", "e2e-hs-live", "--", "sh", "-c", tcp_client(warden, db.port())});
  EXPECT_THAT(before.out, HasSubstr("REFUSED")) << before.out << before.err;

  auto set = brig({"policy", "set", "e2e-hs-live", "--host-service", "db:" + db.port_text() + "/tcp"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto after = brig({"cell", "exec", "e2e-hs-live", "--", "sh", "-c",
                     "grep db.host.brig /etc/hosts; cat /run/brig/cell.json; " + tcp_client("db.host.brig", db.port())});
  EXPECT_THAT(after.out, HasSubstr(warden + "\tdb.host.brig"));
  EXPECT_THAT(after.out, HasSubstr("tcp://db.host.brig:" + db.port_text()));
  EXPECT_THAT(after.out, HasSubstr("GOT brig-host-service-round-trip")) << after.out << after.err;

  // A reserved port is refused with the spec's words, and changes nothing.
  auto bad = brig({"policy", "set", "e2e-hs-live", "--host-service", "x:3128/tcp"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("3128 is reserved by warden"));

  auto removed = brig({"policy", "set", "e2e-hs-live", "--remove-host-service", "db"});
  ASSERT_EQ(removed.exit_code, 0) << removed.out << removed.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto gone = brig({"cell", "exec", "e2e-hs-live", "--", "sh", "-c",
                    "grep -c db.host.brig /etc/hosts; " + tcp_client(warden, db.port())});
  EXPECT_THAT(gone.out, HasSubstr("0\n"));
  EXPECT_THAT(gone.out, HasSubstr("REFUSED")) << gone.out << gone.err;
  auto verify = brig({"system", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace brig::testing::e2e
