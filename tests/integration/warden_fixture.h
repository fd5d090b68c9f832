// The fixture of warden's integration tests (one warden and its upstreams per
// test suite). Warden with real traffic: `brig warden serve` on 127.0.0.1 port 0, nginx in
// a network namespace at 198.18.N.2 (reached only through --resolve style
// overrides), curl as the cell (its source address 127.0.0.2 is mapped to
// cell "c1"), and small in-test servers on loopback for SSE and WebSocket.
#pragma once

#include <gmock/gmock.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/harness.h"

namespace brig::testing {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

inline constexpr const char* kCell = "127.0.0.2";     // mapped to c1
inline constexpr const char* kLimited = "127.0.0.4";  // mapped to c2 (rate limited)
inline constexpr const char* kStranger = "127.0.0.3"; // in no subnet

// Written whole, then renamed into place, as brig writes policy files: warden
// polls them and must not catch one half-written.
inline void write_file(const std::string& path, const std::string& text) {
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

inline std::string read_head(int fd) {
  std::string in;
  char c;
  while (in.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) in += c;
  return in;
}

inline void send_all(int fd, const std::string& s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

// SSE: headers and a first event at once, a second event 2 s later.
inline void serve_sse(int fd) {
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

inline std::string ws_accept(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[20];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha1(), nullptr);
  unsigned char b64[64];
  EVP_EncodeBlock(b64, md, 20);
  return reinterpret_cast<char*>(b64);
}

// Reads a WebSocket upgrade request and answers 101; false if it was none.
inline bool ws_handshake(int fd) {
  std::string head = read_head(fd);
  auto k = head.find("Sec-WebSocket-Key: ");
  if (k == std::string::npos) return false;
  std::string key = head.substr(k + 19, head.find("\r\n", k) - k - 19);
  send_all(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                   ws_accept(key) + "\r\n\r\n");
  return true;
}

// WebSocket: answers the upgrade, then echoes one (masked) text frame unmasked.
inline void serve_ws(int fd) {
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
inline void ws_stream(int fd, int frames, std::chrono::milliseconds gap) {
  if (!ws_handshake(fd)) return;
  for (int i = 0; i < frames; ++i) {
    std::this_thread::sleep_for(gap);
    send_all(fd, std::string{static_cast<char>(0x82), 100} + std::string(100, static_cast<char>('a' + i)));
  }
}
inline void serve_ws_trickle(int fd) { ws_stream(fd, 8, 300ms); }   // 2.4 s, never 1 s without a byte
inline void serve_ws_silent(int fd) { ws_stream(fd, 1, 3000ms); }   // nothing for 3 s

// Floods whatever connects with 50 MiB, whatever it was sent (not TLS).
inline void serve_flood(int fd) {
  char buf[4096];
  ::recv(fd, buf, sizeof buf, 0);
  const std::string chunk(1 << 16, 'x');
  for (int i = 0; i < 800; ++i)
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
}

// A keep-alive upstream: answers "ok" to every request on a connection.
inline std::atomic<int> keep_connections{0};
inline void serve_keep_alive(int fd) {
  ++keep_connections;
  while (!read_head(fd).empty()) send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

// An upstream that closes each connection after one answer without saying
// so (no Connection: close): warden pools the connection, then finds it dead.
inline std::atomic<int> closer_connections{0};
inline void serve_then_close(int fd) {
  ++closer_connections;
  std::string head = read_head(fd);
  if (auto cl = head.find("Content-Length: "); cl != std::string::npos) {
    std::string body(std::stoul(head.substr(cl + 16)), '\0');
    ::recv(fd, body.data(), body.size(), MSG_WAITALL);
  }
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

// Interim answers before the final one: 100 Continue, then 103 Early Hints.
inline void serve_early_hints(int fd) {
  read_head(fd);
  send_all(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
               "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal");
}

// An upstream that records every byte it is sent and answers the first head
// of each connection with 200 "ok" (Connection: close). Bytes are recorded
// when the connection has been quiet for 300 ms or closed.
inline std::mutex recorded_mu;
inline std::string recorded;
inline std::atomic<int> recorder_connections{0};
inline void serve_record(int fd) {
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
inline std::string take_recorded() {
  std::this_thread::sleep_for(500ms);  // the recorder's quiet period
  std::lock_guard lock(recorded_mu);
  return std::exchange(recorded, "");
}

// The value of one Prometheus sample (`name{labels}`) in `text`, 0 when absent.
inline double metric(const std::string& text, const std::string& key) {
  auto pos = text.find("\n" + key + " ");
  return pos == std::string::npos ? 0.0 : std::stod(text.substr(pos + key.size() + 2));
}

class WardenTest : public ::testing::Test {
 public:
  static int dns_port() { return dns_port_; }  // the resolver's (UDP and TCP)

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
    // The transparent ports are the real ones (a transparent request's port
    // is the one the client dialled); the resolver's is any.
    auto* w = new Child({BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
                         "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:80", "--https-listen", "127.0.0.1:443",
                         "--upstream-ca", upstream_->ca_file(), "--threads", "2"},
                        {"BRIG_HOME=" + home_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
    auto line = w->read_line(10s);
    EXPECT_TRUE(line.has_value()) << "warden printed no addresses";
    if (line) {
      auto j = nlohmann::json::parse(*line);
      proxy_ = j["proxy"];
      ops_ = j["ops"];
      const std::string dns = j.value("dns", "");
      dns_port_ = dns.empty() ? 0 : std::stoi(dns.substr(dns.rfind(':') + 1));
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

  // A warden of its own (its own BRIG_HOME, already written), for tests that
  // change its limits or stop it.
  struct OwnWarden {
    std::unique_ptr<Child> child;
    std::string host;
    int port = 0;
  };
  static OwnWarden own_warden(const std::string& home) {
    OwnWarden w;
    w.child = std::make_unique<Child>(
        std::vector<std::string>{BRIG_BINARY, "warden", "serve", "--proxy-listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"},
        std::vector<std::string>{"BRIG_HOME=" + home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1"});
    auto line = w.child->read_line(10s);
    EXPECT_TRUE(line.has_value()) << "warden printed no addresses";
    if (line) {
      const std::string proxy = nlohmann::json::parse(*line)["proxy"];
      w.host = proxy.substr(0, proxy.rfind(':'));
      w.port = std::stoi(proxy.substr(proxy.rfind(':') + 1));
    }
    return w;
  }

  static inline std::string skip_, home_, proxy_, ops_;
  static inline int dns_port_ = 0;
  static inline Upstream* upstream_ = nullptr;
  static inline LoopServer *sse_ = nullptr, *ws_ = nullptr, *keep_ = nullptr, *closer_ = nullptr, *early_ = nullptr,
                           *flood_ = nullptr, *recorder_ = nullptr;
  static inline Child* warden_ = nullptr;
};

}  // namespace brig::testing
