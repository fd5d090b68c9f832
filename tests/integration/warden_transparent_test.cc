// Warden as the cells' resolver and transparent proxy, with real traffic:
// DNS over UDP and TCP from the cell's source address, curl with
// --noproxy '*' dialling warden's :80 and :443 as a client that ignores
// proxy variables would after warden's resolver named warden.
#include <arpa/inet.h>

#include "integration/warden_fixture.h"

namespace brig::testing {
namespace {

using Transparent = WardenTest;

constexpr const char* kWarden = "127.0.0.1";

std::optional<DnsReply> ask(const std::string& src, const std::string& name, std::uint16_t type = 1) {
  auto out = udp_exchange(src, kWarden, WardenTest::dns_port(), dns_query(name, type), 2s);
  if (!out) return std::nullopt;
  return parse_dns_reply(*out);
}

// The cell's log records of `kind` naming `host`.
std::vector<nlohmann::json> records(const std::string& home, const std::string& kind, const std::string& host) {
  std::this_thread::sleep_for(300ms);  // the log writer is asynchronous
  std::vector<nlohmann::json> out;
  std::ifstream in(home + "/logs/cells/c1.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("kind", "") == kind && j.value("host", "") == host) out.push_back(j);
  }
  return out;
}

// curl as the cell, with no proxy: the name resolves to warden's transparent port.
proc::Output direct(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "--noproxy", "*", "--interface", kCell,
                                   "-w", "|%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}
std::string resolve(const std::string& host, int port) { return host + ":" + std::to_string(port) + ":" + kWarden; }

TEST_F(Transparent, AllowedNameResolvesToWardenWithAShortTtl) {
  auto a = ask(kCell, "Secure.Test.");
  ASSERT_TRUE(a.has_value()) << "no answer";
  EXPECT_EQ(a->id, 0x4242);
  EXPECT_EQ(a->rcode, 0);
  EXPECT_EQ(a->answers, 1);
  EXPECT_EQ(a->address, kWarden);  // the address the query went to: warden's own
  EXPECT_EQ(a->ttl, 5u);
  auto wild = ask(kCell, "x.y.wild.test");
  ASSERT_TRUE(wild.has_value());
  EXPECT_EQ(wild->address, kWarden);
  // AAAA of an allowed name: it exists, with no IPv6 address.
  auto aaaa = ask(kCell, "secure.test", 28);
  ASSERT_TRUE(aaaa.has_value());
  EXPECT_EQ(aaaa->rcode, 0);
  EXPECT_EQ(aaaa->answers, 0);
}

TEST_F(Transparent, OtherNamesAreNxdomainAndLoggedNeverForwarded) {
  auto n = ask(kCell, "c2VjcmV0LWRhdGE.exfil.test");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->rcode, 3);  // NXDOMAIN
  EXPECT_EQ(n->answers, 0);
  // A name a deny rule names, though c1 also allows it.
  auto evil = ask(kCell, "evil.test");
  ASSERT_TRUE(evil.has_value());
  EXPECT_EQ(evil->rcode, 3);
  auto recs = records(home_, "dns", "c2vjcmv0lwrhdge.exfil.test");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["decision"], "deny");
  EXPECT_EQ(recs[0]["method"], "A");
  EXPECT_EQ(recs[0]["code"], "no_rule");
  EXPECT_EQ(records(home_, "dns", "evil.test").at(0)["code"], "denied_by_rule");
  const auto m = ops("/metrics");
  EXPECT_GE(metric(m, R"(brig_warden_dns_queries_total{cell="c1",answer="nxdomain"})"), 2);
}

TEST_F(Transparent, ResolverAnswersOverTcpToo) {
  std::string q = dns_query("secure.test", 1, 0x0101);
  const std::string framed = std::string{static_cast<char>(q.size() >> 8), static_cast<char>(q.size() & 0xff)} + q;
  auto out = raw_exchange(kWarden, dns_port(), kCell, framed + framed, 2s);
  ASSERT_GT(out.size(), 2u);
  const std::size_t len = static_cast<unsigned char>(out[0]) << 8 | static_cast<unsigned char>(out[1]);
  ASSERT_GE(out.size(), 2 + len);
  auto r = parse_dns_reply(out.substr(2, len));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 0x0101);
  EXPECT_EQ(r->address, kWarden);
  EXPECT_GE(out.size(), 2 * (2 + len)) << "the second query on the connection was not answered";
}

