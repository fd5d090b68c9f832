// Warden's ingress with real traffic: `brig warden serve --ingress-listen`
// on loopback, a route table written as the engine writes it, the cells'
// servers on loopback (LoopServer), and curl (or an OpenSSL client) as the
// outside client. Asserts what a client and a cell observe: status codes,
// bytes received, what reached the cell, when SSE events arrive, the log
// record and the metrics.
#include <openssl/ssl.h>

#include "brig/core/strings.h"
#include "brig/state/ingress_routes.h"
#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {

using ::testing::Not;

const std::string kToken = "0123456789abcdef0123456789abcdef-ingress-token-one";
const std::string kOtherToken = "fedcba9876543210fedcba9876543210-ingress-token-two";

std::string sha256_hex(const std::string& s) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) out += {kHex[md[i] >> 4], kHex[md[i] & 15]};
  return out;
}

// A port nothing listens on.
int closed_port() {
  LoopServer s([](int) {});
  return s.port();
}

// Answers every request with what it received (head and body) as its body.
void serve_echo(int fd) {
  for (;;) {
    std::string head = read_head(fd);
    if (head.empty()) return;
    std::string body;
    if (auto cl = head.find("Content-Length: "); cl != std::string::npos) {
      body.resize(std::stoul(head.substr(cl + 16)));
      if (::recv(fd, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size())) return;
    }
    const std::string out = head + body;
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(out.size()) + "\r\n\r\n" + out);
  }
}

// WebSocket: answers the upgrade, then echoes every byte until the client closes.
void serve_ws_echo(int fd) {
  if (!ws_handshake(fd)) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    send_all(fd, std::string(buf, static_cast<std::size_t>(n)));
  }
}

class IngressTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = network_skip_reason();
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/brig-ingress-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    echo_ = new LoopServer(serve_echo);
    sse_ = new LoopServer(serve_sse);
    ws_ = new LoopServer(serve_ws_echo);
    keep_ = new LoopServer(serve_keep_alive);
    write_routes(true);
    warden_ = new Child({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                         "--ingress-listen", "127.0.0.1:0", "--ingress-max-body", "4096", "--threads", "2"},
                        {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
    auto line = warden_->read_line(10s);
    ASSERT_TRUE(line.has_value()) << "warden printed no addresses";
    auto j = nlohmann::json::parse(*line);
    ops_ = j["ops"];
    const std::string ingress = j["ingress"];
    port_ = std::stoi(ingress.substr(ingress.rfind(':') + 1));
  }

  static void TearDownTestSuite() {
    delete warden_;
    delete echo_;
    delete sse_;
    delete ws_;
    delete keep_;
    if (!home_.empty()) std::filesystem::remove_all(home_);
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // The route table as the engine writes it: cell "web" (echo at /, SSE at
  // /events, WebSocket at /ws, keep-alive at /keep, a dead port at /dead),
  // cell "other" (echo at /, its own token), cell "idle" (stopped).
  static void write_routes(bool web_running) {
    auto route = [](const char* name, int port, const char* prefix) { return state::IngressRoute{name, port, prefix}; };
    state::IngressTable t;
    t["web"] = {"127.0.0.1", web_running, sha256_hex(kToken),
                {route("echo", echo_->port(), "/"), route("events", sse_->port(), "/events"),
                 route("ws", ws_->port(), "/ws"), route("keep", keep_->port(), "/keep"),
                 route("dead", closed_port(), "/dead")}};
    t["other"] = {"127.0.0.1", true, sha256_hex(kOtherToken), {route("echo", echo_->port(), "/")}};
    t["idle"] = {"127.0.0.1", false, sha256_hex(kToken), {route("echo", echo_->port(), "/")}};
    auto text = state::serialize_ingress_routes(t);
    ASSERT_TRUE(text.ok()) << text.error().message();
    write_file(home_ + "/state/system/ingress-routes.json", *text);
  }

  // curl to https://<cell>.localhost:<port><path>, trusting brig's CA;
  // returns {exit code, body + "|" + status}.
  static proc::Output get(const std::string& cell, const std::string& path, std::vector<std::string> args = {}) {
    const std::string name = cell + ".localhost";
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--noproxy", "*", "--cacert", home_ + "/ca/ca.crt",
                                     "--resolve", name + ":" + std::to_string(port_) + ":127.0.0.1", "-w", "|%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("https://" + name + ":" + std::to_string(port_) + path);
    return run(argv);
  }
  static std::vector<std::string> bearer(const std::string& token) { return {"-H", "Authorization: Bearer " + token}; }
  static std::string status_of(const proc::Output& o) { return o.out.substr(o.out.rfind('|') + 1); }

  static inline std::string skip_, home_, ops_;
  static inline int port_ = 0;
  static inline LoopServer *echo_ = nullptr, *sse_ = nullptr, *ws_ = nullptr, *keep_ = nullptr;
  static inline Child* warden_ = nullptr;
};

TEST_F(IngressTest, ServesOnlyWithTheCellsBearerToken) {
  auto ok = get("web", "/hello", bearer(kToken));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("GET /hello HTTP/1.1"));
  EXPECT_EQ(status_of(ok), "200");

  auto none = get("web", "/hello", {"-D", "-"});
  EXPECT_EQ(status_of(none), "401");
  EXPECT_THAT(none.out, HasSubstr("WWW-Authenticate: Bearer realm=\"brig\""));
  EXPECT_THAT(none.out, HasSubstr("the secret web-ingress-token"));
  EXPECT_THAT(none.out, Not(HasSubstr("GET /hello")));

  EXPECT_EQ(status_of(get("web", "/hello", bearer(kOtherToken))), "401");               // another cell's token
  EXPECT_EQ(status_of(get("web", "/hello", bearer(kToken.substr(0, 40)))), "401");      // a prefix
  EXPECT_EQ(status_of(get("web", "/hello", {"-H", "Authorization: Basic " + kToken})), "401");
  EXPECT_EQ(status_of(get("web", "/hello", {"-H", "Authorization: Bearer " + kToken, "-H",
                                            "Authorization: Bearer " + kToken})), "401");  // two Authorization headers
  EXPECT_EQ(status_of(get("other", "/", bearer(kOtherToken))), "200");
}

TEST_F(IngressTest, TheCellNeverSeesTheTokenAndLearnsWhoAsked) {
  auto out = get("web", "/api/x?q=1", {"-H", "Authorization: Bearer " + kToken, "-H", "X-Forwarded-For: 6.6.6.6", "-H",
                                       "X-Forwarded-Host: evil.test"});
  ASSERT_EQ(status_of(out), "200") << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("GET /api/x?q=1 HTTP/1.1"));
  EXPECT_THAT(out.out, Not(HasSubstr(kToken)));
  EXPECT_THAT(out.out, Not(HasSubstr("Authorization")));
  EXPECT_THAT(out.out, HasSubstr("X-Forwarded-For: 127.0.0.1\r\n"));
  EXPECT_THAT(out.out, HasSubstr("X-Forwarded-Proto: https\r\n"));
  EXPECT_THAT(out.out, HasSubstr("X-Forwarded-Host: web.localhost:" + std::to_string(port_) + "\r\n"));
  EXPECT_THAT(out.out, Not(HasSubstr("6.6.6.6")));
  EXPECT_THAT(out.out, Not(HasSubstr("evil.test")));
}

