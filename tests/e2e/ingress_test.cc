// Ingress end to end on real podman + runsc + warden: https://<cell>.localhost:8443
// reaches a cell's declared port only with the cell's bearer token, the token
// never reaches the cell, streams are not buffered, WebSocket upgrades are
// relayed, cells stay apart whatever Host a client sends, no cell can reach the
// listener, and the routes come back after every kind of restart.
//
// Two cells, made once and shared (each costs about a second):
//   e2e-ing    web :8080 "/" (busybox httpd, a static page), api :8081 "/api"
//              (echoes the request head it received), sse :8082 "/sse" (one
//              event, 3 s, another), ws :8083 "/ws" (101, then echoes bytes),
//              dead :8084 "/dead" (nothing listens there);
//   e2e-ing-b  api :8081 "/api" only (no "/" route), with its own token.
// The handlers are sh scripts written to /tmp: /tmp is noexec, so nc runs them
// as `sh FILE` (reading a script needs no exec permission).
//
// The client is the host: curl with --cacert $BRIG_HOME/ca/ca.crt and
// --resolve (never the system resolver), and a small TLS client below for the
// streams, where the timing of each byte matters.
//
// The last test takes the whole brig system down and up again: it stops every
// cell of the suite, which is why it is the last test of the last file of
// e2e_tests (the fixture's teardown removes stopped cells as well).
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <map>
#include <sstream>

#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kA = "e2e-ing";
constexpr const char* kB = "e2e-ing-b";
constexpr int kIngressPort = 8443;
constexpr const char* kOpsMetrics = "http://127.0.0.1:9464/metrics";  // the default ops_port

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
// 64 hex digits each, as `openssl rand -hex 32` makes them.
const std::string kTokenA = repeat("0123456789abcdef", 4);
const std::string kTokenB = repeat("fedcba9876543210", 4);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string host_of(const std::string& cell) { return cell + ".localhost"; }

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- the cells

// What every ingress cell runs: busybox httpd on 8080 and three nc servers.
// Each nc -ll forks `sh /tmp/X.sh` per connection with the socket on stdin
// and stdout. `trap` lets stop and restart end the cell at once.
std::string server_script(const std::string& cell) {
  return R"SH(trap 'exit 0' TERM INT
mkdir -p /tmp/www
echo "web of )SH" + cell + R"SH(" > /tmp/www/index.html
cat > /tmp/echo.sh <<'EOF'
cr=$(printf '\r')
body="cell: )SH" + cell + R"SH(
"
while IFS= read -r line; do
  line=${line%"$cr"}
  [ -z "$line" ] && break
  body="$body$line
"
done
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
EOF
cat > /tmp/sse.sh <<'EOF'
cr=$(printf '\r')
while IFS= read -r line; do line=${line%"$cr"}; [ -z "$line" ] && break; done
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
printf 'b\r\ndata: one\n\n\r\n'
sleep 3
printf 'b\r\ndata: two\n\n\r\n0\r\n\r\n'
EOF
cat > /tmp/ws.sh <<'EOF'
cr=$(printf '\r')
while IFS= read -r line; do
  line=${line%"$cr"}
  [ -z "$line" ] && break
done
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$ACCEPT"
exec cat
EOF
httpd -f -p 8080 -h /tmp/www &
nc -ll -p 8081 -e sh /tmp/echo.sh &
nc -ll -p 8082 -e sh /tmp/sse.sh &
# The accept value of RFC 6455's example key, the one the test sends (a
# pipeline computing it here makes this runsc reset the connection now and then).
ACCEPT=s3pPLMBiTxaQ9kYGzzhZRbK+xOo= nc -ll -p 8083 -e sh /tmp/ws.sh &
wait
)SH";
}

