// Warden with real traffic (the fixture is in warden_fixture.h): policy,
// MITM and passthrough, upstream failures, rate limits, streams, pooling,
// logs, metrics, hot reload, the CLI against a running warden, draining.
#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {
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

// Denials an agent can parse: a reason code on every refusal, and JSON when
// the request asks for it (in the forward proxy, inside MITM, and for CONNECT).
TEST_F(WardenTest, DenialsCarryAReasonCodeAndJsonWhenAsked) {
  auto text = curl(kCell, {"-i", "http://nowhere.test/"});
  EXPECT_THAT(text.out, HasSubstr("X-Brig-Blocked: no_rule\r\n"));
  EXPECT_THAT(text.out, HasSubstr("Content-Type: text/plain"));

  auto r = curl(kCell, {"-sS", "-H", "Accept: application/json", "http://api.test/v2/items?x=1"});
  ASSERT_THAT(r.out, HasSubstr("|403"));
  const auto j = nlohmann::json::parse(r.out.substr(0, r.out.rfind('|')));
  EXPECT_EQ(j["error"], "blocked");
  EXPECT_EQ(j["cell"], "c1");
  EXPECT_EQ(j["host"], "api.test");
  EXPECT_EQ(j["port"], 80);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/v2/items?x=1");
  EXPECT_EQ(j["code"], "path_not_allowed");
  EXPECT_EQ(j["reason"], "the host is allowed, but not for this path");
  EXPECT_FALSE(j["rule"].get<std::string>().empty());
  EXPECT_TRUE(j.contains("fix"));

  auto mitm = curl(kCell, {"-i", "--cacert", ca(), "-H", "Accept: text/html, application/json;q=0.9",
                           "https://api.test/v2/x"});
  EXPECT_THAT(mitm.out, HasSubstr("X-Brig-Blocked: path_not_allowed\r\n"));
  EXPECT_THAT(mitm.out, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(mitm.out, HasSubstr("\"error\":\"blocked\""));

  auto connect = curl(kCell, {"-i", "--proxy-header", "Accept: application/json", "https://nowhere.test/"});
  EXPECT_THAT(connect.out, HasSubstr("X-Brig-Blocked: no_rule\r\n"));
  EXPECT_THAT(connect.out, HasSubstr("Content-Type: application/json\r\n"));  // (curl does not show a CONNECT answer's body)

  // Refusals after the policy allowed: the code names the check.
  auto blocked = curl(kCell, {"-i", "http://localhost/"});
  EXPECT_THAT(blocked.out, HasSubstr("X-Brig-Blocked: blocked_address\r\n"));
  auto stranger = curl(kStranger, {"-i", "-H", "Accept: application/json", "http://example.test/"});
  EXPECT_THAT(stranger.out, HasSubstr("X-Brig-Blocked: unknown_source\r\n"));
  EXPECT_THAT(stranger.out, HasSubstr("\"cell\":\"unknown\""));
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
  EXPECT_THAT(last, HasSubstr("X-Brig-Blocked: ratelimit\r\n"));
  EXPECT_THAT(last, HasSubstr("brig warden: rate limit for cell c2 exceeded; retry in "));
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
  auto w = own_warden(home);
  ASSERT_GT(w.port, 0);
  const std::string phost = w.host;
  const int pport = w.port;
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
  // A host no test has MITM'd yet: one leaf generated (a miss), then reused (a hit).
  curl(kCell, {"--cacert", ca(), "https://a.b.wild.test/", "https://a.b.wild.test/"});
  curl(kCell, {"--cacert", ca(), "https://a.b.wild.test/"});
  auto after = ops("/metrics");
  const std::string key = R"(brig_warden_blocked_total{cell="c1",reason="policy"})";
  EXPECT_EQ(metric(after, key), metric(before, key) + 1);
  EXPECT_EQ(metric(after, "brig_warden_cert_cache_misses_total"), metric(before, "brig_warden_cert_cache_misses_total") + 1);
  EXPECT_GE(metric(after, "brig_warden_cert_cache_hits_total"), metric(before, "brig_warden_cert_cache_hits_total") + 1);
  EXPECT_THAT(ops("/healthz"), HasSubstr("\"status\":\"ok\""));
}

TEST_F(WardenTest, PolicyHotReloadAndInvalidReloadKeepsOld) {
  EXPECT_THAT(curl(kCell, {"http://other.test/"}).out, HasSubstr("|200"));
  const double errors_before = metric(ops("/metrics"), R"(brig_warden_policy_reloads_total{result="error"})");
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
  EXPECT_GT(metric(ops("/metrics"), R"(brig_warden_policy_reloads_total{result="error"})"), errors_before);
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

// SIGTERM: a request in flight on the SSE stream (2 s) finishes; warden then
// exits 0 and refuses new connections. (A warden of its own: the suite's
// keeps serving the other tests.)
TEST_F(WardenTest, SigtermDrainsAndExits) {
  const std::string home = home_ + "/drain-home";
  const std::string sse = "sse.test:" + std::to_string(sse_->port());
  write_file(home + "/state/system/subnet-map.json", R"({"127.0.0.6/32": "c4"})");
  write_file(home + "/policy/cells/c4.json", R"({"allow": [")" + sse + R"("]})");
  write_file(home + "/warden.yaml", "resolve_overrides:\n  - " + sse + ":127.0.0.1\n");
  auto w = own_warden(home);
  ASSERT_GT(w.port, 0);
  std::string got;
  std::thread client([&] {
    got = raw_exchange(w.host, w.port, "127.0.0.6", "GET http://" + sse + "/ HTTP/1.1\r\nHost: " + sse + "\r\n\r\n", 5s);
  });
  std::this_thread::sleep_for(500ms);
  w.child->signal(SIGTERM);
  client.join();
  EXPECT_THAT(got, HasSubstr("data: second"));
  EXPECT_EQ(w.child->wait(10s), std::optional<int>(0));
  EXPECT_EQ(raw_exchange(w.host, w.port, "127.0.0.6", "GET / HTTP/1.1\r\n\r\n", 1s), "");
}

}  // namespace
}  // namespace brig::testing
