// Host services with real traffic: `brig system host-relay` on a unix socket,
// `brig warden serve --host-relay` using it, and an HTTP and a TCP service of
// the test's own on 127.0.0.1 (the "user's machine"). Cell c1 (127.0.0.2)
// declares both; c2 (127.0.0.4) declares none. Warden's transparent :80 and
// its TCP host-service listeners are on 127.0.0.9, so they never meet the
// services' ports on 127.0.0.1 (or another suite's warden on 127.0.0.1:80).
#include <arpa/inet.h>
#include <sys/un.h>

#include <cerrno>

#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {

constexpr const char* kWardenAddr = "127.0.0.9";
constexpr const char* kOther = "127.0.0.4";  // c2

// Answers each request with what reached it: its target, Host and X-Forwarded-Host.
void serve_echo_http(int fd) {
  const std::string head = read_head(fd);
  auto field = [&](const std::string& name) {
    const auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return std::string("-");
    const auto from = at + name.size() + 4;
    return head.substr(from, head.find("\r\n", from) - from);
  };
  const std::string target = head.substr(head.find(' ') + 1, head.find(' ', head.find(' ') + 1) - head.find(' ') - 1);
  const std::string body = "target=" + target + " host=" + field("Host") + " xfh=" + field("X-Forwarded-Host");
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

// A server that speaks first (as databases do), then echoes until EOF, then says bye.
void serve_echo_tcp(int fd) {
  send_all(fd, "hello\n");
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    send_all(fd, std::string(buf, static_cast<std::size_t>(n)));
  }
  send_all(fd, "bye\n");
}

// Reads from `fd` until `want` bytes came, it closed, or `timeout` passed.
std::string read_some(int fd, std::size_t want, std::chrono::milliseconds timeout = 3s) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// What ended a connection: 0 (EOF), the errno of a failed read, or -1 when
// it is still open after `timeout`.
int end_of(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
  char buf[256];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return 0;
    if (n < 0) return errno == EAGAIN ? -1 : errno;
  }
}