// cell.yaml for `cell` with `routes` (flow mappings, one per line).
std::string cell_yaml(const std::string& cell, const std::vector<std::string>& routes) {
  std::string y = "name: " + cell + "\nimage: " + kBusybox + "\ncommand:\n  - sh\n  - \"-c\"\n  - |\n";
  const std::string script = server_script(cell);
  std::size_t start = 0;
  while (start < script.size()) {
    const std::size_t nl = script.find('\n', start);
    const std::string line = script.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    y += line.empty() ? "\n" : "    " + line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  y += "ingress:\n";
  for (const auto& r : routes) y += "  - " + r + "\n";
  return y;
}

const std::vector<std::string> kRoutesA = {
    "{name: web, port: 8080, path_prefix: /}",     "{name: api, port: 8081, path_prefix: /api}",
    "{name: sse, port: 8082, path_prefix: /sse}",  "{name: ws, port: 8083, path_prefix: /ws}",
    "{name: dead, port: 8084, path_prefix: /dead}",
};
const std::vector<std::string> kRoutesB = {"{name: api, port: 8081, path_prefix: /api}"};

// ---------------------------------------------------------------- a TLS client

// One TLS connection to the ingress listener (127.0.0.1:8443) with SNI `sni`,
// verified against brig's CA for exactly that name. Non-blocking underneath,
// so every read has a deadline and the test can time each byte.
class TlsClient {
 public:
  TlsClient(const std::string& ca, const std::string& sni, std::chrono::milliseconds timeout = 5s) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) {
      error_ = "cannot load the CA " + ca;
      return;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kIngressPort);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      error_ = std::string("connect 127.0.0.1:8443: ") + std::strerror(errno);
      return;
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const int r = SSL_connect(ssl_);
      if (r == 1) {
        ok_ = true;
        return;
      }
      const int e = SSL_get_error(ssl_, r);
      if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && wait_io(e, deadline)) continue;
      char buf[256] = "";
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      error_ = std::string("TLS handshake: ") + X509_verify_cert_error_string(SSL_get_verify_result(ssl_)) + "; " + buf;
      return;
    }
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // Everything read so far.
  const std::string& got() const { return got_; }

  // The DNS names of the certificate the listener presented.
  std::vector<std::string> san_dns() const {
    std::vector<std::string> names;
    if (!ok_) return names;
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return names;
    auto* gens = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; gens != nullptr && i < sk_GENERAL_NAME_num(gens); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, i);
      if (g->type != GEN_DNS) continue;
      const unsigned char* p = ASN1_STRING_get0_data(g->d.dNSName);
      names.emplace_back(reinterpret_cast<const char*>(p), static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
    }
    GENERAL_NAMES_free(gens);
    X509_free(cert);
    return names;
  }

  bool send(const std::string& bytes, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    std::size_t done = 0;
    while (ok_ && done < bytes.size()) {
      const int r = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      const int e = SSL_get_error(ssl_, r);
      if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && wait_io(e, deadline)) continue;
      return false;
    }
    return ok_;
  }

  // Reads until `marker` occurs in got() at or after `from`; false if the
  // peer closed or `timeout` passed first.
  bool read_until(const std::string& marker, std::chrono::milliseconds timeout, std::size_t from = 0) {
    const auto deadline = Clock::now() + timeout;
    while (ok_) {
      if (got_.find(marker, from) != std::string::npos) return true;
      if (closed_) return false;
      char buf[4096];
      const int r = SSL_read(ssl_, buf, sizeof buf);
      if (r > 0) {
        got_.append(buf, static_cast<std::size_t>(r));
        continue;
      }
      const int e = SSL_get_error(ssl_, r);
      if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)) {
        if (!wait_io(e, deadline)) return false;
        continue;
      }
      closed_ = true;
    }
    return false;
  }

 private:
  bool wait_io(int ssl_error, Clock::time_point deadline) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false, closed_ = false;
  std::string error_, got_;
};

// ---------------------------------------------------------------- steps

// An HTTP answer as curl saw it: status 0 when there was none (curl_exit says why).
struct Reply {
  int code = 0;
  int curl_exit = 0;
  std::string head, body, err;
};

// Helpers with the fixture's brig(), home_ and dir_ (never a fixture of its
// own: every ingress test is TEST_F(Cells, ...), on the suite's one system).
class Ingress : public Cells {
 public:
  static std::string ca() { return home_ + "/ca/ca.crt"; }

