// Clients that ignore proxy variables, from inside real cells (podman +
// runsc + nftables + the warden container): warden is the cell's resolver
// and its :80/:443 take what the resolver pointed at it; nothing else is
// reachable, and a name that carries data goes nowhere.
#include <sstream>

#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

// Node's fetch (undici) in the node image ignores HTTP(S)_PROXY: the client
// the issue is about. Prints "GOT <body>" or "ERR <code>".
std::string node_fetch(const std::string& url) {
  return "node -e \"fetch('" + url +
         "').then(r => r.text().then(t => console.log('GOT ' + r.status + ' ' + t.trim())), "
         "e => console.log('ERR ' + ((e.cause && e.cause.code) || e.message)))\"";
}

// The cell's warden address, from its resolv.conf, as shell.
constexpr const char* kWardenVar = "W=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf); ";

// A TCP connect from the cell: "tcp HOST PORT open|refused|errN SECONDS".
constexpr const char* kProbe =
    "import socket, sys, time\n"
    "def tcp(h, p):\n"
    "    t = time.time(); s = socket.socket(); s.settimeout(5)\n"
    "    try:\n"
    "        s.connect((h, p)); r = \"open\"\n"
    "    except ConnectionRefusedError: r = \"refused\"\n"
    "    except OSError as e: r = \"err%d\" % (e.errno or 0)\n"
    "    print(\"tcp\", h, p, r, round(time.time() - t, 3))\n"
    "def udp(h, p):\n"
    "    t = time.time(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)\n"
    "    try:\n"
    "        s.connect((h, p)); s.send(bytes(30)); s.recv(512); r = \"answered\"\n"
    "    except ConnectionRefusedError: r = \"refused\"\n"
    "    except socket.timeout: r = \"timeout\"\n"
    "    except OSError as e: r = \"err%d\" % (e.errno or 0)\n"
    "    print(\"udp\", h, p, r, round(time.time() - t, 3))\n"
    "for a in sys.argv[1:]:\n"
    "    kind, h, p = a.split(\":\"); (tcp if kind == \"tcp\" else udp)(h, int(p))\n";

std::string probe(const std::vector<std::string>& targets) {
  std::string s = "python3 -c \"$P\"";
  for (const auto& t : targets) s += " " + t;
  return s;
}

// The probe lines that were refused, each with how long the refusal took.
std::vector<std::pair<std::string, double>> refusals(const std::string& out) {
  std::vector<std::pair<std::string, double>> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" refused ") == std::string::npos) continue;
    v.emplace_back(line, std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return v;
}

}  // namespace

TEST_F(Cells, ResolverAnswersAllowedNamesWithWardenAndNothingElse) {
  auto out = in_cell("e2e-dns",
                     std::string(kWardenVar) +
                         "echo \"warden=$W\"; grep -c nameserver /etc/resolv.conf; "
                         "getent hosts allowed.test; echo \"allowed=$?\"; "
                         "getent hosts denied.test; echo \"denied=$?\"; "
                         "python3 -c \"import socket\ntry: print('v6', socket.getaddrinfo('allowed.test', 443, "
                         "socket.AF_INET6))\nexcept socket.gaierror as e: print('v6 none', e.errno)\"",
                     {"--allow", "allowed.test"}, kNode);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const auto w = out.out.substr(out.out.find("warden=") + 7, out.out.find('\n', out.out.find("warden=")) - out.out.find("warden=") - 7);
  ASSERT_THAT(w, ::testing::StartsWith("10.60.")) << out.out;
  EXPECT_THAT(w, ::testing::EndsWith(".2"));
  EXPECT_THAT(out.out, HasSubstr("warden=" + w + "\n1\n"));  // one nameserver: warden
  EXPECT_THAT(out.out, HasSubstr(w + "       allowed.test"));
  EXPECT_THAT(out.out, HasSubstr("allowed=0"));
  EXPECT_THAT(out.out, HasSubstr("denied=2"));  // NXDOMAIN: getent's "not found"
  EXPECT_THAT(out.out, HasSubstr("v6 none"));  // AAAA: an empty answer (cells reach warden over IPv4)
}

TEST_F(Cells, NodeFetchWithoutProxySupportGoesThroughWarden) {
  auto out = in_cell("e2e-node",
                     node_fetch("https://allowed.test/node") + "; " + node_fetch("https://denied.test/node") +
                         "; curl -sS --max-time 20 --noproxy '*' https://allowed.test/curl; "
                         "curl -sS --max-time 20 --noproxy '*' http://allowed.test/plain",
                     {"--allow", "allowed.test"}, kNode);
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("GOT 200 upstream allowed.test GET /node"));  // MITM, brig's CA trusted by node
  EXPECT_THAT(out.out, HasSubstr("ERR ENOTFOUND"));                          // denied.test does not resolve
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /curl"));
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /plain"));
  // Logged as transparent, with the proxy's decisions.
  std::ifstream log(home_ + "/logs/cells/e2e-node.jsonl");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(R"("path":"/node")"));
  EXPECT_THAT(text, HasSubstr(R"("transparent":true)"));
  EXPECT_THAT(text, HasSubstr(R"("kind":"dns")"));
}

TEST_F(Cells, PathRulesHoldOnTransparentHttps) {
  const std::string file = dir_ + "/e2e-tpath.yaml";
  std::ofstream(file) << "name: e2e-tpath\nimage: " << kNode << "\ncommand:\n  - sh\n  - -c\n  - |\n    "
                      << node_fetch("https://allowed.test/ok/1") << "\n    " << node_fetch("https://allowed.test/no/2")
                      << "\npolicy:\n  allow:\n    - domain: allowed.test\n      paths: [/ok/*]\n";
  auto out = brig({"run", "--rm", "--file", file});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("GOT 200 upstream allowed.test GET /ok/1"));
  EXPECT_THAT(out.out, HasSubstr("GOT 403"));
  EXPECT_THAT(out.out, Not(HasSubstr("GET /no/2")));
}