class HostServices : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = network_skip_reason();
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/brig-hostsvc-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    http_ = new LoopServer(serve_echo_http);
    tcp_ = new LoopServer(serve_echo_tcp);
    write_file(home_ + "/state/system/subnet-map.json", R"({"127.0.0.2/32": "c1", "127.0.0.4/32": "c2"})");
    // The policy allows nothing: host services are not its question.
    write_file(home_ + "/policy/network-policy.json", R"({"allow": []})");
    write_table(true);
    const std::vector<std::string> env = {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"};
    socket_ = home_ + "/relay.sock";
    relay_ = new Child({BRIG_BINARY, "system", "host-relay", "--socket", socket_, "--pidfile", home_ + "/relay.pid"}, env);
    const auto relay_line = relay_->read_line(10s);
    ASSERT_TRUE(relay_line.has_value()) << "the relay printed nothing";
    EXPECT_EQ(nlohmann::json::parse(*relay_line)["relay"], socket_);
    warden_ = new Child({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                         "--dns-listen", "127.0.0.1:0", "--http-listen", std::string(kWardenAddr) + ":80",
                         "--host-relay", socket_, "--host-service-listen", kWardenAddr, "--threads", "2"},
                        env);
    const auto line = warden_->read_line(10s);
    ASSERT_TRUE(line.has_value()) << "warden printed no addresses";
    const auto j = nlohmann::json::parse(*line);
    proxy_ = j["proxy"];
    ops_ = j["ops"];
    const std::string dns = j["dns"];
    dns_port_ = std::stoi(dns.substr(dns.rfind(':') + 1));
    ASSERT_TRUE(listener_is(true)) << "no TCP host-service listener on " << kWardenAddr << ":" << tcp_->port();
  }

  static void TearDownTestSuite() {
    if (warden_) {
      warden_->signal(SIGTERM);
      EXPECT_EQ(warden_->wait(15s), 0) << "warden drains and exits 0 (its TCP listeners closed)";
      delete warden_;
    }
    if (relay_) {
      relay_->signal(SIGTERM);
      EXPECT_EQ(relay_->wait(5s), 0) << "the relay exits 0 on SIGTERM";
      EXPECT_FALSE(std::filesystem::exists(socket_)) << "and removes its socket";
      EXPECT_FALSE(std::filesystem::exists(home_ + "/relay.pid")) << "and its pidfile";
      delete relay_;
    }
    delete http_;
    delete tcp_;
    if (!home_.empty()) std::filesystem::remove_all(home_);
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // c1 declares llm (http), down (http, nothing listens) and db (tcp) when
  // `with_db`, the first two otherwise; c2 nothing.
  static void write_table(bool with_db) {
    std::string services = R"([{"name": "llm", "port": )" + std::to_string(http_->port()) + R"(, "protocol": "http"}, )" +
                           R"({"name": "down", "port": )" + std::to_string(free_port()) + R"(, "protocol": "http"})";
    if (with_db) services += R"(, {"name": "db", "port": )" + std::to_string(tcp_->port()) + R"(, "protocol": "tcp"})";
    write_file(home_ + "/state/system/host-services.json",
               R"({"c1": {"address": "127.0.0.2", "running": true, "services": )" + services + R"(]},
                   "c2": {"address": "127.0.0.4", "running": true, "services": []}})");
  }

  // A loopback port nothing listens on (now).
  static int free_port() {
    static const int port = free_loopback_port();
    return port;
  }

  // Whether warden's TCP listener for db is there (or gone), within 3 s.
  static bool listener_is(bool open) {
    for (int i = 0; i < 60; ++i) {
      const int fd = connect_from(kCell, kWardenAddr, tcp_->port());
      if (fd >= 0) ::close(fd);
      if ((fd >= 0) == open) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  static proc::Output curl(const std::string& src, std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--noproxy", "", "-x", "http://" + proxy_,
                                     "--interface", src, "-w", "|%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  static std::string ops(const std::string& path) { return run({"curl", "-sS", "http://" + ops_ + path}).out; }

  // The cell's log records of `kind` whose host_service is `service`.
  static std::vector<nlohmann::json> records(const std::string& cell, const std::string& kind, const std::string& service) {
    std::this_thread::sleep_for(300ms);  // the log writer is asynchronous
    std::vector<nlohmann::json> out;
    std::ifstream in(home_ + "/logs/cells/" + cell + ".jsonl");
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("kind", "") == kind && j.value("host_service", "") == service) out.push_back(j);
    }
    return out;
  }

  // A connection to the relay's socket that sends `line` and returns the reply line.
  static std::string ask_relay(const std::string& line, int* keep = nullptr) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return "(cannot connect)";
    }
    send_all(fd, line);
    std::string reply;
    char c;
    while (reply.size() < 64 && ::recv(fd, &c, 1, 0) == 1) {
      reply += c;
      if (c == '\n') break;
    }
    if (keep) *keep = fd;
    else ::close(fd);
    return reply;
  }

  static inline std::string skip_, home_, proxy_, ops_, socket_;
  static inline int dns_port_ = 0;
  static inline LoopServer *http_ = nullptr, *tcp_ = nullptr;
  static inline Child *relay_ = nullptr, *warden_ = nullptr;
};

TEST_F(HostServices, ADeclaredHttpServiceIsReachedThroughTheProxyWithHostRewritten) {
  const std::string port = std::to_string(http_->port());
  auto r = curl(kCell, {"http://llm.host.brig/v1/models?x=1"});
  EXPECT_EQ(r.out, "target=/v1/models?x=1 host=localhost:" + port + " xfh=llm.host.brig|200") << r.err;
  // Its own port names it too.
  r = curl(kCell, {"http://llm.host.brig:" + port + "/"});
  EXPECT_EQ(r.out, "target=/ host=localhost:" + port + " xfh=llm.host.brig|200") << r.err;
  const auto recs = records("c1", "http", "llm");
  ASSERT_GE(recs.size(), 2u);
  EXPECT_EQ(recs[0]["decision"], "allow");
  EXPECT_EQ(recs[0]["host"], "llm.host.brig");
  EXPECT_EQ(recs[0]["status"], 200);
  EXPECT_GT(recs[0]["bytes_in"].get<int>(), 0);
}