  // GET https://<cell>.localhost:8443<path> with `token` ("" for none). `extra`
  // goes before the URL. `insecure` skips certificate checks.
  static Reply get(const std::string& cell, const std::string& path, const std::string& token,
                   std::vector<std::string> extra = {}, bool insecure = false) {
    const std::string host = host_of(cell);
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--noproxy", "*", "--max-time", "10",
                                     "--resolve", host + ":" + std::to_string(kIngressPort) + ":127.0.0.1",
                                     "-w", "\n%{http_code}"};
    if (insecure) argv.push_back("-k");
    else argv.insert(argv.end(), {"--cacert", ca()});
    if (!token.empty()) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + host + ":" + std::to_string(kIngressPort) + path);
    auto out = run(argv);
    Reply r;
    r.curl_exit = out.exit_code;
    r.err = out.err;
    const auto nl = out.out.rfind('\n');
    if (nl == std::string::npos) return r;
    try {
      r.code = std::stoi(out.out.substr(nl + 1));
    } catch (...) {
      r.code = 0;
    }
    const std::string text = out.out.substr(0, nl);
    const auto blank = text.find("\r\n\r\n");
    r.head = text.substr(0, blank);
    r.body = blank == std::string::npos ? "" : text.substr(blank + 4);
    return r;
  }

  // Polls get() every 250 ms until it answers `code`, at most `limit`.
  static Reply wait_for(const std::string& cell, const std::string& path, const std::string& token, int code,
                        std::chrono::seconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    Reply r = get(cell, path, token);
    while (r.code != code && Clock::now() < deadline) {
      std::this_thread::sleep_for(250ms);
      r = get(cell, path, token);
    }
    return r;
  }

  static bool is_running(const std::string& cell) {
    auto out = run({"/usr/bin/podman", "container", "inspect", "-f", "{{.State.Running}}", "brig-" + cell});
    return out.exit_code == 0 && out.out.find("true") != std::string::npos;
  }

  // What `brig run -d --file` printed when it made each cell.
  static inline std::map<std::string, proc::Output> made_;

  // `cell` exists, runs and answers through ingress (made from its cell.yaml
  // on first use; started again when an earlier test stopped it).
  static void ensure(const std::string& cell, const std::string& token, const std::vector<std::string>& routes,
                     const std::string& probe_path) {
    if (!stdfs::exists(home_ + "/secrets/" + cell + "-ingress-token")) add_secret(cell + "-ingress-token", token);
    if (!stdfs::exists(home_ + "/state/" + cell)) {
      const std::string file = dir_ + "/" + cell + ".yaml";
      std::ofstream(file) << cell_yaml(cell, routes);
      auto out = brig({"run", "-d", "--file", file});
      made_[cell] = out;
      ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
    } else if (!is_running(cell)) {
      auto out = brig({"cell", "start", cell});
      ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
    }
    // Warden reads the route table live, and the servers need a moment.
    auto r = wait_for(cell, probe_path, token, 200);
    ASSERT_EQ(r.code, 200) << cell << probe_path << ": " << r.head << r.body << r.err;
  }
  static void ensure_a() { ensure(kA, kTokenA, kRoutesA, "/"); }
  static void ensure_b() { ensure(kB, kTokenB, kRoutesB, "/api/ready"); }

  // From inside cell `cell`: "OPEN" or "CLOSED" for host:port.
  static std::string probe(const std::string& cell, const std::string& host, int port) {
    auto out = brig({"cell", "exec", cell, "--", "sh", "-c",
                     "echo x | nc -w 2 " + host + " " + std::to_string(port) + " >/dev/null && echo OPEN || echo CLOSED"});
    return out.out;
  }

  static std::string metrics() { return run({"curl", "-sS", "--noproxy", "*", "--max-time", "5", kOpsMetrics}).out; }
};

// ---------------------------------------------------------------- tests

