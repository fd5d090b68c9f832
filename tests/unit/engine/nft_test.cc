// nft: the exact ruleset, install/remove through the Runner, check against
// canned `nft list table` output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/engine/nft.h"
#include "fakes/fake_runner.h"

namespace brig::engine {
namespace {

using ::testing::ElementsAre;
using brig::testing::canned;
using brig::testing::FakeRunner;

constexpr const char* kRuleset =
    "table bridge brig {}\n"
    "delete table bridge brig\n"
    "table bridge brig {\n"
    "  chain forward {\n"
    "    type filter hook forward priority -10; policy accept;\n"
    "    ip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 meta l4proto tcp accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 meta l4proto udp accept\n"
    "    ip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto tcp accept\n"
    "    ip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 udp sport 53 accept\n"
    "    ip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto icmp accept\n"
    "    ip saddr 10.60.0.0/16 counter drop\n"
    "    ip daddr 10.60.0.0/16 counter drop\n"
    "  }\n"
    "}\n"
    "table inet brig {}\n"
    "delete table inet brig\n"
    "table inet brig {\n"
    "  chain input {\n"
    "    type filter hook input priority -10; policy accept;\n"
    "    ip saddr 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset\n"
    "    ip saddr 10.60.0.0/16 counter reject with icmp port-unreachable\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority -10; policy accept;\n"
    "    ip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset\n"
    "    ip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 counter reject with icmp port-unreachable\n"
    "    ip daddr 10.60.0.0/16 ip saddr != 10.60.0.0/16 counter drop\n"
    "  }\n"
    "}\n";

constexpr const char* kWardenRuleset =
    "table inet brig_warden {}\n"
    "delete table inet brig_warden\n"
    "table inet brig_warden {\n"
    "  set host_tcp {\n"
    "    type ipv4_addr . inet_service\n"
    "  }\n"
    "  chain input {\n"
    "    type filter hook input priority -10; policy accept;\n"
    "    ct state established,related accept\n"
    "    ip saddr 10.60.0.0/16 tcp dport 3128 accept\n"
    "    ip saddr 10.60.0.0/16 tcp dport 53 accept\n"
    "    ip saddr 10.60.0.0/16 udp dport 53 accept\n"
    "    ip saddr 10.60.0.0/16 tcp dport 80 accept\n"
    "    ip saddr 10.60.0.0/16 tcp dport 443 accept\n"
    "    ip saddr . tcp dport @host_tcp accept\n"
    "    ip saddr 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset\n"
    "    ip saddr 10.60.0.0/16 counter reject with icmp port-unreachable\n"
    "  }\n"
    "}\n";

// `nft list table ...` on a live system, counters running (nftables 1.0.6
// prints an inet chain's priority -10 as "filter - 10", and a reject after
// an IPv4 match with its ICMP type).
constexpr const char* kLiveBridge =
    "table bridge brig {\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority -10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 meta l4proto tcp accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 meta l4proto udp accept\n"
    "\t\tip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto tcp accept\n"
    "\t\tip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 udp sport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto icmp accept\n"
    "\t\tip saddr 10.60.0.0/16 counter packets 3 bytes 180 drop\n"
    "\t\tip daddr 10.60.0.0/16 counter packets 6 bytes 360 drop\n"
    "\t}\n"
    "}\n";

constexpr const char* kLiveInet =
    "table inet brig {\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter - 10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 3 bytes 180 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 counter packets 6 bytes 360 reject with icmp port-unreachable\n"
    "\t}\n"
    "\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 meta l4proto tcp counter packets 9 bytes 540 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 counter packets 12 bytes 720 reject with icmp port-unreachable\n"
    "\t\tip daddr 10.60.0.0/16 ip saddr != 10.60.0.0/16 counter packets 15 bytes 900 drop\n"
    "\t}\n"
    "}\n";

// Inside warden's network namespace.
constexpr const char* kLiveWarden =
    "table inet brig_warden {\n"
    "\tset host_tcp {\n"
    "\t\ttype ipv4_addr . inet_service\n"
    "\t\telements = { 10.60.3.10 . 5432,\n"
    "\t\t\t     10.60.4.10 . 6379 }\n"
    "\t}\n"
    "\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter - 10; policy accept;\n"
    "\t\tct state established,related accept\n"
    "\t\tip saddr 10.60.0.0/16 tcp dport 3128 accept\n"
    "\t\tip saddr 10.60.0.0/16 tcp dport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 udp dport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 tcp dport 80 accept\n"
    "\t\tip saddr 10.60.0.0/16 tcp dport 443 accept\n"
    "\t\tip saddr . tcp dport @host_tcp accept\n"
    "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 1 bytes 60 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 counter packets 3 bytes 180 reject with icmp port-unreachable\n"
    "\t}\n"
    "}\n";

std::string without_line(std::string text, const std::string& line) {
  auto at = text.find(line);
  EXPECT_NE(at, std::string::npos) << line;
  if (at != std::string::npos) text.erase(at, line.size());
  return text;
}

TEST(Nft, RulesetGolden) { EXPECT_EQ(nft::ruleset(), kRuleset); }
TEST(Nft, WardenRulesetGolden) { EXPECT_EQ(nft::warden_ruleset({}), kWardenRuleset); }

// The cells' tcp host services: elements of host_tcp, written with the table
// and replaced on their own (flush and add in one transaction).
TEST(Nft, HostTcpGrants) {
  const std::vector<nft::TcpGrant> grants = {{"10.60.3.10", 5432}, {"10.60.4.10", 6379}};
  const std::string with = nft::warden_ruleset(grants);
  EXPECT_NE(with.find("  set host_tcp {\n    type ipv4_addr . inet_service\n"
                      "    elements = { 10.60.3.10 . 5432, 10.60.4.10 . 6379 }\n  }\n"),
            std::string::npos)
      << with;
  EXPECT_EQ(nft::host_tcp_update(grants), "flush set inet brig_warden host_tcp\n"
                                          "add element inet brig_warden host_tcp { 10.60.3.10 . 5432, 10.60.4.10 . 6379 }\n");
  EXPECT_EQ(nft::host_tcp_update({}), "flush set inet brig_warden host_tcp\n");  // "add element ... {}" is a syntax error

  FakeRunner fake;
  fake.on({"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "-f", "-"}, canned(0));
  ASSERT_TRUE(nft::set_host_tcp(fake, 4242, grants));
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0].stdin_data, nft::host_tcp_update(grants));

  // nft 1.0.6's JSON listing, with elements and without.
  auto live = nft::parse_host_tcp_json(
      R"({"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet", "name": "host_tcp", "table": "brig_warden",)"
      R"( "type": ["ipv4_addr", "inet_service"], "handle": 2, "elem": [{"concat": ["10.60.4.10", 6379]}, {"concat": ["10.60.3.10", 5432]}]}}]})");
  ASSERT_TRUE(live.ok()) << live.error().message();
  EXPECT_EQ(*live, grants);  // sorted
  auto none = nft::parse_host_tcp_json(R"({"nftables": [{"metainfo": {}}, {"set": {"name": "host_tcp"}}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(nft::parse_host_tcp_json("nope").ok());
}

TEST(Nft, WardenTableIsInstalledAndCheckedInsideItsNamespace) {
  FakeRunner fake;
  fake.on({"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "-f", "-"}, canned(0));
  ASSERT_TRUE(nft::install_in_warden(fake, 4242, {}));
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0].stdin_data, kWardenRuleset);
  fake.on({"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "list", "table", "inet", "brig_warden"},
          canned(0, kLiveWarden));
  auto intact = nft::check_in_warden(fake, 4242);
  ASSERT_TRUE(intact.ok()) << intact.error().message();
  EXPECT_THAT(*intact, ::testing::IsEmpty());
  // A cell admitted to one more port is a problem.
  std::string wider = kLiveWarden;
  const std::string at = "\t\tip saddr 10.60.0.0/16 tcp dport 443 accept\n";
  wider.insert(wider.find(at) + at.size(), "\t\tip saddr 10.60.0.0/16 tcp dport 22 accept\n");
  fake.on({"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "list", "table", "inet", "brig_warden"}, canned(0, wider));
  auto extra = nft::check_in_warden(fake, 4242);
  ASSERT_TRUE(extra.ok());
  EXPECT_THAT(*extra, ::testing::Contains("inet brig_warden input: unexpected rule: ip saddr 10.60.0.0/16 tcp dport 22 accept"));
}

TEST(Nft, InstallSendsRulesetOnStdin) {
  FakeRunner fake;
  ASSERT_TRUE(nft::install(fake).ok());
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_THAT(fake.calls[0].argv, ElementsAre("nft", "-f", "-"));
  EXPECT_EQ(fake.calls[0].stdin_data, kRuleset);
  EXPECT_GT(fake.calls[0].timeout.count(), 0);
}

TEST(Nft, InstallFailureHasReasonAndFix) {
  FakeRunner fake;
  fake.on({"nft"}, canned(1, "", "Error: Could not process rule: Operation not permitted\n"));
  auto st = nft::install(fake);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::failed);
  EXPECT_EQ(st.error().message(),
            "installing brig's nftables tables failed: Error: Could not process rule: Operation not permitted");
  EXPECT_EQ(st.error().fix(), "check that nftables works here: nft list ruleset");
}

TEST(Nft, InstallRunnerErrorIsPassedOn) {
  FakeRunner fake;
  fake.fail({"nft"}, Error(Errc::not_found, "nft: not found"));
  auto st = nft::install(fake);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
  EXPECT_EQ(st.error().message(), "nft: nft: not found");
}

TEST(Nft, RemoveDeletesBothTables) {
  FakeRunner fake;
  ASSERT_TRUE(nft::remove(fake).ok());
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_THAT(fake.calls[0].argv, ElementsAre("nft", "delete", "table", "bridge", "brig"));
  EXPECT_THAT(fake.calls[1].argv, ElementsAre("nft", "delete", "table", "inet", "brig"));
}

TEST(Nft, RemoveToleratesAbsentTables) {
  FakeRunner fake;
  fake.on({"nft", "delete"}, canned(1, "", "Error: Could not process rule: No such file or directory\n"));
  EXPECT_TRUE(nft::remove(fake).ok());
  EXPECT_EQ(fake.calls.size(), 2u);
}

TEST(Nft, RemoveReportsOtherFailures) {
  FakeRunner fake;
  fake.on({"nft", "delete", "table", "inet"}, canned(1, "", "Error: Operation not permitted\n"));
  auto st = nft::remove(fake);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "removing nftables table inet brig: Error: Operation not permitted");
}

FakeRunner live(const std::string& bridge, const std::string& inet) {
  FakeRunner fake;
  fake.on({"nft", "list", "table", "bridge", "brig"}, canned(0, bridge));
  fake.on({"nft", "list", "table", "inet", "brig"}, canned(0, inet));
  return fake;
}

TEST(Nft, CheckIntactIgnoresCounterValues) {
  FakeRunner fake = live(kLiveBridge, kLiveInet);
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok()) << missing.error().message();
  EXPECT_THAT(*missing, ::testing::IsEmpty());
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_THAT(fake.calls[0].argv, ElementsAre("nft", "list", "table", "bridge", "brig"));
  EXPECT_THAT(fake.calls[1].argv, ElementsAre("nft", "list", "table", "inet", "brig"));
}

TEST(Nft, CheckNamesAMissingRule) {
  FakeRunner fake =
      live(kLiveBridge, without_line(kLiveInet, "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 3 bytes 180 reject with tcp reset\n"));
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("inet brig input: rule missing: ip saddr 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset"));
}

TEST(Nft, CheckNamesAMissingBridgeAcceptRule) {
  FakeRunner fake = live(
      without_line(kLiveBridge, "\t\tip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 meta l4proto tcp accept\n"),
      kLiveInet);
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("bridge brig forward: rule missing: ip saddr 10.60.0.0/16 ip daddr 10.60.0.0/16 ip daddr & "
                                    "0.0.0.255 == 0.0.0.2 meta l4proto tcp accept"));
}

TEST(Nft, CheckReportsAMissingTable) {
  FakeRunner fake = live(kLiveBridge, kLiveInet);
  fake.on({"nft", "list", "table", "bridge", "brig"},
          canned(1, "", "Error: No such file or directory\nlist table bridge brig\n"));
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("table bridge brig is missing"));
}

// The header promises "the rules that are missing or changed": a rule
// inserted ahead of the drops (here: accept everything from the pool) defeats
// the isolation and must not pass as intact.
TEST(Nft, CheckReportsAnAddedRule) {
  std::string bridge = kLiveBridge;
  const std::string hook = "\t\ttype filter hook forward priority -10; policy accept;\n";
  bridge.insert(bridge.find(hook) + hook.size(), "\t\tip saddr 10.60.0.0/16 accept\n");
  FakeRunner fake = live(bridge, kLiveInet);
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ::testing::Not(::testing::IsEmpty()))
      << "an extra accept rule in bridge brig forward went unnoticed";
}

}  // namespace
}  // namespace brig::engine