TEST_F(HostServices, ADeclaredHttpServiceIsReachedThroughTransparentPort80) {
  auto r = run({"curl", "-sS", "--max-time", "10", "--noproxy", "*", "--interface", kCell, "-w", "|%{http_code}",
                "--resolve", std::string("llm.host.brig:80:") + kWardenAddr, "http://llm.host.brig/t"});
  EXPECT_EQ(r.out, "target=/t host=localhost:" + std::to_string(http_->port()) + " xfh=llm.host.brig|200") << r.err;
  const auto recs = records("c1", "http", "llm");
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back()["transparent"], true);
}

TEST_F(HostServices, AnUndeclaredNameIsRefusedWithTheFix) {
  auto r = curl(kCell, {"-D", "-", "http://web.host.brig/"});
  EXPECT_THAT(r.out, HasSubstr("X-Brig-Blocked: host_service"));
  EXPECT_THAT(r.out, HasSubstr("reason: cell c1 declares no host service web"));
  EXPECT_THAT(r.out, HasSubstr("fix:    brig policy set c1 --host-service web:PORT"));
  EXPECT_THAT(r.out, ::testing::EndsWith("|403"));
  // c1's service is not c2's.
  r = curl(kOther, {"-H", "Accept: application/json", "http://llm.host.brig/"});
  ASSERT_THAT(r.out, ::testing::EndsWith("|403"));
  const auto j = nlohmann::json::parse(r.out.substr(0, r.out.rfind('|')));
  EXPECT_EQ(j["code"], "host_service");
  EXPECT_EQ(j["fix"], "brig policy set c2 --host-service llm:PORT");
  // A tcp service is not reached over HTTP.
  r = curl(kCell, {"http://db.host.brig/"});
  EXPECT_THAT(r.out, HasSubstr("host service db is tcp"));
  const auto recs = records("c1", "http", "web");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["decision"], "deny");
  EXPECT_EQ(recs[0]["code"], "host_service");
}

TEST_F(HostServices, AServiceNothingListensForIsABadGatewaySayingSo) {
  auto r = curl(kCell, {"http://down.host.brig/"});
  EXPECT_EQ(r.out, "brig warden: nothing listens on the host's port " + std::to_string(free_port()) +
                       " (host service down): connection refused\n|502")
      << r.err;
  const auto recs = records("c1", "http", "down");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["decision"], "error");
}

TEST_F(HostServices, TlsToAHostServiceIsRefusedSayingItIsPlainHttp) {
  const std::string out = raw_exchange(proxy_.substr(0, proxy_.rfind(':')), std::stoi(proxy_.substr(proxy_.rfind(':') + 1)),
                                       kCell, "CONNECT llm.host.brig:443 HTTP/1.1\r\nHost: llm.host.brig:443\r\n\r\n", 3s);
  EXPECT_THAT(out, ::testing::StartsWith("HTTP/1.1 403"));
  EXPECT_THAT(out, HasSubstr("host services are plain HTTP: use http://llm.host.brig/"));
}

TEST_F(HostServices, ATcpServiceRelaysBytesBothWaysAndIsLogged) {
  const int fd = connect_from(kCell, kWardenAddr, tcp_->port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_some(fd, 6), "hello\n") << "the service speaks first";
  send_all(fd, "ping\n");
  EXPECT_EQ(read_some(fd, 5), "ping\n");
  ::shutdown(fd, SHUT_WR);  // half-close: the service sees EOF and still answers
  EXPECT_EQ(read_some(fd, 100), "bye\n");
  EXPECT_EQ(end_of(fd, 3s), 0);
  ::close(fd);
  std::this_thread::sleep_for(200ms);
  const auto recs = records("c1", "tcp", "db");
  ASSERT_FALSE(recs.empty());
  const auto& rec = recs.back();
  EXPECT_EQ(rec["decision"], "allow");
  EXPECT_EQ(rec["port"], tcp_->port());
  EXPECT_EQ(rec["host"], "db.host.brig");
  EXPECT_EQ(rec["bytes_out"], 5);
  EXPECT_EQ(rec["bytes_in"], 15);  // hello, ping, bye
  const auto m = ops("/metrics");
  EXPECT_GE(metric(m, R"(brig_warden_host_service_connections_total{cell="c1",service="db",decision="allow"})"), 1);
  EXPECT_GE(metric(m, R"(brig_warden_host_service_bytes_total{cell="c1",service="db",direction="in"})"), 15);
  EXPECT_GE(metric(m, R"(brig_warden_host_service_bytes_total{cell="c1",service="db",direction="out"})"), 5);
}