TEST_F(Cells, IngressServesTheCellOnlyWithItsBearerToken) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  // brig run printed where the cell is published.
  const auto& made = Ingress::made_[kA];
  EXPECT_THAT(made.out + made.err, HasSubstr("https://e2e-ing.localhost:8443/"));

  auto ok = Ingress::get(kA, "/", kTokenA);
  EXPECT_EQ(ok.code, 200) << ok.err;
  EXPECT_THAT(ok.body, HasSubstr("web of e2e-ing"));
  auto page = Ingress::get(kA, "/index.html", kTokenA);
  EXPECT_EQ(page.code, 200);
  EXPECT_THAT(page.body, HasSubstr("web of e2e-ing"));

  auto none = Ingress::get(kA, "/", "");
  EXPECT_EQ(none.code, 401) << none.head << none.err;
  EXPECT_THAT(lower(none.head), HasSubstr("www-authenticate: bearer"));
  EXPECT_THAT(none.body, Not(HasSubstr("web of e2e-ing")));

  auto wrong = Ingress::get(kA, "/", repeat("0", 64));
  EXPECT_EQ(wrong.code, 401);
  EXPECT_THAT(wrong.body, Not(HasSubstr("web of e2e-ing")));
  auto almost = Ingress::get(kA, "/", kTokenA.substr(0, 63));  // a prefix of the right token
  EXPECT_EQ(almost.code, 401);
  auto basic = Ingress::get(kA, "/", "", {"-u", "user:" + kTokenA});  // the token, but not as Bearer
  EXPECT_EQ(basic.code, 401);
  EXPECT_THAT(basic.body, Not(HasSubstr("web of e2e-ing")));
}

TEST_F(Cells, IngressCertificateIsBrigsForTheExactCellName) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  TlsClient tls(Ingress::ca(), host_of(kA));
  ASSERT_TRUE(tls.ok()) << tls.error();  // chain to $BRIG_HOME/ca/ca.crt and the name both verified
  const auto names = tls.san_dns();
  EXPECT_THAT(names, ::testing::Contains(std::string("e2e-ing.localhost")));
  for (const auto& n : names) EXPECT_EQ(n.find('*'), std::string::npos) << "wildcard certificate: " << n;
}

TEST_F(Cells, IngressStripsTheTokenAndTellsTheCellWhoAsked) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  auto r = Ingress::get(kA, "/api/echo?x=1", kTokenA, {"-H", "X-Probe: seen"});
  ASSERT_EQ(r.code, 200) << r.head << r.err;
  const std::string seen = lower(r.body);  // the request head as the cell received it
  EXPECT_THAT(seen, HasSubstr("cell: e2e-ing\n"));
  EXPECT_THAT(seen, HasSubstr("get /api/echo?x=1 "));  // the path as sent: no prefix stripped
  EXPECT_THAT(seen, HasSubstr("x-probe: seen"));
  EXPECT_THAT(seen, Not(HasSubstr("authorization")));
  EXPECT_THAT(seen, Not(HasSubstr(kTokenA)));
  EXPECT_THAT(seen, Not(HasSubstr(kTokenA.substr(0, 16))));
  EXPECT_THAT(seen, HasSubstr("x-forwarded-proto: https"));
  EXPECT_THAT(seen, HasSubstr("x-forwarded-host: e2e-ing.localhost"));
  EXPECT_THAT(seen, HasSubstr("x-forwarded-for: "));
  // The route is the longest matching prefix: /api went to the echo, not to httpd.
  EXPECT_THAT(r.body, Not(HasSubstr("web of e2e-ing")));
}

TEST_F(Cells, IngressStreamsServerSentEventsAsTheyCome) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  TlsClient tls(Ingress::ca(), host_of(kA));
  ASSERT_TRUE(tls.ok()) << tls.error();
  const auto t0 = Clock::now();
  ASSERT_TRUE(tls.send("GET /sse/events HTTP/1.1\r\nHost: e2e-ing.localhost:8443\r\nAuthorization: Bearer " + kTokenA +
                       "\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"));
  const bool first = tls.read_until("data: one", 2500ms);
  const long long t_first = ms_since(t0);
  const std::string at_first = tls.got();
  ASSERT_TRUE(first) << "no first event within 2.5 s; got: " << at_first;
  EXPECT_THAT(at_first, ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(lower(at_first), HasSubstr("content-type: text/event-stream"));
  EXPECT_THAT(at_first, Not(HasSubstr("data: two")));  // the stream had not ended
  EXPECT_LT(t_first, 2000) << "first event after " << t_first << " ms";
  const bool second = tls.read_until("data: two", 8s);
  const long long t_second = ms_since(t0);
  EXPECT_TRUE(second) << tls.got();
  EXPECT_GE(t_second, 2500) << "the stream lasted only " << t_second << " ms";  // the cell waits 3 s
  EXPECT_GE(t_second - t_first, 2000);
}

