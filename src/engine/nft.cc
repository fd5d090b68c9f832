#include "brig/engine/nft.h"

#include <algorithm>

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
  const std::string port = std::to_string(kProxyPort);
  return {
      {"bridge brig", "forward", "forward",
       {"ip saddr " + pool + " ip daddr & 0.0.0.255 == 0.0.0.2 tcp dport " + port + " accept",
        "ip daddr " + pool + " ip saddr & 0.0.0.255 == 0.0.0.2 tcp sport " + port + " accept",
        "ip saddr " + pool + " counter drop", "ip daddr " + pool + " counter drop"}},
      {"inet brig", "input", "input", {"ip saddr " + pool + " counter drop"}},
      {"inet brig", "forward", "forward",
       {"ip saddr " + pool + " ip daddr != " + pool + " counter drop",
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

Result<std::vector<std::string>> check(proc::Runner& runner) {
  std::vector<std::string> missing;
  for (const char* table : {"bridge brig", "inet brig"}) {
    auto parts = str::split(table, ' ');
    proc::Command cmd{{"nft", "list", "table", parts[0], parts[1]}, std::nullopt, "", "", std::chrono::seconds(20)};
    auto out = runner.run(cmd);
    if (!out) return out.error().context("nft");
    if (!out->success()) {
      missing.push_back(std::string("table ") + table + " is missing");
      continue;
    }
    // Counters change; compare each rule with its counter values removed.
    std::vector<std::string> live;
    for (auto line : str::split(out->out, '\n')) {
      std::string l(str::trim(line));
      auto c = l.find("counter packets");
      if (c != std::string::npos) {
        auto d = l.find(" drop", c);
        auto a = l.find(" accept", c);
        auto end = d != std::string::npos ? d : a;
        if (end != std::string::npos) l = l.substr(0, c) + "counter" + l.substr(end);
      }
      live.push_back(l);
    }
    for (const auto& c : chains()) {
      if (std::string(c.table) != table) continue;
      for (const auto& r : c.rules) {
        if (std::find(live.begin(), live.end(), r) == live.end()) {
          missing.push_back(std::string(table) + " " + c.name + ": rule missing: " + r);
        }
      }
    }
  }
  return missing;
}

}  // namespace brig::engine::nft
