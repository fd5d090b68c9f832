#include "brig/engine/nft.h"

#include <algorithm>
#include <map>

#include "brig/core/strings.h"
#include "brig/engine/podman.h"

namespace brig::engine::nft {
namespace {

// The rules of each chain, one per line, exactly as `nft list table` prints them.
struct Chain {
  const char* table;  // "inet brig"
  const char* name;
  const char* hook;
  std::vector<std::string> rules;
};

std::vector<Chain> chains() {
  const std::string pool = kCellPool;
  const std::string to_warden = "ip saddr " + pool + " ip daddr & 0.0.0.255 == 0.0.0.2 ";
  const std::string from_warden = "ip saddr " + pool + " ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr " + pool + " ";
  auto port = [](int p) { return std::to_string(p); };
  // Refused at once (a TCP reset, else ICMP port unreachable), so a client
  // that tries another way out fails fast instead of hanging on a drop.
  const std::vector<std::string> refuse = {"ip saddr " + pool + " meta l4proto tcp counter reject with tcp reset",
                                           "ip saddr " + pool + " counter reject with icmp port-unreachable"};
  std::vector<std::string> bridge = {
      // A cell opens connections to warden only: the proxy, the resolver and
      // the transparent HTTP and HTTPS ports. Warden (.2) opens them to the
      // cell's declared ingress ports, and the cell answers (no bridge
      // conntrack here: a TCP segment from a cell to warden that is not a bare
      // SYN is an answer or a closed port's RST); warden answers DNS.
      to_warden + "tcp dport " + port(kProxyPort) + " accept",
      to_warden + "tcp dport " + port(kDnsPort) + " accept",
      to_warden + "udp dport " + port(kDnsPort) + " accept",
      to_warden + "tcp dport " + port(kHttpPort) + " accept",
      to_warden + "tcp dport " + port(kHttpsPort) + " accept",
      to_warden + "tcp flags != syn / syn,ack accept",
      from_warden + "meta l4proto tcp accept",
      from_warden + "udp sport " + port(kDnsPort) + " accept"};
  bridge.insert(bridge.end(), refuse.begin(), refuse.end());
  bridge.push_back("ip daddr " + pool + " counter drop");
  const std::string out_of_pool = "ip saddr " + pool + " ip daddr != " + pool;
  return {
      // prerouting, not forward: the kernel allows reject in a bridge chain
      // only at prerouting and input.
      {"bridge brig", "prerouting", "prerouting", bridge},
      {"inet brig", "input", "input", refuse},
      {"inet brig", "forward", "forward",
       {out_of_pool + " meta l4proto tcp counter reject with tcp reset",
        out_of_pool + " counter reject with icmp port-unreachable",
        "ip daddr " + pool + " ip saddr != " + pool + " counter drop"}},
  };
}

}  // namespace

std::string ruleset() {
  std::string out;
  for (const char* table : {"bridge brig", "inet brig"}) {
    // Declaring then deleting makes the replacement idempotent and atomic.
    out += std::string("table ") + table + " {}\ndelete table " + table + "\ntable " + table + " {\n";
    for (const auto& c : chains()) {
      if (std::string(c.table) != table) continue;
      out += std::string("  chain ") + c.name + " {\n    type filter hook " + c.hook +
             " priority -10; policy accept;\n";
      for (const auto& r : c.rules) out += "    " + r + "\n";
      out += "  }\n";
    }
    out += "}\n";
  }
  return out;
}

Status install(proc::Runner& runner) {
  proc::Command cmd{{"nft", "-f", "-"}, std::nullopt, "", ruleset(), std::chrono::seconds(20)};
  auto out = runner.run(cmd);
  if (!out) return out.error().context("nft");
  if (!out->success()) {
    return Error(Errc::failed, "installing brig's nftables tables failed: " + std::string(str::trim(out->err)),
                 "check that nftables works here: nft list ruleset");
  }
  return {};
}

Status remove(proc::Runner& runner) {
  for (const char* table : {"bridge brig", "inet brig"}) {
    auto parts = str::split(table, ' ');
    proc::Command cmd{{"nft", "delete", "table", parts[0], parts[1]}, std::nullopt, "", "", std::chrono::seconds(20)};
    auto out = runner.run(cmd);
    if (!out) return out.error().context("nft");
    if (!out->success() && out->err.find("No such file") == std::string::npos) {
      return Error(Errc::failed, "removing nftables table " + std::string(table) + ": " +
                                     std::string(str::trim(out->err)));
    }
  }
  return {};
}

namespace {

// A live `nft list table` as chain -> lines (header and rules, in order),
// counter values removed.
std::map<std::string, std::vector<std::string>> parse_listing(const std::string& text) {
  std::map<std::string, std::vector<std::string>> chains;
  std::string current;
  for (auto line : str::split(text, '\n')) {
    std::string l(str::trim(line));
    if (l.rfind("chain ", 0) == 0) {
      current = l.substr(6, l.find(' ', 6) - 6);
      chains[current];
      continue;
    }
    if (current.empty() || l.empty() || l == "}") continue;
    // nft prints priority -10 of an inet chain as "filter - 10" (filter = 0).
    if (auto p = l.find("priority filter - 10;"); p != std::string::npos) l.replace(p, 21, "priority -10;");
    // "counter packets N bytes M VERDICT" -> "counter VERDICT".
    if (auto c = l.find("counter packets "); c != std::string::npos) {
      if (auto b = l.find(" bytes ", c); b != std::string::npos) {
        auto end = l.find_first_not_of("0123456789", b + 7);
        if (end != std::string::npos && l[end] == ' ') l = l.substr(0, c) + "counter " + l.substr(end + 1);
      }
    }
    chains[current].push_back(l);
  }
  return chains;
}

}  // namespace

Result<std::vector<std::string>> check(proc::Runner& runner) {
  std::vector<std::string> problems;
  for (const char* table : {"bridge brig", "inet brig"}) {
    auto parts = str::split(table, ' ');
    proc::Command cmd{{"nft", "list", "table", parts[0], parts[1]}, std::nullopt, "", "", std::chrono::seconds(20)};
    auto out = runner.run(cmd);
    if (!out) return out.error().context("nft");
    if (!out->success()) {
      problems.push_back(std::string("table ") + table + " is missing");
      continue;
    }
    auto live = parse_listing(out->out);
    std::vector<std::string> expected_chains;
    for (const auto& c : chains()) {
      if (std::string(c.table) != table) continue;
      expected_chains.push_back(c.name);
      std::vector<std::string> want = {std::string("type filter hook ") + c.hook + " priority -10; policy accept;"};
      want.insert(want.end(), c.rules.begin(), c.rules.end());
      auto it = live.find(c.name);
      const std::string where = std::string(table) + " " + c.name;
      if (it == live.end()) {
        problems.push_back(where + ": chain missing");
        continue;
      }
      const auto& have = it->second;
      if (have == want) continue;
      // Name what differs: missing rules, then rules that should not be there.
      for (const auto& w : want) {
        if (std::find(have.begin(), have.end(), w) == have.end()) problems.push_back(where + ": rule missing: " + w);
      }
      for (const auto& h : have) {
        if (std::find(want.begin(), want.end(), h) == want.end()) problems.push_back(where + ": unexpected rule: " + h);
      }
      if (problems.empty() || problems.back().rfind(where, 0) != 0) problems.push_back(where + ": rules out of order");
    }
    for (const auto& [name, lines] : live) {
      if (std::find(expected_chains.begin(), expected_chains.end(), name) == expected_chains.end()) {
        problems.push_back(std::string(table) + ": unexpected chain " + name);
      }
    }
  }
  return problems;
}

}  // namespace brig::engine::nft
