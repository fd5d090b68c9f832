// Warden with real traffic, for what changes while it runs: secrets it
// injects (state/system/secrets/<cell>.json), policy changes reaching open
// connections, and time-boxed grants lapsing. A warden of its own on
// loopback, nginx in a namespace for TLS upstreams, small loopback servers
// for the rest; curl or raw sockets as the cell (source 127.0.0.6 = c1).
// Asserts what the cell and the upstream observe.
#include <openssl/ssl.h>

#include "brig/core/timefmt.h"
#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {

using ::testing::Not;

constexpr const char* kSrc = "127.0.0.6";
const std::string kP1 = "brig-secret-k1-0123456789abcdef0123456789abcdef";
const std::string kP2 = "brig-secret-k2-fedcba9876543210fedcba9876543210";
const std::string kV1 = "sk-live-value-one";
const std::string kV2 = "sk-live-value-two";

// Answers with what it was sent: GET /head puts the X-Key it got in an
// X-Seen response header; anything else gets the whole request as its body.
void serve_reflect(int fd) {
  for (;;) {
    const std::string head = read_head(fd);
    if (head.empty()) return;
    if (head.find(" /head") != std::string::npos) {
      std::string seen;
      if (auto k = head.find("X-Key: "); k != std::string::npos) seen = head.substr(k + 7, head.find("\r\n", k) - k - 7);
      send_all(fd, "HTTP/1.1 200 OK\r\nX-Seen: " + seen + "\r\nContent-Length: 2\r\n\r\nok");
    } else {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(head.size()) + "\r\n\r\n" + head);
    }
  }
}

// Once it gets anything, sends one byte every 100 ms for 10 s.
void serve_trickle(int fd) {
  char buf[4096];
  if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
  for (int i = 0; i < 100; ++i) {
    if (::send(fd, "t", 1, MSG_NOSIGNAL) != 1) return;
    std::this_thread::sleep_for(100ms);
  }
}