TEST_F(IngressTest, RequestBodiesReachTheCellAndTheLimitHolds) {
  const std::string body(3000, 'b');
  auto ok = get("web", "/upload", {"-H", "Authorization: Bearer " + kToken, "--data-binary", body});
  EXPECT_EQ(status_of(ok), "200");
  EXPECT_THAT(ok.out, HasSubstr(body));
  // Over --ingress-max-body (4096): 413, and the cell never sees it.
  auto big = get("web", "/upload", {"-H", "Authorization: Bearer " + kToken, "--data-binary", std::string(5000, 'c')});
  EXPECT_EQ(status_of(big), "413");
  EXPECT_THAT(big.out, HasSubstr("over the ingress limit of 4096 bytes"));
  EXPECT_THAT(big.out, Not(HasSubstr("ccccc")));
}

TEST_F(IngressTest, ServerSentEventsArriveAsTheCellWritesThem) {
  // The cell sends its first event at once and the second 2 s later: within
  // 1 s the client has the first and not the second.
  auto out = get("web", "/events", {"-N", "-H", "Authorization: Bearer " + kToken, "--max-time", "1"});
  EXPECT_EQ(out.exit_code, 28) << out.err;  // curl's timeout: the stream was still open
  EXPECT_THAT(out.out, HasSubstr("data: first"));
  EXPECT_THAT(out.out, Not(HasSubstr("data: second")));
  auto whole = get("web", "/events", bearer(kToken));
  EXPECT_THAT(whole.out, HasSubstr("data: second"));
}

