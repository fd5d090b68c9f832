#include "brig/engine/nft.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

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

// One place's tables: the host's, or those inside warden's network namespace.
struct Tables {
  std::vector<const char*> names;
  std::vector<Chain> chains;
  std::string sets;  // declarations inside the (single) table, before its chains
};

constexpr const char* kWardenTable = "inet brig_warden";

// The elements of host_tcp, "{ a . p, ... }", or "" when there are none.
std::string elements(const std::vector<TcpGrant>& grants) {
  std::string out;
  for (const auto& g : grants) out += (out.empty() ? "{ " : ", ") + g.address + " . " + std::to_string(g.port);
  return out.empty() ? out : out + " }";
}

std::string port(int p) { return std::to_string(p); }

// Refused at once (a TCP reset, else ICMP port unreachable), so a client
// that tries another way out fails fast instead of hanging on a drop.
std::vector<std::string> refuse(const std::string& match) {
  return {match + " meta l4proto tcp counter reject with tcp reset",
          match + " counter reject with icmp port-unreachable"};
}

Tables host_tables() {
  const std::string pool = kCellPool;
  // Warden's address on some cell network (.2 inside the pool; never its
  // brig-ext address, where ops and ingress listen).
  const std::string to_warden = "ip saddr " + pool + " ip daddr " + pool + " ip daddr & 0.0.0.255 == 0.0.0.2 ";
  const std::string from_warden = "ip saddr " + pool + " ip saddr & 0.0.0.255 == 0.0.0.2 ip daddr " + pool + " ";
  std::vector<Chain> chains = {
      // Switched frames between a cell and warden (never seen by the inet
      // hooks without br_netfilter). This kernel has no reject in the bridge
      // family, so a cell's TCP and UDP to warden pass here and warden's own
      // table (warden_tables) admits its cell ports and refuses the rest at
      // once. Warden's TCP (ingress, answers), DNS answers and ICMP errors
      // (those refusals) reach the cell. Everything else is dropped.
      {"bridge brig", "forward", "forward",
       {to_warden + "meta l4proto tcp accept", to_warden + "meta l4proto udp accept",
        from_warden + "meta l4proto tcp accept", from_warden + "udp sport " + port(kDnsPort) + " accept",
        from_warden + "meta l4proto icmp accept", "ip saddr " + pool + " counter drop",
        "ip daddr " + pool + " counter drop"}},
      // The host itself (the bridge gateway answers otherwise).
      {"inet brig", "input", "input", refuse("ip saddr " + pool)},
  };
  // Routed out of the pool: refused; into it: dropped.
  auto forward = refuse("ip saddr " + pool + " ip daddr != " + pool);
  forward.push_back("ip daddr " + pool + " ip saddr != " + pool + " counter drop");
  chains.push_back({"inet brig", "forward", "forward", std::move(forward)});
  return {{"bridge brig", "inet brig"}, std::move(chains), ""};
}

Tables warden_tables(const std::vector<TcpGrant>& grants) {
  const std::string from_cell = "ip saddr " + std::string(kCellPool);
  std::vector<std::string> input = {
      // Answers to warden's own connections into cells (ingress), and their errors.
      "ct state established,related accept",
      from_cell + " tcp dport " + port(kProxyPort) + " accept",
      from_cell + " tcp dport " + port(kDnsPort) + " accept",
      from_cell + " udp dport " + port(kDnsPort) + " accept",
      from_cell + " tcp dport " + port(kHttpPort) + " accept",
      from_cell + " tcp dport " + port(kHttpsPort) + " accept",
      // Each cell to the listeners of its own tcp host services only.
      "ip saddr . tcp dport @host_tcp accept"};
  for (auto& r : refuse(from_cell)) input.push_back(std::move(r));
  std::string sets = "  set host_tcp {\n    type ipv4_addr . inet_service\n";
  if (!grants.empty()) sets += "    elements = " + elements(grants) + "\n";
  sets += "  }\n";
  return {{kWardenTable}, {{kWardenTable, "input", "input", input}}, sets};
}