// A TLS ClientHello naming `sni`, as a client's first bytes.
std::string client_hello(const std::string& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rb = BIO_new(BIO_s_mem());
  BIO* wb = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rb, wb);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_connect(ssl);  // wants to read the server's answer: the hello is written
  char* data = nullptr;
  const long n = BIO_get_mem_data(wb, &data);
  std::string out(data, static_cast<std::size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

// How long until `fd` is closed by the peer (EOF or error), at most `limit`.
std::chrono::milliseconds until_closed(int fd, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  char buf[4096];
  while (std::chrono::steady_clock::now() - start < limit) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
    }
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

class LiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = network_skip_reason();
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/brig-live-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    upstream_ = new Upstream(home_, {"secure.test", "other.test"});
    reflect_ = new LoopServer(serve_reflect);
    recorder_ = new LoopServer(serve_record);
    ws_ = new LoopServer(serve_ws_silent);
    trickle_ = new LoopServer(serve_trickle);
    write_file(home_ + "/state/system/subnet-map.json", R"({"127.0.0.6/32": "c1"})");
    write_file(home_ + "/policy/network-policy.json", R"({"allow": []})");
    write_file(home_ + "/policy/cells/c1.json", R"({"allow": []})");
    const std::string up = upstream_->address();
    std::string yaml = "resolve_overrides:\n";
    for (const char* n : {"secure.test", "other.test"}) {
      yaml += std::string("  - ") + n + ":80:" + up + "\n  - " + n + ":443:" + up + "\n";
    }
    yaml += "  - " + reflect() + ":127.0.0.1\n  - " + rec() + ":127.0.0.1\n  - " + ws() + ":127.0.0.1\n  - " +
            trickle() + ":127.0.0.1\n";
    write_file(home_ + "/warden.yaml", yaml);
    warden_ = new Child({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                         "--upstream-ca", upstream_->ca_file(), "--threads", "2"},
                        {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
    auto line = warden_->read_line(10s);
    ASSERT_TRUE(line.has_value()) << "warden printed no addresses";
    auto j = nlohmann::json::parse(*line);
    proxy_ = j["proxy"];
    ops_ = j["ops"];
  }
  static void TearDownTestSuite() {
    delete warden_;
    delete reflect_;
    delete recorder_;
    delete ws_;
    delete trickle_;
    delete upstream_;
    if (!home_.empty()) std::filesystem::remove_all(home_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string reflect() { return "reflect.test:" + std::to_string(reflect_->port()); }
  static std::string rec() { return "rec.test:" + std::to_string(recorder_->port()); }
  static std::string ws() { return "ws.test:" + std::to_string(ws_->port()); }
  static std::string trickle() { return "trickle.test:" + std::to_string(trickle_->port()); }
  static std::string proxy_host() { return proxy_.substr(0, proxy_.rfind(':')); }
  static int proxy_port() { return std::stoi(proxy_.substr(proxy_.rfind(':') + 1)); }

  // The cell's policy file, as `brig policy set` writes it; then the reload (250 ms polls).
  static void policy(const std::string& json) {
    write_file(home_ + "/policy/cells/c1.json", json);
    std::this_thread::sleep_for(700ms);
  }
  // k1 for reflect.test and rec.test (also over plain HTTP), k2 for secure.test.
  static void secrets() {
    write_file(home_ + "/state/system/secrets/c1.json", R"({"secrets": [
      {"name": "k1", "env": "K1", "placeholder": ")" + kP1 + R"(", "value": ")" + kV1 + R"(",
       "hosts": ["reflect.test", "rec.test"], "allow_plaintext": true},
      {"name": "k2", "env": "K2", "placeholder": ")" + kP2 + R"(", "value": ")" + kV2 + R"(",
       "hosts": ["secure.test"]}]})");
  }
  static proc::Output curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--noproxy", "", "-x", "http://" + proxy_,
                                     "--interface", kSrc, "--cacert", home_ + "/ca/ca.crt", "-w", "|%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  static std::string ops(const std::string& path) { return run({"curl", "-sS", "http://" + ops_ + path}).out; }
  static std::string log() {
    std::this_thread::sleep_for(300ms);  // the writer thread
    std::ifstream in(home_ + "/logs/cells/c1.jsonl");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static inline std::string skip_, home_, proxy_, ops_;
  static inline Upstream* upstream_ = nullptr;
  static inline LoopServer *reflect_ = nullptr, *recorder_ = nullptr, *ws_ = nullptr, *trickle_ = nullptr;
  static inline Child* warden_ = nullptr;
};

TEST_F(LiveTest, InjectsASecretForItsHostsOnly) {
  secrets();
  policy(R"({"allow": ["secure.test", "other.test", {"domain": ")" + rec() + R"(", "paths": ["/ok/*"]}]})");
  take_recorded();
  // Header and query: the upstream gets the value, never the placeholder.
  auto ok = curl({"-H", "Authorization: Bearer " + kP1, "http://" + rec() + "/ok/x?key=" + kP1 + "&n=1"});
  EXPECT_THAT(ok.out, HasSubstr("|200")) << ok.err;
  const std::string up = take_recorded();
  EXPECT_THAT(up, HasSubstr("GET /ok/x?key=" + kV1 + "&n=1 HTTP/1.1\r\n"));
  EXPECT_THAT(up, HasSubstr("\r\nAuthorization: Bearer " + kV1 + "\r\n"));
  EXPECT_THAT(up, Not(HasSubstr("brig-secret-")));
  // Under MITM, to its host: allowed (nginx answers).
  EXPECT_THAT(curl({"-H", "x-api-key: " + kP2, "https://secure.test/"}).out, HasSubstr("|200"));

  const std::string records = log();
  EXPECT_THAT(records, HasSubstr(kP1));  // the path as the cell sent it
  EXPECT_THAT(records, Not(HasSubstr(kV1)));
  EXPECT_THAT(records, Not(HasSubstr(kV2)));
  const std::string metrics = ops("/metrics");
  EXPECT_GE(metric(metrics, R"(brig_warden_secret_injections_total{cell="c1"})"), 2);
  EXPECT_THAT(metrics, Not(HasSubstr(kV1)));
}

TEST_F(LiveTest, RefusesAPlaceholderWhereverItMayNotGo) {
  secrets();
  policy(R"({"allow": ["secure.test", "other.test", {"domain": ")" + rec() + R"(", "paths": ["/ok/*"]}]})");
  const std::string key = R"(brig_warden_blocked_total{cell="c1",reason="secret"})";
  const double before = metric(ops("/metrics"), key);
  take_recorded();
  // To another allowed host (MITM): 403 naming the secret, with the code.
  auto other = curl({"-i", "-H", "Authorization: Bearer " + kP1, "https://other.test/"});
  EXPECT_THAT(other.out, HasSubstr("|403"));
  EXPECT_THAT(other.out, HasSubstr("X-Brig-Blocked: secret"));
  EXPECT_THAT(other.out, HasSubstr("placeholder of secret k1, which warden injects only into requests to reflect.test, rec.test"));
  EXPECT_THAT(other.out, Not(HasSubstr(kV1)));
  // To its own host over plain HTTP without allow_plaintext.
  auto plain = curl({"-H", "x-api-key: " + kP2, "http://secure.test/"});
  EXPECT_THAT(plain.out, HasSubstr("|403"));
  EXPECT_THAT(plain.out, HasSubstr("over plain HTTP"));
  // In the URL path, and in a body (small, and streamed in chunks).
  EXPECT_THAT(curl({"http://" + rec() + "/ok/" + kP1}).out, HasSubstr("|403"));
  auto body = curl({"-X", "POST", "--data-binary", "token=" + kP1, "http://" + rec() + "/ok/post"});
  EXPECT_THAT(body.out, HasSubstr("|403"));
  EXPECT_THAT(body.out, HasSubstr("request body carries the placeholder of secret k1"));
  const std::string big = home_ + "/big-body";
  std::ofstream(big) << std::string(200 * 1024, 'a') << kP1 << std::string(1024, 'b');
  auto streamed = curl({"-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + big,
                        "http://" + rec() + "/ok/stream"});
  EXPECT_THAT(streamed.out + streamed.err, Not(HasSubstr("|200")));
  const std::string up = take_recorded();
  EXPECT_THAT(up, Not(HasSubstr(kP1)));
  EXPECT_THAT(up, Not(HasSubstr("POST /ok/post")));  // the small one never left
  // In a CONNECT head: never injected, refused.
  const std::string connect = raw_exchange(proxy_host(), proxy_port(), kSrc,
                                           "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n"
                                           "Proxy-Authorization: Basic " + kP1 + "\r\n\r\n", 3s);
  EXPECT_THAT(connect, ::testing::StartsWith("HTTP/1.1 403"));
  EXPECT_GE(metric(ops("/metrics"), key), before + 6);
  EXPECT_THAT(log(), HasSubstr(R"("code":"secret")"));
}

TEST_F(LiveTest, AnInjectedValueNeverComesBackToTheCell) {
  secrets();
  policy(R"({"allow": [")" + reflect() + R"("]})");
  // Echoed in a response header: warden puts the placeholder back.
  auto head = curl({"-i", "-H", "X-Key: " + kP1, "http://" + reflect() + "/head"});
  EXPECT_THAT(head.out, HasSubstr("X-Seen: " + kP1));
  EXPECT_THAT(head.out, Not(HasSubstr(kV1)));
  // Echoed in the body: cut before it reaches the cell.
  auto body = curl({"-H", "X-Key: " + kP1, "http://" + reflect() + "/body"});
  EXPECT_THAT(body.out, Not(HasSubstr(kV1)));
  EXPECT_NE(body.exit_code, 0);
  EXPECT_THAT(log(), HasSubstr("the response carried the value of secret k1 back"));
}

TEST_F(LiveTest, APolicyChangeCutsAnOpenWebSocketAtOnce) {
  policy(R"({"allow": [")" + ws() + R"("]})");
  const int fd = connect_from(kSrc, proxy_host(), proxy_port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET http://" + ws() + "/ HTTP/1.1\r\nHost: " + ws() +
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_THAT(read_head(fd), HasSubstr("101 Switching Protocols"));
  write_file(home_ + "/policy/cells/c1.json", R"({"allow": []})");
  EXPECT_LT(until_closed(fd, 5s), 1500ms);  // the silent server would hold it 3 s
  ::close(fd);
  EXPECT_THAT(log(), HasSubstr("closed by warden: policy generation"));
  EXPECT_GE(metric(ops("/metrics"), R"(brig_warden_revoked_connections_total{cell="c1"})"), 1);
}

TEST_F(LiveTest, APolicyChangeCutsAPassthroughTunnelMidStream) {
  const std::string allow = R"({"allow": [")" + trickle() + R"("], "tls_passthrough": ["trickle.test"]})";
  policy(allow);
  auto open = [&] {
    const int fd = connect_from(kSrc, proxy_host(), proxy_port());
    send_all(fd, "CONNECT " + trickle() + " HTTP/1.1\r\nHost: " + trickle() + "\r\n\r\n");
    EXPECT_THAT(read_head(fd), HasSubstr(" 200 "));
    send_all(fd, client_hello("trickle.test"));
    return fd;
  };
  // Still declared: the download goes on (no close within 1.5 s).
  int fd = open();
  write_file(home_ + "/policy/cells/c1.json", allow.substr(0, allow.size() - 1) + R"(, "deny": ["unrelated.test"]})");
  EXPECT_GE(until_closed(fd, 1500ms), 1500ms);
  ::close(fd);
  // Its passthrough removed (the host still allowed): cut within a second.
  fd = open();
  std::this_thread::sleep_for(300ms);
  write_file(home_ + "/policy/cells/c1.json", R"({"allow": [")" + trickle() + R"("]})");
  EXPECT_LT(until_closed(fd, 5s), 1500ms);
  ::close(fd);
}

TEST_F(LiveTest, ATimeBoxedGrantLapsesAndCutsItsKeepAliveTunnel) {
  const std::int64_t expires = timefmt::now_seconds() + 3;
  policy(R"({"allow": [{"domain": "secure.test", "expires": ")" + timefmt::rfc3339(expires) + R"("}]})");
  // A MITM'd keep-alive connection through the grant.
  const int fd = connect_from(kSrc, proxy_host(), proxy_port());
  ASSERT_GE(fd, 0);
  send_all(fd, "CONNECT secure.test:443 HTTP/1.1\r\nHost: secure.test:443\r\n\r\n");
  ASSERT_THAT(read_head(fd), HasSubstr(" 200 "));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, (home_ + "/ca/ca.crt").c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "secure.test");
  ASSERT_EQ(SSL_connect(ssl), 1);
  const std::string req = "GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n";
  SSL_write(ssl, req.data(), static_cast<int>(req.size()));
  char buf[4096];
  const int n = SSL_read(ssl, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buf, static_cast<std::size_t>(n)), HasSubstr("200 OK"));
  // Idle now: closed once the grant lapses, not before.
  const auto lapse = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(expires));
  timeval tv{8, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const int end = SSL_read(ssl, buf, sizeof buf);
  const auto closed = std::chrono::system_clock::now();
  EXPECT_LE(end, 0);
  EXPECT_GT(closed, lapse - 500ms);
  EXPECT_LT(closed, lapse + 1500ms);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  // New connections are refused, and the lapse is in the cell's log.
  auto after = curl({"-i", "https://secure.test/"});
  EXPECT_THAT(after.out, HasSubstr("HTTP/1.1 403 Forbidden"));  // the CONNECT
  EXPECT_THAT(after.out, HasSubstr("X-Brig-Blocked: no_rule"));
  const std::string records = log();
  EXPECT_THAT(records, HasSubstr(R"("decision":"expire")"));
  EXPECT_THAT(records, HasSubstr("allow secure.test until " + timefmt::rfc3339(expires)));
}

TEST_F(LiveTest, EveryRecordCarriesTheGenerationThatDecidedIt) {
  policy(R"({"allow": ["other.test"]})");
  curl({"http://other.test/a"});
  policy(R"({"allow": []})");
  curl({"http://other.test/b"});
  std::uint64_t allowed = 0, denied = 0;
  std::istringstream in(log());
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["path"] == "/a") allowed = j["generation"];
    if (j["path"] == "/b") denied = j["generation"];
  }
  EXPECT_GT(allowed, 0u);
  EXPECT_GT(denied, allowed);
}

}  // namespace
}  // namespace brig::testing
