// Warden with real traffic: `brig warden serve` on 127.0.0.1 port 0, nginx in
// a network namespace at 198.18.N.2 (reached only through --resolve style
// overrides), curl as the cell (its source address 127.0.0.2 is mapped to
// cell "c1"), and small in-test servers on loopback for SSE and WebSocket.
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kCell = "127.0.0.2";     // mapped to c1
constexpr const char* kLimited = "127.0.0.4";  // mapped to c2 (rate limited)
constexpr const char* kStranger = "127.0.0.3"; // in no subnet

// Written whole, then renamed into place, as brig writes policy files: warden
// polls them and must not catch one half-written.
void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

// A loopback server that runs `serve(fd)` for each accepted connection.
class LoopServer {
 public:
  explicit LoopServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        // The thread owns a copy of the handler: it may outlive this server.
        std::thread([serve = serve_, c] { serve(c); ::close(c); }).detach();
      }
    });
  }
  ~LoopServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1, port_ = 0;
  std::thread thread_;
};

std::string read_head(int fd) {
  std::string in;
  char c;
  while (in.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) in += c;
  return in;
}

void send_all(int fd, const std::string& s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

// SSE: headers and a first event at once, a second event 2 s later.
void serve_sse(int fd) {
  read_head(fd);
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string e1 = "data: first\n\n", e2 = "data: second\n\n";
  char hex[16];
  std::snprintf(hex, sizeof hex, "%zx\r\n", e1.size());
  send_all(fd, hex + e1 + "\r\n");
  std::this_thread::sleep_for(2s);
  std::snprintf(hex, sizeof hex, "%zx\r\n", e2.size());
  send_all(fd, hex + e2 + "\r\n0\r\n\r\n");
}

std::string ws_accept(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[20];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha1(), nullptr);
  unsigned char b64[64];
  EVP_EncodeBlock(b64, md, 20);
  return reinterpret_cast<char*>(b64);
}

// Reads a WebSocket upgrade request and answers 101; false if it was none.
bool ws_handshake(int fd) {
  std::string head = read_head(fd);
  auto k = head.find("Sec-WebSocket-Key: ");
  if (k == std::string::npos) return false;
  std::string key = head.substr(k + 19, head.find("\r\n", k) - k - 19);
  send_all(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                   ws_accept(key) + "\r\n\r\n");
  return true;
}

// WebSocket: answers the upgrade, then echoes one (masked) text frame unmasked.
void serve_ws(int fd) {
  if (!ws_handshake(fd)) return;
  unsigned char h[2];
  if (::recv(fd, h, 2, MSG_WAITALL) != 2) return;
  const std::size_t len = h[1] & 0x7f;
  unsigned char mask[4];
  ::recv(fd, mask, 4, MSG_WAITALL);
  std::string payload(len, '\0');
  ::recv(fd, payload.data(), len, MSG_WAITALL);
  for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
  std::string frame = {static_cast<char>(0x81), static_cast<char>(len)};
  send_all(fd, frame + payload);
  std::this_thread::sleep_for(200ms);
}

// WebSocket upgrade, then one-way traffic: `frames` binary frames of 100
// bytes, `gap` apart, from the server only; then the server closes.
void ws_stream(int fd, int frames, std::chrono::milliseconds gap) {
  if (!ws_handshake(fd)) return;
  for (int i = 0; i < frames; ++i) {
    std::this_thread::sleep_for(gap);
    send_all(fd, std::string{static_cast<char>(0x82), 100} + std::string(100, static_cast<char>('a' + i)));
  }
}
void serve_ws_trickle(int fd) { ws_stream(fd, 8, 300ms); }   // 2.4 s, never 1 s without a byte
void serve_ws_silent(int fd) { ws_stream(fd, 1, 3000ms); }   // nothing for 3 s

// Floods whatever connects with 50 MiB, whatever it was sent (not TLS).
void serve_flood(int fd) {
  char buf[4096];
  ::recv(fd, buf, sizeof buf, 0);
  const std::string chunk(1 << 16, 'x');
  for (int i = 0; i < 800; ++i)
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
}