TEST_F(Transparent, StrangersAndHostileQueriesGetNoAnswer) {
  EXPECT_FALSE(ask(kStranger, "secure.test").has_value());  // not a cell: silence, not NXDOMAIN
  // A compression pointer loop in the question: FORMERR, at once.
  std::string loop = dns_query("a.test", 1);
  loop.replace(12, 8, std::string("\xc0\x0c", 2));
  auto f = udp_exchange(kCell, kWarden, dns_port(), loop, 2s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(parse_dns_reply(*f)->rcode, 1);
  // Oversized and truncated datagrams: dropped.
  EXPECT_FALSE(udp_exchange(kCell, kWarden, dns_port(), dns_query("secure.test", 1) + std::string(600, 'x'), 500ms));
  EXPECT_FALSE(udp_exchange(kCell, kWarden, dns_port(), std::string("\x12\x34\x01", 3), 500ms));
  // Still answering.
  EXPECT_TRUE(ask(kCell, "secure.test").has_value());
}

TEST_F(Transparent, FloodIsBoundedPerCellAndTheResolverRecovers) {
  // c2 sends 1000 queries in 0.2 s, in batches small enough that no socket
  // buffer overflows: past its DNS rate (200/s, burst 400) warden drops them.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  ::inet_pton(AF_INET, kLimited, &from.sin_addr);
  ::inet_pton(AF_INET, kWarden, &to.sin_addr);
  to.sin_port = htons(static_cast<std::uint16_t>(dns_port()));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  const std::string q = dns_query("flood.example.test", 1);
  int answered = 0;
  char buf[1024];
  auto drain = [&](int wait_ms) {
    for (pollfd p{fd, POLLIN, 0}; ::poll(&p, 1, wait_ms) > 0;) answered += ::recv(fd, buf, sizeof buf, 0) > 0;
  };
  for (int batch = 0; batch < 10; ++batch) {
    for (int i = 0; i < 100; ++i) ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    drain(20);
  }
  drain(500);
  ::close(fd);
  EXPECT_GT(answered, 300);
  EXPECT_LT(answered, 600) << "1000 queries in 0.2 s were all answered: no per-cell bound";
  const std::string m = ops("/metrics");
  EXPECT_GT(metric(m, R"(brig_warden_dns_queries_total{cell="c2",answer="dropped"})"), 400);
  // One log line for the repeated name, however many queries.
  EXPECT_LE(run({"grep", "-c", "flood.example.test", home_ + "/logs/cells/c2.jsonl"}).out, "2\n");
  // The other cell is not starved, and c2 gets answers again within its rate.
  EXPECT_TRUE(ask(kCell, "secure.test").has_value());
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(ask(kLimited, "example.test").has_value());
}

TEST_F(Transparent, PlainHttpIsRoutedByHost) {
  auto ok = direct({"--resolve", resolve("example.test", 80), "http://example.test/plain?q=1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("upstream example.test GET /plain?q=1"));
  EXPECT_THAT(ok.out, HasSubstr("|200"));
  auto recs = records(home_, "http", "example.test");
  ASSERT_FALSE(recs.empty());
  EXPECT_TRUE(recs.back().value("transparent", false)) << recs.back().dump();
  // A host the policy does not allow: warden's own 403, as on the proxy port.
  auto denied = direct({"--resolve", resolve("nothere.test", 80), "http://nothere.test/x"});
  EXPECT_THAT(denied.out, HasSubstr("|403"));
  EXPECT_THAT(denied.out, HasSubstr("brig policy set c1 --allow nothere.test"));
  // The Host must name the port the client dialled; none at all is refused.
  EXPECT_THAT(raw_exchange(kWarden, 80, kCell, "GET / HTTP/1.1\r\nHost: example.test:8080\r\n\r\n", 3s),
              HasSubstr("421"));
  EXPECT_THAT(raw_exchange(kWarden, 80, kCell, "GET / HTTP/1.0\r\n\r\n", 3s), HasSubstr("400"));
  // CONNECT belongs on the proxy port.
  EXPECT_THAT(raw_exchange(kWarden, 80, kCell, "CONNECT secure.test:443 HTTP/1.1\r\nHost: secure.test:443\r\n\r\n", 3s),
              HasSubstr("403"));
}

TEST_F(Transparent, HttpsIsRoutedBySniAndMitmdWithPathRules) {
  auto ok = direct({"--cacert", ca(), "--resolve", resolve("secure.test", 443), "https://secure.test/tls"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("upstream secure.test GET /tls"));
  auto tunnel = records(home_, "connect", "secure.test");
  ASSERT_FALSE(tunnel.empty());
  EXPECT_TRUE(tunnel.back().value("transparent", false));
  EXPECT_EQ(tunnel.back()["tls"], "mitm");
  // Path and method rules hold inside: api.test allows GET /v1/* only.
  EXPECT_THAT(direct({"--cacert", ca(), "--resolve", resolve("api.test", 443), "https://api.test/v1/x"}).out,
              HasSubstr("|200"));
  auto path = direct({"--cacert", ca(), "--resolve", resolve("api.test", 443), "https://api.test/v2/x"});
  EXPECT_THAT(path.out, HasSubstr("|403"));
  EXPECT_THAT(path.out, HasSubstr("path"));
}

TEST_F(Transparent, PassthroughHostsKeepTheUpstreamCertificate) {
  auto r = direct({"--cacert", upstream_->ca_file(), "--resolve", resolve("pass.test", 443), "https://pass.test/p"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("upstream pass.test GET /p"));
  auto tunnel = records(home_, "connect", "pass.test");
  ASSERT_FALSE(tunnel.empty());
  EXPECT_EQ(tunnel.back()["tls"], "passthrough");
  EXPECT_TRUE(tunnel.back().value("transparent", false));
}

TEST_F(Transparent, RefusedTlsGetsAnAlertAndALogRecord) {
  // A host the policy does not allow.
  auto denied = direct({"--cacert", ca(), "--resolve", resolve("nothere.test", 443), "https://nothere.test/"});
  EXPECT_EQ(denied.exit_code, 35) << denied.err;  // curl: TLS handshake failed
  EXPECT_THAT(denied.err, HasSubstr("access denied"));
  auto recs = records(home_, "connect", "nothere.test");
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back()["decision"], "deny");
  EXPECT_EQ(recs.back()["code"], "no_rule");
  // No SNI (curl sends none for an IP literal).
  auto ip = direct({"--cacert", ca(), "https://127.0.0.1/"});
  EXPECT_EQ(ip.exit_code, 35) << ip.err;
  // Not a TLS client at all: closed, nothing relayed.
  EXPECT_EQ(raw_exchange(kWarden, 443, kCell, "GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n", 3s).substr(0, 1), "\x15");
  // Not a cell.
  auto stranger = run({"curl", "-sS", "--max-time", "10", "--noproxy", "*", "--interface", kStranger, "--cacert", ca(),
                       "--resolve", resolve("secure.test", 443), "https://secure.test/"});
  EXPECT_EQ(stranger.exit_code, 35);
}

}  // namespace
}  // namespace brig::testing
