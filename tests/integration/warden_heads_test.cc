// Request heads and framing through warden (the fixture is in
// warden_fixture.h): smuggling-prone heads are refused before a byte goes
// upstream, accepted ones leave in one standard form (RFC 9112), inside MITM
// too; early answers (431) reach a client that is still sending.
#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {

// The same warden and upstreams as WardenTest, started for this suite.
class WardenHeadsTest : public WardenTest {};

TEST_F(WardenHeadsTest, H2cUpgradeIsNotPassedOn) {
  auto r = curl(kCell, {"-i", "-H", "Upgrade: h2c", "-H", "Connection: Upgrade, HTTP2-Settings", "http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("|200"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("X-Upstream-Saw-Upgrade: h2c")));
}

TEST_F(WardenHeadsTest, OversizedHeaderGets431) {
  auto r = curl(kCell, {"-H", "X-Big: " + std::string(10000, 'a'), "http://example.test/"});
  EXPECT_THAT(r.out, HasSubstr("|431"));
}

TEST_F(WardenHeadsTest, SlowlorisIsCutOff) {
  const auto start = std::chrono::steady_clock::now();
  std::string got = raw_exchange(proxy_host(), proxy_port(), kCell, "GET http://example.test/ HTTP/1.1\r\nHost: ex", 5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 3s);  // header timeout is 1 s here
  EXPECT_EQ(got.find("200 OK"), std::string::npos);
}

TEST_F(WardenHeadsTest, SmugglingHeadsAreRejected) {
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
TEST_F(WardenHeadsTest, FramingTwoTransferEncodingLinesAreRefusedBeforeAnyByteGoesUpstream) {
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

TEST_F(WardenHeadsTest, FramingAmbiguousFramingsAreRefused) {
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

TEST_F(WardenHeadsTest, FramingAcceptedRequestsGoOutInOneStandardForm) {
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

TEST_F(WardenHeadsTest, FramingInsideMitmToo) {
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
TEST_F(WardenHeadsTest, EarlyAnswerSurvivesAClientStillSending) {
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

}  // namespace
}  // namespace brig::testing