TEST_F(Cells, IngressRelaysAWebSocketUpgrade) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  const std::string upgrade =
      "GET /ws/chat HTTP/1.1\r\nHost: e2e-ing.localhost:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  {
    // Without the token: refused like any other request.
    TlsClient anon(Ingress::ca(), host_of(kA));
    ASSERT_TRUE(anon.ok()) << anon.error();
    ASSERT_TRUE(anon.send(upgrade + "\r\n"));
    anon.read_until("\r\n\r\n", 5s);
    EXPECT_THAT(anon.got(), ::testing::StartsWith("HTTP/1.1 401")) << anon.got();
  }
  TlsClient tls(Ingress::ca(), host_of(kA));
  ASSERT_TRUE(tls.ok()) << tls.error();
  ASSERT_TRUE(tls.send(upgrade + "Authorization: Bearer " + kTokenA + "\r\n\r\n"));
  ASSERT_TRUE(tls.read_until("\r\n\r\n", 5s)) << tls.got();
  const std::size_t head_end = tls.got().find("\r\n\r\n") + 4;
  const std::string head = tls.got().substr(0, head_end);
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 101")) << head;
  // What the cell answers for the key (RFC 6455's own example pair).
  EXPECT_THAT(lower(head), HasSubstr("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="));
  EXPECT_THAT(lower(head), HasSubstr("upgrade: websocket"));
  // A masked text frame "hello"; the cell's server is `cat`, so the same
  // bytes come back (ingress relays bytes, it does not re-frame them).
  const std::string payload = "hello";
  // (A mask that makes no 0x03/0x04 byte: the cell's busybox nc + cat under
  // this runsc end the connection on one, warden or not.)
  const unsigned char mask[4] = {0x11, 0x12, 0x13, 0x14};
  std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | payload.size())};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  ASSERT_TRUE(tls.send(frame));
  EXPECT_TRUE(tls.read_until(frame, 5s, head_end)) << "echo not seen; after the head: " << tls.got().substr(head_end);
  // (One round trip: the cell's busybox nc + cat under this runsc drop the
  // connection after the first echo now and then, warden or not. Warden's
  // tunnel carrying frames both ways until either end closes is tested in
  // tests/integration/warden_ingress_test.cc.)
}

TEST_F(Cells, IngressAnswers404ForUnknownCellsAndUnroutedPaths) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_b());
  // The certificate for a name no cell has is not the point here: -k.
  auto nobody = Ingress::get("nobody", "/", kTokenA, {}, true);
  EXPECT_EQ(nobody.code, 404) << nobody.head << nobody.err;
  auto unrouted = Ingress::get(kB, "/other", kTokenB);  // e2e-ing-b routes only /api
  EXPECT_EQ(unrouted.code, 404) << unrouted.head << unrouted.body;
  auto not_segment = Ingress::get(kB, "/apix", kTokenB);  // /api matches on a segment boundary only
  EXPECT_EQ(not_segment.code, 404) << not_segment.head << not_segment.body;
  auto routed = Ingress::get(kB, "/api/x", kTokenB);  // positive control
  EXPECT_EQ(routed.code, 200);
  EXPECT_THAT(routed.body, HasSubstr("cell: e2e-ing-b"));
}

TEST_F(Cells, IngressAnswers502ForAPortNothingListensOn) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  auto r = Ingress::get(kA, "/dead/x", kTokenA);
  EXPECT_EQ(r.code, 502) << r.head << r.body;
  EXPECT_THAT(r.body, HasSubstr("8084"));
  EXPECT_THAT(r.body, HasSubstr("not listening"));
}

TEST_F(Cells, IngressAnswers503ForAStoppedCellAndStartBringsItBack) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_b());
  auto stop = brig({"cell", "stop", "--time", "1", kB});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  auto r = Ingress::wait_for(kB, "/api/x", kTokenB, 503, 10s);
  EXPECT_EQ(r.code, 503) << r.head << r.body << r.err;
  EXPECT_THAT(r.body, HasSubstr("brig cell start e2e-ing-b"));
  EXPECT_THAT(r.body, Not(HasSubstr("cell: e2e-ing-b")));
  auto start = brig({"cell", "start", kB});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto back = Ingress::wait_for(kB, "/api/x", kTokenB, 200);
  EXPECT_EQ(back.code, 200) << back.head << back.body << back.err;
  EXPECT_THAT(back.body, HasSubstr("cell: e2e-ing-b"));
}