std::string render(const Tables& t) {
  std::string out;
  for (const char* table : t.names) {
    // Declaring then deleting makes the replacement idempotent and atomic.
    out += std::string("table ") + table + " {}\ndelete table " + table + "\ntable " + table + " {\n" + t.sets;
    for (const auto& c : t.chains) {
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

// nft inside warden's network namespace (the host's nft binary, warden's tables).
std::vector<std::string> in_warden(long pid, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"nsenter", "--net=/proc/" + std::to_string(pid) + "/ns/net", "--"});
  return argv;
}

Status apply(proc::Runner& runner, std::vector<std::string> argv, const std::string& rules, const std::string& what) {
  proc::Command cmd{std::move(argv), std::nullopt, "", rules, std::chrono::seconds(20)};
  auto out = runner.run(cmd);
  if (!out) return out.error().context("nft");
  if (!out->success()) {
    return Error(Errc::failed, "installing " + what + " failed: " + std::string(str::trim(out->err)),
                 "check that nftables works here: nft list ruleset");
  }
  return {};
}

}  // namespace

std::string ruleset() { return render(host_tables()); }
std::string warden_ruleset(const std::vector<TcpGrant>& grants) { return render(warden_tables(grants)); }

std::string host_tcp_update(const std::vector<TcpGrant>& grants) {
  std::string out = std::string("flush set ") + kWardenTable + " host_tcp\n";
  if (!grants.empty()) out += std::string("add element ") + kWardenTable + " host_tcp " + elements(grants) + "\n";
  return out;
}

Status install(proc::Runner& runner) { return apply(runner, {"nft", "-f", "-"}, ruleset(), "brig's nftables tables"); }

Status install_in_warden(proc::Runner& runner, long warden_pid, const std::vector<TcpGrant>& grants) {
  return apply(runner, in_warden(warden_pid, {"nft", "-f", "-"}), warden_ruleset(grants), "warden's nftables table");
}

Status set_host_tcp(proc::Runner& runner, long warden_pid, const std::vector<TcpGrant>& grants) {
  return apply(runner, in_warden(warden_pid, {"nft", "-f", "-"}), host_tcp_update(grants),
               "the tcp host services of warden's nftables table");
}

Result<std::vector<TcpGrant>> parse_host_tcp_json(const std::string& text) {
  std::vector<TcpGrant> out;
  try {
    const auto j = nlohmann::json::parse(text);
    for (const auto& item : j.at("nftables")) {
      if (!item.contains("set")) continue;
      for (const auto& e : item["set"].value("elem", nlohmann::json::array())) {
        const auto& c = e.at("concat");
        out.push_back({c.at(0).get<std::string>(), c.at(1).get<int>()});
      }
    }
  } catch (const std::exception& e) {
    return Error(Errc::invalid, std::string("nft's listing of host_tcp is unreadable: ") + e.what());
  }
  std::sort(out.begin(), out.end(), [](const TcpGrant& a, const TcpGrant& b) {
    return std::tie(a.address, a.port) < std::tie(b.address, b.port);
  });
  return out;
}

Result<std::vector<TcpGrant>> live_host_tcp(proc::Runner& runner, long warden_pid) {
  proc::Command cmd{in_warden(warden_pid, {"nft", "-j", "list", "set", "inet", "brig_warden", "host_tcp"}), std::nullopt,
                    "", "", std::chrono::seconds(20)};
  auto out = runner.run(cmd);
  if (!out) return out.error().context("nft");
  if (!out->success()) return Error(Errc::failed, "listing warden's host_tcp: " + std::string(str::trim(out->err)));
  return parse_host_tcp_json(out->out);
}

Status remove(proc::Runner& runner) {
  for (const char* table : host_tables().names) {
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


// The rules of `t` that are missing or changed on the live system (inside
// warden's network namespace when `warden_pid` is set).
Result<std::vector<std::string>> compare(proc::Runner& runner, const Tables& t, long warden_pid) {
  std::vector<std::string> problems;
  for (const char* table : t.names) {
    auto parts = str::split(table, ' ');
    std::vector<std::string> argv = {"nft", "list", "table", parts[0], parts[1]};
    if (warden_pid) argv = in_warden(warden_pid, std::move(argv));
    proc::Command cmd{argv, std::nullopt, "", "", std::chrono::seconds(20)};
    auto out = runner.run(cmd);
    if (!out) return out.error().context("nft");
    if (!out->success()) {
      problems.push_back(std::string("table ") + table + " is missing");
      continue;
    }
    auto live = parse_listing(out->out);
    std::vector<std::string> expected_chains;
    for (const auto& c : t.chains) {
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

}  // namespace

Result<std::vector<std::string>> check(proc::Runner& runner) { return compare(runner, host_tables(), 0); }

Result<std::vector<std::string>> check_in_warden(proc::Runner& runner, long warden_pid) {
  return compare(runner, warden_tables({}), warden_pid);
}

}  // namespace brig::engine::nft