// A keep-alive upstream: answers "ok" to every request on a connection.
std::atomic<int> keep_connections{0};
void serve_keep_alive(int fd) {
  ++keep_connections;
  while (!read_head(fd).empty()) send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

// An upstream that closes each connection after one answer without saying
// so (no Connection: close): warden pools the connection, then finds it dead.
std::atomic<int> closer_connections{0};
void serve_then_close(int fd) {
  ++closer_connections;
  std::string head = read_head(fd);
  if (auto cl = head.find("Content-Length: "); cl != std::string::npos) {
    std::string body(std::stoul(head.substr(cl + 16)), '\0');
    ::recv(fd, body.data(), body.size(), MSG_WAITALL);
  }
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

// Interim answers before the final one: 100 Continue, then 103 Early Hints.
void serve_early_hints(int fd) {
  read_head(fd);
  send_all(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
               "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal");
}

// An upstream that records every byte it is sent and answers the first head
// of each connection with 200 "ok" (Connection: close). Bytes are recorded
// when the connection has been quiet for 300 ms or closed.
std::mutex recorded_mu;
std::string recorded;
std::atomic<int> recorder_connections{0};
void serve_record(int fd) {
  ++recorder_connections;
  std::string got;
  bool answered = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 300) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    if (!answered && got.find("\r\n\r\n") != std::string::npos) {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      answered = true;
    }
  }
  std::lock_guard lock(recorded_mu);
  recorded += got;
}
std::string take_recorded() {
  std::this_thread::sleep_for(500ms);  // the recorder's quiet period
  std::lock_guard lock(recorded_mu);
  return std::exchange(recorded, "");
}

class WardenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = network_skip_reason();
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/brig-warden-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    upstream_ = new Upstream(home_, {"example.test", "api.test", "secure.test", "pass.test", "a.b.wild.test", "other.test"});
    sse_ = new LoopServer(serve_sse);
    ws_ = new LoopServer(serve_ws);
    keep_ = new LoopServer(serve_keep_alive);
    closer_ = new LoopServer(serve_then_close);
    early_ = new LoopServer(serve_early_hints);
    flood_ = new LoopServer(serve_flood);
    recorder_ = new LoopServer(serve_record);
    write_file(home_ + "/state/system/subnet-map.json",
               R"({"127.0.0.2/32": "c1", "127.0.0.4/32": "c2"})");
    write_file(home_ + "/policy/network-policy.json", R"({"allow": ["example.test"], "deny": ["evil.test"]})");
    write_file(home_ + "/policy/cells/c1.json", R"({
      "allow": ["secure.test", "pass.test", "*.wild.test", "localhost", "evil.test", "other.test",
                {"domain": "api.test", "paths": ["/v1/*"], "methods": ["GET"]},
                "down.test:81", "sse.test:)" + std::to_string(sse_->port()) + R"(", "ws.test:)" + std::to_string(ws_->port()) + R"(",
                "keep.test:)" + std::to_string(keep_->port()) + R"(", "closer.test:)" + std::to_string(closer_->port()) + R"(",
                "early.test:)" + std::to_string(early_->port()) + R"(", "flood.test:)" + std::to_string(flood_->port()) + R"(",
                {"domain": "rec.test:)" + std::to_string(recorder_->port()) + R"(", "paths": ["/ok/*"], "methods": ["POST", "GET"]}],
      "tls_passthrough": ["pass.test", "flood.test"]
    })");
    write_file(home_ + "/policy/cells/c2.json", R"({"rate_limits": {"default": {"rate": 0.5, "burst": 2}}})");
    const std::string up = upstream_->address();
    std::string yaml = "resolve_overrides:\n";
    for (const char* n : {"example.test", "api.test", "secure.test", "pass.test", "a.b.wild.test", "evil.test", "other.test"}) {
      yaml += std::string("  - ") + n + ":80:" + up + "\n  - " + n + ":443:" + up + "\n";
    }
    yaml += "  - down.test:81:" + up + "\n";  // nothing listens there
    yaml += "  - sse.test:" + std::to_string(sse_->port()) + ":127.0.0.1\n";
    yaml += "  - ws.test:" + std::to_string(ws_->port()) + ":127.0.0.1\n";
    yaml += "  - keep.test:" + std::to_string(keep_->port()) + ":127.0.0.1\n";
    yaml += "  - closer.test:" + std::to_string(closer_->port()) + ":127.0.0.1\n";
    yaml += "  - early.test:" + std::to_string(early_->port()) + ":127.0.0.1\n";
    yaml += "  - flood.test:" + std::to_string(flood_->port()) + ":127.0.0.1\n";
    yaml += "  - rec.test:" + std::to_string(recorder_->port()) + ":127.0.0.1\n";
    yaml += "limits:\n  header_timeout_ms: 1000\n  header_limit: 8192\n";
    write_file(home_ + "/warden.yaml", yaml);
    warden_ = start_warden();
  }

  static Child* start_warden() {
    auto* w = new Child({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                         "--upstream-ca", upstream_->ca_file(), "--threads", "2"},
                        {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
    auto line = w->read_line(10s);
    EXPECT_TRUE(line.has_value()) << "warden printed no addresses";
    if (line) {
      auto j = nlohmann::json::parse(*line);
      proxy_ = j["proxy"];
      ops_ = j["ops"];
    }
    return w;
  }

  static void TearDownTestSuite() {
    delete warden_;
    delete sse_;
    delete ws_;
    delete keep_;
    delete closer_;
    delete early_;
    delete flood_;
    delete recorder_;
    delete upstream_;
    if (!home_.empty()) std::filesystem::remove_all(home_);
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // curl through warden as `src`; returns {exit code, body + "|" + status}.
  static proc::Output curl(const std::string& src, std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--noproxy", "", "-x", "http://" + proxy_,
                                     "--interface", src, "-w", "|%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  static std::string ops(const std::string& path) { return run({"curl", "-sS", "http://" + ops_ + path}).out; }
  static std::string proxy_host() { return proxy_.substr(0, proxy_.rfind(':')); }
  static int proxy_port() { return std::stoi(proxy_.substr(proxy_.rfind(':') + 1)); }
  static std::string ca() { return home_ + "/ca/ca.crt"; }
  // Raw requests to the recording upstream rec.test (only POST and GET /ok/* allowed).
  static std::string rec_host() { return "rec.test:" + std::to_string(recorder_->port()); }
  // A request line and Host; `rest` is the remaining fields, the blank line and any body.
  static std::string post(const std::string& path, const std::string& rest, const std::string& version = "1.1") {
    return "POST http://" + rec_host() + path + " HTTP/" + version + "\r\nHost: " + rec_host() + "\r\n" + rest;
  }
  static std::string via_warden(const std::string& bytes) { return raw_exchange(proxy_host(), proxy_port(), kCell, bytes, 3s); }

  static inline std::string skip_, home_, proxy_, ops_;
  static inline Upstream* upstream_ = nullptr;
  static inline LoopServer *sse_ = nullptr, *ws_ = nullptr, *keep_ = nullptr, *closer_ = nullptr, *early_ = nullptr,
                           *flood_ = nullptr, *recorder_ = nullptr;
  static inline Child* warden_ = nullptr;
};

TEST_F(WardenTest, PlainHttpAllowedByGlobalPolicy) {
  auto r = curl(kCell, {"http://example.test/hello?x=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "upstream example.test GET /hello?x=1\n|200");
}

TEST_F(WardenTest, DefaultDenyNamesCellHostAndFix) {
  auto r = curl(kCell, {"-i", "http://nowhere.test/"});
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 403 Forbidden"));
  EXPECT_THAT(r.out, HasSubstr("X-Brig-Decision: deny"));
  EXPECT_THAT(r.out, HasSubstr("cell:   c1\n"));
  EXPECT_THAT(r.out, HasSubstr("host:   nowhere.test\n"));
  EXPECT_THAT(r.out, HasSubstr("reason: default deny: no allow rule matches the host\n"));
  EXPECT_THAT(r.out, HasSubstr("fix:    brig policy set c1 --allow nowhere.test\n"));
}

TEST_F(WardenTest, DenyWinsOverAllow) {
  auto r = curl(kCell, {"http://evil.test/"});
  EXPECT_THAT(r.out, HasSubstr("reason: denied by a deny rule"));
  EXPECT_THAT(r.out, HasSubstr("|403"));
}

TEST_F(WardenTest, WildcardPortPathMethod) {
  EXPECT_THAT(curl(kCell, {"http://a.b.wild.test/"}).out, HasSubstr("|200"));
  EXPECT_THAT(curl(kCell, {"http://api.test/v1/items"}).out, HasSubstr("upstream api.test GET /v1/items"));
  EXPECT_THAT(curl(kCell, {"http://api.test/v2/items"}).out, HasSubstr("not for this path"));
  EXPECT_THAT(curl(kCell, {"http://api.test/v1/../admin"}).out, HasSubstr("|403"));
  EXPECT_THAT(curl(kCell, {"--path-as-is", "http://api.test/v1/%2e%2e/admin"}).out, HasSubstr("|403"));
  EXPECT_THAT(curl(kCell, {"-X", "POST", "http://api.test/v1/items"}).out, HasSubstr("not for this method"));
  const auto port = curl(kCell, {"http://example.test:8080/"}).out;
  EXPECT_THAT(port, HasSubstr("not on this port"));
  // The fix line names the port, so the printed command works (policy::fix_for).
  EXPECT_THAT(port, HasSubstr("fix:    brig policy set c1 --allow example.test:8080\n"));
  // A deny rule is not lifted by an allow: no fix line.
  EXPECT_THAT(curl(kCell, {"http://evil.test/"}).out, ::testing::Not(HasSubstr("fix:")));
}

TEST_F(WardenTest, UnknownSourceIsDenied) {
  auto r = curl(kStranger, {"http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("unknown source address"));
  EXPECT_THAT(r.out, HasSubstr("|403"));
}

TEST_F(WardenTest, MitmWithBrigCa) {
  auto r = curl(kCell, {"--cacert", ca(), "https://secure.test/a", "https://secure.test/b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "upstream secure.test GET /a\n|200upstream secure.test GET /b\n|200");
  auto inner_deny = curl(kCell, {"--cacert", ca(), "https://api.test/v2/x"});
  EXPECT_EQ(inner_deny.exit_code, 0);
  EXPECT_THAT(inner_deny.out, HasSubstr("not for this path"));
}

TEST_F(WardenTest, MitmFailsWithoutTheCa) {
  auto r = curl(kCell, {"https://secure.test/"});
  EXPECT_EQ(r.exit_code, 60);  // peer certificate cannot be authenticated
}

TEST_F(WardenTest, PassthroughShowsTheUpstreamCertificate) {
  auto r = curl(kCell, {"-v", "--cacert", upstream_->ca_file(), "https://pass.test/p"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("issuer: CN=brig test upstream CA"));
  EXPECT_THAT(r.out, HasSubstr("upstream pass.test GET /p"));
}

TEST_F(WardenTest, SniMustMatchConnectHost) {
  // CONNECT other.test:443, but the TLS ClientHello names secure.test.
  auto r = curl(kCell, {"--cacert", ca(), "--connect-to", "secure.test:443:other.test:443", "https://secure.test/"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(run({"grep", "-c", "does not match the CONNECT host", home_ + "/logs/cells/c1.jsonl"}).out,
              ::testing::Not(::testing::StartsWith("0")));
}

TEST_F(WardenTest, HostMustMatchInsideMitm) {
  auto r = curl(kCell, {"--cacert", ca(), "-H", "Host: other.test", "https://secure.test/"});
  EXPECT_THAT(r.out, HasSubstr("|421"));
}

TEST_F(WardenTest, AbsoluteUriAndHostMustAgree) {
  auto r = curl(kCell, {"-H", "Host: other.test", "http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("|400"));
}

TEST_F(WardenTest, BlockedRangesByLiteralAndByResolution) {
  EXPECT_THAT(curl(kCell, {"http://127.0.0.1/"}).out, HasSubstr("IP addresses never match domain rules"));
  EXPECT_THAT(curl(kCell, {"http://2130706433/"}).out, HasSubstr("|403"));
  // "localhost" is allowed by policy but resolves to loopback, and has no override.
  auto r = curl(kCell, {"-i", "http://localhost/"});
  EXPECT_THAT(r.out, HasSubstr("403"));
  EXPECT_THAT(r.out, HasSubstr("blocked address range"));
}

TEST_F(WardenTest, UpstreamFailureIs502WithTheReason) {
  auto r = curl(kCell, {"http://down.test:81/"});
  EXPECT_THAT(r.out, HasSubstr("connecting to down.test:81 failed"));
  EXPECT_THAT(r.out, HasSubstr("|502"));
}

TEST_F(WardenTest, RateLimitAnswers429WithRetryAfter) {
  std::vector<std::string> statuses;
  std::string last;
  for (int i = 0; i < 4; ++i) {
    auto r = curl(kLimited, {"-i", "http://example.test/"});
    statuses.push_back(r.out.substr(r.out.rfind('|') + 1));
    last = r.out;
  }
  EXPECT_EQ(statuses[0], "200");
  EXPECT_EQ(statuses[1], "200");
  EXPECT_EQ(statuses[3], "429");
  EXPECT_THAT(last, HasSubstr("Retry-After: "));
}

TEST_F(WardenTest, SseFirstEventArrivesBeforeTheStreamEnds) {
  const std::string req = "GET http://sse.test:" + std::to_string(sse_->port()) + "/ HTTP/1.1\r\nHost: sse.test:" +
                          std::to_string(sse_->port()) + "\r\n\r\n";
  const auto start = std::chrono::steady_clock::now();
  // Read only until the first event, at most 1.5 s; the stream itself lasts 2 s.
  std::string got = raw_exchange(proxy_host(), proxy_port(), kCell, req, 1500ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(got, HasSubstr("data: first"));
  EXPECT_THAT(got, ::testing::Not(HasSubstr("data: second")));
  EXPECT_LT(elapsed, 1900ms);
}

TEST_F(WardenTest, WebSocketEcho) {
  const std::string host = "ws.test:" + std::to_string(ws_->port());
  std::string req = "GET http://" + host + "/ HTTP/1.1\r\nHost: " + host +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n";
  const std::string payload = "hello";
  const unsigned char mask[4] = {1, 2, 3, 4};
  std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | payload.size())};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  std::string got = raw_exchange(proxy_host(), proxy_port(), kCell, req + frame, 2s);
  EXPECT_THAT(got, HasSubstr("101 Switching Protocols"));
  EXPECT_THAT(got, HasSubstr(std::string("\x81\x05hello", 7)));
}

TEST_F(WardenTest, UpstreamConnectionsAreReused) {
  const std::string url = "http://keep.test:" + std::to_string(keep_->port()) + "/";
  const int before = keep_connections.load();
  auto r = curl(kCell, {url, url, url, url, url});
  EXPECT_EQ(r.out, "ok|200ok|200ok|200ok|200ok|200");
  EXPECT_EQ(keep_connections.load() - before, 1);  // one client connection: one upstream connection
}

TEST_F(WardenTest, DeadPooledConnectionIsReplacedUnseen) {
  const std::string url = "http://closer.test:" + std::to_string(closer_->port()) + "/";
  const int before = closer_connections.load();
  // GET: resent on a new connection once the pooled one fails.
  auto get = curl(kCell, {"--rate", "5/s", url, url, url});
  EXPECT_EQ(get.out, "ok|200ok|200ok|200") << get.err;
  // POST is not idempotent: the pooled connection is probed before use instead.
  auto post = curl(kCell, {"--rate", "5/s", "-d", "x=1", url, "-d", "x=2", url});
  EXPECT_EQ(post.out, "ok|200ok|200") << post.err;
  EXPECT_EQ(closer_connections.load() - before, 5);
}

TEST_F(WardenTest, ExpectContinueIsAnsweredByWarden) {
  const std::string url = "http://closer.test:" + std::to_string(closer_->port()) + "/";
  // Without warden's 100 Continue, curl would wait 30 s and hit --max-time 10.
  auto r = curl(kCell, {"--expect100-timeout", "30", "-H", "Expect: 100-continue", "-d", std::string(2000, 'a'), url});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok|200");
  auto odd = curl(kCell, {"-H", "Expect: teapot", url});
  EXPECT_THAT(odd.out, HasSubstr("unsupported Expect"));
  EXPECT_THAT(odd.out, HasSubstr("|417"));
}

TEST_F(WardenTest, InterimResponsesAreDropped) {
  auto r = curl(kCell, {"-i", "http://early.test:" + std::to_string(early_->port()) + "/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("103")));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(r.out, ::testing::EndsWith("final|200"));
}

// Tunnels (WebSocket here, CONNECT passthrough alike) end when no byte has
// moved either way for idle_timeout_ms, not when one direction is quiet.
TEST_F(WardenTest, TunnelIdleMeansNoBytesEitherWay) {
  LoopServer trickle(serve_ws_trickle), silent(serve_ws_silent);
  // A warden of its own (its own BRIG_HOME) with a 1 s idle timeout.
  const std::string home = home_ + "/idle-home";
  const std::string t = "ws.test:" + std::to_string(trickle.port()), q = "ws.test:" + std::to_string(silent.port());
  write_file(home + "/state/system/subnet-map.json", R"({"127.0.0.5/32": "c3"})");
  write_file(home + "/policy/cells/c3.json", R"({"allow": [")" + t + R"(", ")" + q + R"("]})");
  write_file(home + "/warden.yaml", "resolve_overrides:\n  - " + t + ":127.0.0.1\n  - " + q +
                                        ":127.0.0.1\nlimits:\n  idle_timeout_ms: 1000\n");
  Child w({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"},
          {"BRIG_HOME=" + home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
  auto line = w.read_line(10s);
  ASSERT_TRUE(line.has_value());
  const std::string proxy = nlohmann::json::parse(*line)["proxy"];
  const std::string phost = proxy.substr(0, proxy.rfind(':'));
  const int pport = std::stoi(proxy.substr(proxy.rfind(':') + 1));
  auto upgrade = [](int port) {
    const std::string host = "ws.test:" + std::to_string(port);
    return "GET http://" + host + "/ HTTP/1.1\r\nHost: " + host +
           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n";
  };
  // One-way stream for 2.4 s: every frame arrives although the client never sends.
  std::string got = raw_exchange(phost, pport, "127.0.0.5", upgrade(trickle.port()), 6s);
  EXPECT_THAT(got, HasSubstr("101 Switching Protocols"));
  EXPECT_THAT(got, HasSubstr(std::string(100, 'h')));  // the 8th frame
  // Silent for 3 s: warden closes the tunnel after about 1 s.
  const auto start = std::chrono::steady_clock::now();
  std::string quiet = raw_exchange(phost, pport, "127.0.0.5", upgrade(silent.port()), 6s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(quiet, HasSubstr("101 Switching Protocols"));
  EXPECT_THAT(quiet, ::testing::Not(HasSubstr(std::string(100, 'a'))));
  EXPECT_LT(elapsed, 2500ms);
}

// The client drops a passthrough tunnel while warden is splicing bulk data
// into it: the write fails (EPIPE) and warden carries on (no SIGPIPE death).
TEST_F(WardenTest, PassthroughClientResetDoesNotKillWarden) {
  const std::string url = "https://flood.test:" + std::to_string(flood_->port()) + "/";
  for (int i = 0; i < 3; ++i) {
    auto r = curl(kCell, {"--cacert", ca(), url});
    EXPECT_NE(r.exit_code, 0);  // 'x' bytes are not TLS: curl gives up and closes
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(warden_->wait(100ms).has_value()) << "warden died";
  EXPECT_THAT(curl(kCell, {"http://example.test/"}).out, HasSubstr("|200"));
}

TEST_F(WardenTest, H2cUpgradeIsNotPassedOn) {
  auto r = curl(kCell, {"-i", "-H", "Upgrade: h2c", "-H", "Connection: Upgrade, HTTP2-Settings", "http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("|200"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("X-Upstream-Saw-Upgrade: h2c")));
}

TEST_F(WardenTest, OversizedHeaderGets431) {
  auto r = curl(kCell, {"-H", "X-Big: " + std::string(10000, 'a'), "http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("|431"));
}

TEST_F(WardenTest, SlowlorisIsCutOff) {
  const auto start = std::chrono::steady_clock::now();
  std::string got = raw_exchange(proxy_host(), proxy_port(), kCell, "GET http://example.test/ HTTP/1.1\r\nHost: ex", 5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 3s);  // header timeout is 1 s here
  EXPECT_EQ(got.find("200 OK"), std::string::npos);
}

TEST_F(WardenTest, SmugglingHeadsAreRejected) {
  const std::string cl_te = "POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  EXPECT_THAT(raw_exchange(proxy_host(), proxy_port(), kCell, cl_te), HasSubstr("400 Bad Request"));
  const std::string two_cl = "POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n"
                             "Content-Length: 5\r\n\r\nabcde";
  EXPECT_THAT(raw_exchange(proxy_host(), proxy_port(), kCell, two_cl), HasSubstr("400 Bad Request"));
  const std::string te_gzip = "POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: gzip\r\n\r\n";
  EXPECT_THAT(raw_exchange(proxy_host(), proxy_port(), kCell, te_gzip), HasSubstr("400 Bad Request"));
}

// Framing: warden forwards a request only in one standard form (RFC 9112),
// so the upstream reads exactly the request warden checked. Each case is
// raw bytes; the recording upstream shows what crossed.

// The policy bypass this closes: only POST /ok/* is allowed, and a DELETE
// /admin hidden in the "chunked" body of an allowed POST reached the upstream
// (warden de-chunked the body but kept the chunked header).
TEST_F(WardenTest, FramingTwoTransferEncodingLinesAreRefusedBeforeAnyByteGoesUpstream) {
  take_recorded();
  const int before = recorder_connections.load();
  const std::string smuggled = "DELETE /admin HTTP/1.1\r\nHost: " + rec_host() + "\r\n\r\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", smuggled.size());
  const std::string attack = post("/ok/x", "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                               std::string(size) + "\r\n" + smuggled + "\r\n0\r\n\r\n");
  const std::string got = via_warden(attack);
  EXPECT_THAT(got, ::testing::StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(got, HasSubstr("more than one Transfer-Encoding header"));
  EXPECT_EQ(take_recorded(), "");
  EXPECT_EQ(recorder_connections.load(), before);
}

TEST_F(WardenTest, FramingAmbiguousFramingsAreRefused) {
  take_recorded();
  const int before = recorder_connections.load();
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Beast would frame this as no body; an upstream as chunked.
      {post("/ok/x", "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"), "must be exactly chunked"},
      {post("/ok/x", "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), "must be exactly chunked"},
      {post("/ok/x", "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "1.0"), "HTTP/1.0"},
      {post("/ok/x", "Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"), "both Content-Length and Transfer-Encoding"},
      {post("/ok/x", "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), "400 Bad Request"},
      {post("/ok/x", "Host: evil.test\r\nContent-Length: 0\r\n\r\n"), "more than one Host header"},
  };
  for (const auto& [bytes, why] : cases) {
    const std::string got = via_warden(bytes);
    EXPECT_THAT(got.substr(0, got.find("\r\n")), ::testing::EndsWith(" 400 Bad Request")) << bytes;
    EXPECT_THAT(got, HasSubstr(why)) << bytes;
  }
  EXPECT_EQ(take_recorded(), "");
  EXPECT_EQ(recorder_connections.load(), before);
}

TEST_F(WardenTest, FramingAcceptedRequestsGoOutInOneStandardForm) {
  take_recorded();
  // Equal Content-Lengths collapse to one line.
  EXPECT_THAT(via_warden(post("/ok/a", "Content-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello")), HasSubstr("\r\n\r\nok"));
  std::string up = take_recorded();
  EXPECT_THAT(up, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_THAT(up, ::testing::Not(HasSubstr("5, 5")));
  EXPECT_THAT(up, ::testing::EndsWith("\r\n\r\nhello"));
  // One chunked line, re-chunked by warden exactly once.
  EXPECT_THAT(via_warden(post("/ok/b", "Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")), HasSubstr("\r\n\r\nok"));
  up = take_recorded();
  EXPECT_THAT(up, HasSubstr("\r\nTransfer-Encoding: chunked\r\n"));
  EXPECT_EQ(up.find("Transfer-Encoding"), up.rfind("Transfer-Encoding"));
  EXPECT_THAT(up, HasSubstr("hello"));
  EXPECT_THAT(up, ::testing::EndsWith("0\r\n\r\n"));
  // No Host: warden sets it from the absolute URI.
  EXPECT_THAT(via_warden("GET http://" + rec_host() + "/ok/c HTTP/1.0\r\n\r\n"), HasSubstr("\r\n\r\nok"));
  up = take_recorded();
  EXPECT_THAT(up, ::testing::StartsWith("GET /ok/c HTTP/1.0\r\n"));
  EXPECT_THAT(up, HasSubstr("\r\nHost: " + rec_host() + "\r\n"));
}

// The same checks inside a MITM'd tunnel: raw bytes over TLS to warden.
std::string tls_exchange(const std::string& proxy_host, int proxy_port, const std::string& src, const std::string& host,
                         const std::string& ca_file, const std::string& bytes) {
  const int fd = connect_from(src, proxy_host, proxy_port);
  if (fd < 0) return "connect failed";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  send_all(fd, "CONNECT " + host + ":443 HTTP/1.1\r\nHost: " + host + ":443\r\n\r\n");
  const std::string head = read_head(fd);
  std::string out;
  if (head.find(" 200 ") == std::string::npos) {
    out = "CONNECT refused: " + head;
  } else {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
    if (SSL_connect(ssl) != 1) {
      out = "TLS handshake failed";
    } else {
      SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
      char buf[4096];
      for (int n; (n = SSL_read(ssl, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return out;
}

TEST_F(WardenTest, FramingInsideMitmToo) {
  auto mitm = [&](const std::string& fields) {
    return tls_exchange(proxy_host(), proxy_port(), kCell, "secure.test", ca(),
                        "POST /x HTTP/1.1\r\nHost: secure.test\r\n" + fields);
  };
  EXPECT_THAT(mitm("Content-Length: 2\r\nConnection: close\r\n\r\nhi"), HasSubstr("upstream secure.test POST /x"));
  const std::string two_te = mitm("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_THAT(two_te, ::testing::StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(two_te, HasSubstr("more than one Transfer-Encoding header"));
  const std::string two_hosts = mitm("Host: secure.test\r\nContent-Length: 0\r\n\r\n");
  EXPECT_THAT(two_hosts, ::testing::StartsWith("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(two_hosts, HasSubstr("more than one Host header"));
}

// An early answer (431 here, sent while the client is still sending its
// head) must reach the client: warden shuts its side and drains the rest
// instead of closing into unread data, which resets the connection (curl
// then reports "Send failure: Connection reset by peer", exit 55, and never
// shows the answer).
TEST_F(WardenTest, EarlyAnswerSurvivesAClientStillSending) {
  const std::string header = home_ + "/big-header";
  std::ofstream(header) << "X-Big: " << std::string(512 * 1024, 'a') << "\n";
  int answered = 0;
  constexpr int kTries = 12;
  std::string last;
  for (int i = 0; i < kTries; ++i) {
    auto r = curl(kCell, {"-H", "@" + header, "http://example.test/"});
    if (r.exit_code == 0 && r.out == "brig warden: request head too large\n|431") ++answered;
    else last = r.err + r.out;
  }
  EXPECT_EQ(answered, kTries) << last;
}

TEST_F(WardenTest, LogRecordHasEveryField) {
  curl(kCell, {"http://example.test/logged"});
  std::this_thread::sleep_for(300ms);
  std::ifstream in(home_ + "/logs/cells/c1.jsonl");
  std::string line, last;
  while (std::getline(in, line))
    if (line.find("/logged") != std::string::npos) last = line;
  ASSERT_FALSE(last.empty());
  auto j = nlohmann::json::parse(last);
  for (const char* k : {"ts", "cell", "kind", "tls", "method", "host", "port", "path", "status", "decision", "rule",
                        "reason", "bytes_in", "bytes_out", "duration_ms"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["cell"], "c1");
  EXPECT_EQ(j["decision"], "allow");
  EXPECT_EQ(j["status"], 200);
  EXPECT_GT(j["bytes_in"].get<int>(), 0);
}

TEST_F(WardenTest, MetricsMove) {
  auto before = ops("/metrics");
  curl(kCell, {"http://nowhere.test/"});
  auto after = ops("/metrics");
  auto count = [](const std::string& text, const std::string& key) {
    auto pos = text.find(key + " ");
    return pos == std::string::npos ? 0.0 : std::stod(text.substr(pos + key.size() + 1));
  };
  const std::string key = R"(brig_warden_blocked_total{cell="c1",reason="policy"})";
  EXPECT_EQ(count(after, key), count(before, key) + 1);
  EXPECT_THAT(after, HasSubstr("brig_warden_cert_cache_misses_total"));
  EXPECT_THAT(ops("/healthz"), HasSubstr("\"status\":\"ok\""));
}

TEST_F(WardenTest, PolicyHotReloadAndInvalidReloadKeepsOld) {
  EXPECT_THAT(curl(kCell, {"http://other.test/"}).out, HasSubstr("|200"));
  const std::string path = home_ + "/policy/cells/c1.json";
  std::ifstream in(path);
  const std::string original((std::istreambuf_iterator<char>(in)), {});
  // A valid change that drops other.test: applies within a second.
  std::string changed = original;
  const auto at = changed.find("\"other.test\",");
  ASSERT_NE(at, std::string::npos);
  changed.erase(at, 13);
  write_file(path, changed);
  std::this_thread::sleep_for(1200ms);
  EXPECT_THAT(curl(kCell, {"http://other.test/"}).out, HasSubstr("|403"));
  // An invalid file keeps the previous policy.
  write_file(path, "{\"allow\": [\"bad host\"]}");
  std::this_thread::sleep_for(1200ms);
  EXPECT_THAT(curl(kCell, {"http://a.b.wild.test/"}).out, HasSubstr("|200"));
  write_file(path, original);
  std::this_thread::sleep_for(1200ms);
  EXPECT_THAT(curl(kCell, {"http://other.test/"}).out, HasSubstr("|200"));
  EXPECT_THAT(ops("/metrics"), HasSubstr("brig_warden_policy_reloads_total{result=\"error\"} "));
}

TEST_F(WardenTest, CliStatusAndStatsTalkToTheRunningWarden) {
  curl(kCell, {"http://example.test/for-stats"});
  const std::vector<std::string> env = {"BRIG_HOME=" + home_};
  auto status = run({"env", "BRIG_HOME=" + home_, BRIG_BINARY, "warden", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("warden running (pid " + std::to_string(warden_->pid()) + ")"));
  auto stats = run({"env", "BRIG_HOME=" + home_, BRIG_BINARY, "--format", "json", "warden", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  auto j = nlohmann::json::parse(stats.out);
  EXPECT_GT(j["c1"]["requests"].get<double>(), 0);
  EXPECT_GT(j["c1"]["bytes_in"].get<double>(), 0);
  auto net = run({"env", "BRIG_HOME=" + home_, BRIG_BINARY, "cell", "network", "c1"});
  EXPECT_THAT(net.out, HasSubstr("OUT: GET example.test:80/for-stats 200"));
}

// Runs last: gtest runs tests in declaration order.
TEST_F(WardenTest, ZSigtermDrainsAndExits) {
  // A request in flight on the SSE stream (2 s) finishes; warden then exits 0.
  std::string got;
  std::thread client([&] {
    const std::string req = "GET http://sse.test:" + std::to_string(sse_->port()) + "/ HTTP/1.1\r\nHost: sse.test:" + std::to_string(sse_->port()) + "\r\n\r\n";
    got = raw_exchange(proxy_host(), proxy_port(), kCell, req, 5s);
  });
  std::this_thread::sleep_for(500ms);
  warden_->signal(SIGTERM);
  client.join();
  EXPECT_THAT(got, HasSubstr("data: second"));
  EXPECT_EQ(warden_->wait(10s), std::optional<int>(0));
  // New connections are refused once it is gone.
  EXPECT_EQ(raw_exchange(proxy_host(), proxy_port(), kCell, "GET / HTTP/1.1\r\n\r\n", 1s), "");
}

}  // namespace
}  // namespace brig::testing