TEST_F(Cells, IngressKeepsCellsApartWhateverTheHostHeaderSays) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_b());
  // SNI e2e-ing.localhost, Host e2e-ing-b.localhost: misdirected, with either token.
  for (const std::string& token : {kTokenA, kTokenB}) {
    auto r = Ingress::get(kA, "/api/x", token, {"-H", "Host: e2e-ing-b.localhost:8443"});
    EXPECT_GE(r.code, 400) << r.head << r.body;
    EXPECT_LT(r.code, 500) << r.head << r.body;
    EXPECT_THAT(r.body, Not(HasSubstr("cell: e2e-ing-b")));
    EXPECT_THAT(r.body, Not(HasSubstr("cell: e2e-ing\n")));
  }
  auto bare = Ingress::get(kA, "/api/x", kTokenB, {"-H", "Host: e2e-ing-b.localhost"});  // without the port
  EXPECT_THAT(bare.body, Not(HasSubstr("cell: e2e-ing-b")));
  EXPECT_GE(bare.code, 400);
  // One cell's token opens only that cell.
  auto cross = Ingress::get(kA, "/api/x", kTokenB);
  EXPECT_EQ(cross.code, 401);
  EXPECT_THAT(cross.body, Not(HasSubstr("cell: e2e-ing")));
  auto back = Ingress::get(kB, "/api/x", kTokenA);
  EXPECT_EQ(back.code, 401);
  EXPECT_THAT(back.body, Not(HasSubstr("cell: e2e-ing-b")));
  // Positive controls: each token at its own cell.
  EXPECT_THAT(Ingress::get(kA, "/api/x", kTokenA).body, HasSubstr("cell: e2e-ing\n"));
  EXPECT_THAT(Ingress::get(kB, "/api/x", kTokenB).body, HasSubstr("cell: e2e-ing-b\n"));
}

TEST_F(Cells, IngressListenerIsNotReachableFromACell) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  const std::string me = inspect(kA).value("address", "");
  ASSERT_FALSE(me.empty());
  const std::string prefix = me.substr(0, me.rfind('.'));
  const std::string warden = prefix + ".2", gateway = prefix + ".1";
  EXPECT_THAT(Ingress::probe(kA, warden, 8443), HasSubstr("CLOSED")) << "warden's address on the cell network";
  EXPECT_THAT(Ingress::probe(kA, "10.59.0.2", 8443), HasSubstr("CLOSED")) << "warden's external address";
  EXPECT_THAT(Ingress::probe(kA, gateway, 8443), HasSubstr("CLOSED")) << "the host through the gateway";
  EXPECT_THAT(Ingress::probe(kA, warden, 3128), HasSubstr("OPEN")) << "positive control: warden's proxy port";
}

TEST_F(Cells, IngressRequestsAreLoggedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  auto r = Ingress::get(kA, "/", kTokenA);
  ASSERT_EQ(r.code, 200);
  const std::string log = home_ + "/logs/cells/" + std::string(kA) + ".jsonl";
  bool found = false;
  std::string text;
  for (int i = 0; i < 25 && !found; ++i) {
    if (i > 0) std::this_thread::sleep_for(200ms);
    std::ifstream in(log);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("kind", "") == "ingress" && j.value("route", "") == "web" &&
          j.contains("status") && j["status"] == 200) {
        found = true;
      }
    }
  }
  EXPECT_TRUE(found) << log << ":\n" << text;
  EXPECT_THAT(text, Not(HasSubstr(kTokenA)));  // the log never holds the token
  auto net = brig({"cell", "network", kA});
  EXPECT_EQ(net.exit_code, 0) << net.err;
  EXPECT_THAT(net.out, HasSubstr("INGRESS:"));
  const std::string m = Ingress::metrics();
  EXPECT_THAT(m, HasSubstr("brig_warden_ingress_requests_total{cell=\"e2e-ing\",route=\"web\",code=\"200\"}")) << m;
  EXPECT_THAT(m, Not(HasSubstr(kTokenA)));
}