TEST_F(HostServices, ACellThatDoesNotDeclareThePortIsResetAtOnce) {
  const int fd = connect_from(kOther, kWardenAddr, tcp_->port());
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(end_of(fd, 2s), ECONNRESET);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  ::close(fd);
  const auto recs = records("c2", "tcp", "");
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back()["decision"], "deny");
  EXPECT_EQ(recs.back()["code"], "host_service");
  EXPECT_THAT(recs.back()["reason"].get<std::string>(), HasSubstr("declares no tcp host service on port"));
}

TEST_F(HostServices, TheRelayConnectsOnlyToDeclaredPorts) {
  EXPECT_EQ(ask_relay("BRIG-RELAY 1 c1 db 22\n"), "ERR undeclared\n");
  EXPECT_EQ(ask_relay("BRIG-RELAY 1 c2 db " + std::to_string(tcp_->port()) + "\n"), "ERR undeclared\n");
  EXPECT_EQ(ask_relay("GET / HTTP/1.1\r\n"), "ERR bad request\n");
  EXPECT_EQ(ask_relay(std::string(200, 'x')), "ERR bad request\n") << "a line longer than 128 bytes";
  int fd = -1;
  EXPECT_EQ(ask_relay("BRIG-RELAY 1 c1 db " + std::to_string(tcp_->port()) + "\n", &fd), "OK\n");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_some(fd, 6), "hello\n");
  ::close(fd);
}

TEST_F(HostServices, RemovingTheServiceClosesItsConnectionsAndItsListener) {
  const int fd = connect_from(kCell, kWardenAddr, tcp_->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(read_some(fd, 6), "hello\n");
  write_table(false);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(end_of(fd, 2s), -1) << "the open connection is closed";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  ::close(fd);
  EXPECT_TRUE(listener_is(false)) << "the port's listener is gone";
  const auto recs = records("c1", "tcp", "db");
  ASSERT_FALSE(recs.empty());
  EXPECT_THAT(recs.back()["reason"].get<std::string>(), HasSubstr("no longer allows this connection"));
  // The relay reads the table too.
  EXPECT_EQ(ask_relay("BRIG-RELAY 1 c1 db " + std::to_string(tcp_->port()) + "\n"), "ERR undeclared\n");
  write_table(true);
  EXPECT_TRUE(listener_is(true)) << "declared again: listening again";
}

TEST_F(HostServices, TheResolverAnswersDeclaredNamesOnly) {
  auto ask = [](const std::string& src, const std::string& name) {
    auto out = udp_exchange(src, "127.0.0.1", dns_port_, dns_query(name, 1), 2s);
    return out ? parse_dns_reply(*out) : std::nullopt;
  };
  for (const char* name : {"llm.host.brig", "db.host.brig"}) {
    auto a = ask(kCell, name);
    ASSERT_TRUE(a.has_value()) << name;
    EXPECT_EQ(a->rcode, 0) << name;
    EXPECT_EQ(a->address, "127.0.0.1") << name;
  }
  for (const auto& [src, name] : {std::pair{kCell, "web.host.brig"}, {kCell, "host.brig"}, {kOther, "llm.host.brig"}}) {
    auto a = ask(src, name);
    ASSERT_TRUE(a.has_value()) << name;
    EXPECT_EQ(a->rcode, 3) << src << " " << name;
  }
}

}  // namespace
}  // namespace brig::testing