TEST_F(Cells, DataInANameGoesNowhere) {
  // A resolver in the upstream's namespace that logs every query it sees, and
  // a count of DNS packets the host forwards from any container.
  const std::string seen = dir_ + "/queries.log";
  Child resolver({"/usr/sbin/ip", "netns", "exec", upstream_->netns(), "python3", "-c",
                  "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "s.bind(('0.0.0.0', 53))\nprint('ready', flush=True)\n"
                  "while True:\n    d, a = s.recvfrom(4096)\n    open('" + seen + "', 'a').write(repr(d) + '\\n')\n"},
                 {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"});
  ASSERT_TRUE(resolver.read_line(std::chrono::seconds(10)).has_value());
  proc::Command nft{{"/usr/sbin/nft", "-f", "-"}, std::nullopt, "",
                    "table inet brig_e2e_dnswatch {\n  chain watch {\n    type filter hook forward priority -20; policy accept;\n"
                    "    udp dport 53 counter\n    tcp dport 53 counter\n  }\n}\n",
                    std::chrono::seconds(10)};
  ASSERT_EQ(run_command(nft).exit_code, 0);
  const std::string up = upstream_->address();
  auto out = in_cell("e2e-exfil",
                     "P='" + std::string(kProbe) + "'; getent hosts c2VjcmV0LWRhdGE.denied.test; echo \"getent=$?\"; " +
                         probe({"udp:" + up + ":53", "tcp:" + up + ":53"}),
                     {"--allow", "allowed.test"}, kNode);
  auto counters = run({"/usr/sbin/nft", "list", "table", "inet", "brig_e2e_dnswatch"});
  run({"/usr/sbin/nft", "delete", "table", "inet", "brig_e2e_dnswatch"});
  EXPECT_THAT(out.out, HasSubstr("getent=2")) << out.out << out.err;
  EXPECT_THAT(out.out, Not(HasSubstr("answered")));
  EXPECT_THAT(out.out, Not(HasSubstr(" open ")));
  std::ifstream q(seen);
  const std::string queries((std::istreambuf_iterator<char>(q)), std::istreambuf_iterator<char>());
  EXPECT_EQ(queries, "") << "the upstream's resolver saw a query";
  EXPECT_THAT(counters.out, Not(HasSubstr("counter packets 1"))) << counters.out;
  EXPECT_THAT(counters.out, HasSubstr("counter packets 0")) << counters.out;
  // The attempt is in the cell's log as a dns denial.
  std::ifstream log(home_ + "/logs/cells/e2e-exfil.jsonl");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(R"("host":"c2vjcmv0lwrhdge.denied.test")"));
}

TEST_F(Cells, AnythingButWardensPortsIsRefusedAtOnce) {
  auto out = in_cell("e2e-refuse",
                     std::string(kWardenVar) + "G=${W%.2}.1; P='" + kProbe + "'; " +
                         probe({"tcp:$W:22", "tcp:$G:22", "tcp:$W:8443", "udp:$W:5353", "tcp:$W:3128", "tcp:$W:443"}),
                     {"--allow", "allowed.test"}, kNode);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const std::string& o = out.out;
  EXPECT_THAT(o, ::testing::ContainsRegex("tcp 10\\.60\\.[0-9]+\\.2 22 refused"));
  // The host: a CNI --internal bridge has no gateway address, so nothing
  // answers there (no route to host once ARP gives up, in about 3 s; no
  // connection is ever made).
  EXPECT_THAT(o, ::testing::ContainsRegex("tcp 10\\.60\\.[0-9]+\\.1 22 (refused|err113)"));
  EXPECT_THAT(o, ::testing::ContainsRegex("tcp 10\\.60\\.[0-9]+\\.2 8443 refused"));
  EXPECT_THAT(o, ::testing::ContainsRegex("udp 10\\.60\\.[0-9]+\\.2 5353 refused"));
  // Warden's own ports answer (positive controls).
  EXPECT_THAT(o, ::testing::ContainsRegex("tcp 10\\.60\\.[0-9]+\\.2 3128 open"));
  EXPECT_THAT(o, ::testing::ContainsRegex("tcp 10\\.60\\.[0-9]+\\.2 443 open"));
  // At once: a reset or a port-unreachable, not a silent drop that hangs the client.
  const auto refused = refusals(o);
  EXPECT_GE(refused.size(), 3u) << o;
  for (const auto& [line, seconds] : refused) EXPECT_LT(seconds, 1.0) << line;
}

TEST_F(Cells, AirgappedCellResolvesNothing) {
  auto out = in_cell("e2e-dns-air", "getent hosts allowed.test; echo \"rc=$?\"", {"--profile", "airgapped"}, kNode);
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("rc=2"));
}

TEST_F(Cells, DnsDenialsShowInCellNetwork) {
  auto start = brig({"run", "-d", "--name", "e2e-dnsnet", "--allow", "allowed.test", kNode, "--", "sleep", "600"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto q = brig({"cell", "exec", "e2e-dnsnet", "--", "getent", "hosts", "nope.denied.test"});
  EXPECT_EQ(q.exit_code, 2);
  std::string shown;
  for (int i = 0; i < 20 && shown.find("nope.denied.test") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    shown = brig({"cell", "network", "e2e-dnsnet"}).out;
  }
  EXPECT_THAT(shown, HasSubstr("BLOCKED: dns nope.denied.test"));
  auto verify = brig({"system", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  brig({"cell", "rm", "--force", "e2e-dnsnet"});
}

}  // namespace brig::testing::e2e