// A TLS client to the ingress port for what curl cannot do (WebSocket).
class TlsClient {
 public:
  explicit TlsClient(const std::string& sni, const std::string& ca, int port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = connect_from("127.0.0.1", "127.0.0.1", port);
    ssl_ = SSL_new(ctx_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    SSL_set_fd(ssl_, fd_);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ok_ = fd_ >= 0 && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  void send(const std::string& s) { SSL_write(ssl_, s.data(), static_cast<int>(s.size())); }
  // Reads until `want` has arrived (or 5 s of silence, or the peer closes).
  std::string read_until(const std::string& want) {
    while (in_.find(want) == std::string::npos) {
      char buf[4096];
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) break;
      in_.append(buf, static_cast<std::size_t>(n));
    }
    return in_;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
  std::string in_;
};

TEST_F(IngressTest, RelaysAWebSocket) {
  TlsClient c("web.localhost", home_ + "/ca/ca.crt", port_);
  ASSERT_TRUE(c.ok()) << "TLS to ingress failed (certificate for web.localhost from brig's CA?)";
  c.send("GET /ws HTTP/1.1\r\nHost: web.localhost\r\nAuthorization: Bearer " + kToken +
         "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  const std::string head = c.read_until("\r\n\r\n");
  ASSERT_THAT(head, HasSubstr("HTTP/1.1 101"));
  EXPECT_THAT(head, HasSubstr("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  // Frames both ways, as long as the connection lasts: the cell echoes each.
  std::string got = head;
  for (const std::string word : {"one", "two", "three"}) {
    const std::string frame = std::string{static_cast<char>(0x81), static_cast<char>(word.size())} + word;
    c.send(frame);
    got = c.read_until(frame);
    EXPECT_THAT(got, HasSubstr(frame)) << "no echo of " << word;
  }
  EXPECT_EQ(got.substr(head.size()), "\x81\x03one\x81\x03two\x81\x05three");
}

TEST_F(IngressTest, SaysWhatIsWrongWhenTheCellCannotAnswer) {
  auto unknown = get("nobody", "/", {"-k", "-H", "Authorization: Bearer " + kToken});  // no leaf for it: -k
  EXPECT_EQ(status_of(unknown), "404");
  EXPECT_THAT(unknown.out, HasSubstr("no cell named \"nobody\" serves ingress here"));

  auto stopped = get("idle", "/", bearer(kToken));
  EXPECT_EQ(status_of(stopped), "503");
  EXPECT_THAT(stopped.out, HasSubstr("brig cell start idle"));
  EXPECT_EQ(status_of(get("idle", "/")), "401");  // the token first: a stranger learns nothing more

  auto dead = get("web", "/dead/x", bearer(kToken));
  EXPECT_EQ(status_of(dead), "502");
  EXPECT_THAT(dead.out, HasSubstr("is not listening (cell web, route dead)"));
}

TEST_F(IngressTest, PathPrefixesMatchWholeSegments) {
  // /events is the SSE route; /eventsx is not under it, so it goes to "/" (echo).
  auto out = get("web", "/eventsx", bearer(kToken));
  EXPECT_EQ(status_of(out), "200");
  EXPECT_THAT(out.out, HasSubstr("GET /eventsx HTTP/1.1"));
}

TEST_F(IngressTest, OneConnectionReachesOnlyTheCellItNamed) {
  // TLS for web.localhost, then a request naming another cell: refused, even
  // with that cell's token.
  auto out = get("web", "/", {"-H", "Host: other.localhost", "-H", "Authorization: Bearer " + kOtherToken});
  EXPECT_EQ(status_of(out), "421");
  EXPECT_THAT(out.out, HasSubstr("does not match the TLS server name \"web.localhost\""));
  // A proxy-style absolute target cannot name another cell either.
  auto abs = get("web", "/", {"--request-target", "https://other.localhost/", "-H", "Authorization: Bearer " + kOtherToken});
  EXPECT_EQ(status_of(abs), "400");
  // No SNI (an IP literal): a leaf for "localhost", and Host alone routes.
  auto ip = run({"curl", "-sS", "-k", "--max-time", "10", "--noproxy", "*", "-w", "|%{http_code}", "-H", "Host: other.localhost",
                 "-H", "Authorization: Bearer " + kOtherToken, "https://127.0.0.1:" + std::to_string(port_) + "/"});
  EXPECT_EQ(status_of(ip), "200");
}

TEST_F(IngressTest, CertificatesAreMintedForTheExactName) {
  auto out = run({"sh", "-c", "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
                                   " -servername web.localhost -CAfile " + home_ + "/ca/ca.crt 2>/dev/null | openssl x509 -noout -ext subjectAltName"});
  EXPECT_THAT(out.out, HasSubstr("DNS:web.localhost"));
  EXPECT_THAT(out.out, Not(HasSubstr("*")));
  // A name no cell serves gets the domain's leaf: nothing is minted for it.
  auto other = run({"sh", "-c", "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
                                     " -servername made-up-1.localhost 2>/dev/null | openssl x509 -noout -ext subjectAltName"});
  EXPECT_THAT(other.out, HasSubstr("DNS:localhost"));
  EXPECT_THAT(other.out, Not(HasSubstr("made-up-1")));
}

TEST_F(IngressTest, KeepAliveReusesTheConnectionToTheCell) {
  const int before = keep_connections.load();
  const std::string url = "https://web.localhost:" + std::to_string(port_) + "/keep";
  auto out = get("web", "/keep", {"-H", "Authorization: Bearer " + kToken, url, url});
  EXPECT_EQ(out.out, "ok|200ok|200ok|200");
  EXPECT_EQ(keep_connections.load() - before, 1);
}

TEST_F(IngressTest, RoutesChangeLiveAndEveryRequestIsLoggedAndCounted) {
  write_routes(false);
  bool stopped = false;
  for (int i = 0; i < 30 && !stopped; ++i) {
    stopped = status_of(get("web", "/", bearer(kToken))) == "503";
    if (!stopped) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(stopped) << "warden did not reload the route table within 3 s";
  write_routes(true);
  bool back = false;
  for (int i = 0; i < 30 && !back; ++i) {
    back = status_of(get("web", "/logged", bearer(kToken))) == "200";
    if (!back) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(back);

  const std::string metrics = run({"curl", "-sS", "http://" + ops_ + "/metrics"}).out;
  EXPECT_GE(metric(metrics, R"(brig_warden_ingress_requests_total{cell="web",route="echo",code="200"})"), 1.0);
  EXPECT_GE(metric(metrics, R"(brig_warden_ingress_requests_total{cell="web",route="echo",code="503"})"), 1.0);
  EXPECT_GE(metric(metrics, R"(brig_warden_ingress_request_duration_seconds_count{cell="web"})"), 2.0);
  EXPECT_THAT(metrics, Not(HasSubstr(kToken)));

  std::string log;
  for (int i = 0; i < 30 && log.find("/logged") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    std::ifstream f(home_ + "/logs/cells/web.jsonl");
    log.assign(std::istreambuf_iterator<char>(f), {});
  }
  nlohmann::json rec;
  for (const auto& line : str::split(log, '\n')) {
    if (line.find("/logged") != std::string::npos) rec = nlohmann::json::parse(line);
  }
  ASSERT_FALSE(rec.is_null()) << log;
  EXPECT_EQ(rec["kind"], "ingress");
  EXPECT_EQ(rec["route"], "echo");
  EXPECT_EQ(rec["client"], "127.0.0.1");
  EXPECT_EQ(rec["status"], 200);
  EXPECT_EQ(rec["method"], "GET");
  EXPECT_EQ(rec["host"], "web.localhost");
  EXPECT_EQ(rec["decision"], "allow");
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
}

// A real domain with the user's certificate: warden presents it for every
// cell name, and refuses to start with a key that does not match it.
TEST_F(IngressTest, UsesTheUsersCertificateForARealDomain) {
  const std::string dir = home_ + "/user-cert";
  std::filesystem::create_directories(dir);
  auto made = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                   "-subj", "/CN=*.cells.test", "-addext", "subjectAltName=DNS:*.cells.test", "-keyout", dir + "/key.pem",
                   "-out", dir + "/cert.pem"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto other = run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir + "/other.pem"});
  ASSERT_EQ(other.exit_code, 0) << other.err;

  Child w({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--ingress-listen",
           "127.0.0.1:0", "--ingress-domain", "cells.test", "--ingress-cert", dir + "/cert.pem", "--ingress-key",
           dir + "/key.pem", "--threads", "1"},
          {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
  auto line = w.read_line(10s);
  ASSERT_TRUE(line.has_value()) << "warden printed no addresses";
  const std::string ingress = nlohmann::json::parse(*line)["ingress"];
  const std::string port = ingress.substr(ingress.rfind(':') + 1);
  auto out = run({"curl", "-sS", "--max-time", "10", "--noproxy", "*", "--cacert", dir + "/cert.pem", "--resolve",
                  "web.cells.test:" + port + ":127.0.0.1", "-w", "|%{http_code}", "-H", "Authorization: Bearer " + kToken,
                  "https://web.cells.test:" + port + "/mine"});
  EXPECT_EQ(status_of(out), "200") << out.err;
  EXPECT_THAT(out.out, HasSubstr("GET /mine HTTP/1.1"));
  // localhost names are not this domain's cells.
  auto local = run({"curl", "-sS", "-k", "--max-time", "10", "--noproxy", "*", "--resolve", "web.localhost:" + port + ":127.0.0.1",
                    "-w", "|%{http_code}", "-H", "Authorization: Bearer " + kToken, "https://web.localhost:" + port + "/"});
  EXPECT_EQ(status_of(local), "404");

  auto bad = run({"env", "BRIG_HOME=" + home_, BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                  "--ingress-listen", "127.0.0.1:0", "--ingress-cert", dir + "/cert.pem", "--ingress-key", dir + "/other.pem"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("cannot use the ingress key " + dir + "/other.pem"));
  auto half = run({"env", "BRIG_HOME=" + home_, BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                   "--ingress-listen", "127.0.0.1:0", "--ingress-cert", dir + "/cert.pem"});
  EXPECT_NE(half.exit_code, 0);
  EXPECT_THAT(half.err, HasSubstr("ingress needs both a certificate and its key"));
}

}  // namespace
}  // namespace brig::testing
