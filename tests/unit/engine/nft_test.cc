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
    "  chain prerouting {\n"
    "    type filter hook prerouting priority -10; policy accept;\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 3128 accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 53 accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 udp dport 53 accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 80 accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 443 accept\n"
    "    ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp flags != syn / syn,ack accept\n"
    "    ip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto tcp accept\n"
    "    ip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 udp sport 53 accept\n"
    "    ip saddr 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset\n"
    "    ip saddr 10.60.0.0/16 counter reject with icmp port-unreachable\n"
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

// `nft list table bridge brig` on a live system, counters running (nftables
// 1.0.6 prints a reject after an IPv4 match in the bridge and inet families
// with its ICMP type, and keeps the explicit `meta l4proto tcp`).
constexpr const char* kLiveBridge =
    "table bridge brig {\n"
    "\tchain prerouting {\n"
    "\t\ttype filter hook prerouting priority -10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 3128 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 udp dport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 80 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 443 accept\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp flags != syn / syn,ack accept\n"
    "\t\tip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 meta l4proto tcp accept\n"
    "\t\tip saddr 10.60.0.0/16 ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr 10.60.0.0/16 udp sport 53 accept\n"
    "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 12 bytes 3400 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 counter packets 3 bytes 180 reject with icmp port-unreachable\n"
    "\t\tip daddr 10.60.0.0/16 counter packets 0 bytes 0 drop\n"
    "\t}\n"
    "}\n";

constexpr const char* kLiveInet =
    "table inet brig {\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter - 10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 7 bytes 420 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 counter packets 0 bytes 0 reject with icmp port-unreachable\n"
    "\t}\n"
    "\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 meta l4proto tcp counter packets 12 bytes 3400 reject with tcp reset\n"
    "\t\tip saddr 10.60.0.0/16 ip daddr != 10.60.0.0/16 counter packets 1 bytes 84 reject with icmp port-unreachable\n"
    "\t\tip daddr 10.60.0.0/16 ip saddr != 10.60.0.0/16 counter packets 0 bytes 0 drop\n"
    "\t}\n"
    "}\n";

std::string without_line(std::string text, const std::string& line) {
  auto at = text.find(line);
  EXPECT_NE(at, std::string::npos) << line;
  if (at != std::string::npos) text.erase(at, line.size());
  return text;
}

TEST(Nft, RulesetGolden) { EXPECT_EQ(nft::ruleset(), kRuleset); }

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
      live(kLiveBridge, without_line(kLiveInet, "\t\tip saddr 10.60.0.0/16 meta l4proto tcp counter packets 7 bytes 420 reject with tcp reset\n"));
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("inet brig input: rule missing: ip saddr 10.60.0.0/16 meta l4proto tcp counter reject with tcp reset"));
}

TEST(Nft, CheckNamesAMissingBridgeAcceptRule) {
  FakeRunner fake = live(
      without_line(kLiveBridge, "\t\tip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport 3128 accept\n"),
      kLiveInet);
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("bridge brig prerouting: rule missing: ip saddr 10.60.0.0/16 ip daddr & 0.0.0.255 == "
                                    "0.0.0.2 tcp dport 3128 accept"));
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
  const std::string hook = "\t\ttype filter hook prerouting priority -10; policy accept;\n";
  bridge.insert(bridge.find(hook) + hook.size(), "\t\tip saddr 10.60.0.0/16 accept\n");
  FakeRunner fake = live(bridge, kLiveInet);
  auto missing = nft::check(fake);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ::testing::Not(::testing::IsEmpty()))
      << "an extra accept rule in bridge brig prerouting went unnoticed";
}

}  // namespace
}  // namespace brig::engine