TEST_F(Cells, IngressWithoutATokenSecretExits125AndLeavesNothing) {
  const std::string name = "e2e-ing-notoken";
  const std::string file = dir_ + "/" + name + ".yaml";
  std::ofstream(file) << "name: " << name << "\nimage: " << kBusybox
                      << "\ncommand: [sleep, \"300\"]\ningress:\n  - {name: web, port: 8080, path_prefix: /}\n";
  auto out = brig({"run", "-d", "--file", file});
  EXPECT_EQ(out.exit_code, 125) << out.out << out.err;
  EXPECT_THAT(out.err, HasSubstr("openssl rand -hex 32 | brig secrets add e2e-ing-notoken-ingress-token -"));
  EXPECT_NE(run({"/usr/bin/podman", "container", "exists", "brig-" + name}).exit_code, 0);
  EXPECT_FALSE(stdfs::exists(home_ + "/state/" + name));
  std::ifstream routes(home_ + "/state/system/ingress-routes.json");
  const std::string table((std::istreambuf_iterator<char>(routes)), std::istreambuf_iterator<char>());
  EXPECT_THAT(table, Not(HasSubstr(name)));
  std::ifstream map(home_ + "/state/system/subnet-map.json");
  const std::string subnets((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
  EXPECT_THAT(subnets, Not(HasSubstr(name)));
  auto list = brig({"cell", "list", "--all"});
  EXPECT_THAT(list.out, Not(HasSubstr(name)));
}

// Last: `brig system down` stops every cell of the suite (cells made earlier
// by running() stay stopped; the fixture's teardown removes them all). The
// system is left up.
TEST_F(Cells, IngressComesBackAfterCellRestartWardenRestartAndDownUp) {
  ASSERT_NO_FATAL_FAILURE(Ingress::ensure_a());
  auto restart = brig({"cell", "restart", kA});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  auto r1 = Ingress::wait_for(kA, "/", kTokenA, 200);
  EXPECT_EQ(r1.code, 200) << "after brig cell restart: " << r1.head << r1.err;
  EXPECT_THAT(r1.body, HasSubstr("web of e2e-ing"));

  // Warden replaced while the cell runs (a changed setting makes `system up`
  // start a new warden container): the route table is read again.
  auto set = brig({"config", "set", "ingress_max_body", "33554432"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  const std::string before = run({"/usr/bin/podman", "container", "inspect", "-f", "{{.Id}}", "brig-warden"}).out;
  auto wr = brig({"system", "up"});
  ASSERT_EQ(wr.exit_code, 0) << wr.out << wr.err;
  EXPECT_NE(run({"/usr/bin/podman", "container", "inspect", "-f", "{{.Id}}", "brig-warden"}).out, before);
  auto r2 = Ingress::wait_for(kA, "/", kTokenA, 200);
  EXPECT_EQ(r2.code, 200) << "after warden was replaced: " << r2.head << r2.err;

  auto down = brig({"system", "down"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  auto gone = Ingress::get(kA, "/", kTokenA);
  EXPECT_EQ(gone.code, 0) << "the listener is gone with warden";
  EXPECT_NE(gone.curl_exit, 0);
  auto up = brig({"system", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  auto stopped = Ingress::wait_for(kA, "/", kTokenA, 503, 15s);  // down stopped the cell; its route stays
  EXPECT_EQ(stopped.code, 503) << stopped.head << stopped.body << stopped.err;
  EXPECT_THAT(stopped.body, HasSubstr("brig cell start e2e-ing"));
  auto start = brig({"cell", "start", kA});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto r3 = Ingress::wait_for(kA, "/", kTokenA, 200);
  EXPECT_EQ(r3.code, 200) << "after system down, up and cell start: " << r3.head << r3.err;
  EXPECT_THAT(r3.body, HasSubstr("web of e2e-ing"));
  auto none = Ingress::get(kA, "/", "");  // and the token is still required
  EXPECT_EQ(none.code, 401);
}

}  // namespace
}  // namespace brig::testing::e2e
