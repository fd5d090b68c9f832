// brig cell network CELL [--blocked] [-f]: warden's log lines for one cell,
// tagged OUT:, BLOCKED:, PASSTHROUGH:, INGRESS:.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/spec/validate.h"
#include "brig/state/cell_logs.h"
#include "context.h"

namespace brig::cli {
namespace {

// One line for a record, or "" when --blocked hides it.
std::string format_record(const nlohmann::json& j, bool blocked_only) {
  auto s = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  auto n = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0; };
  const std::string decision = s("decision"), kind = s("kind"), tls = s("tls");
  const bool blocked = decision == "deny" || decision == "ratelimit";
  if (blocked_only && !blocked) return "";
  std::string tag = blocked ? "BLOCKED:" : kind == "ingress" ? "INGRESS:" : tls == "passthrough" ? "PASSTHROUGH:" : "OUT:";
  std::string target = s("host");
  if (n("port") > 0) target += ":" + std::to_string(static_cast<long>(n("port")));
  char tail[160];
  std::string line = s("ts") + " " + tag + " ";
  if (tls == "passthrough") {
    std::snprintf(tail, sizeof tail, " sni=%s in=%.0f out=%.0f", s("host").c_str(), n("bytes_in"), n("bytes_out"));
    return line + target + tail;
  }
  line += (s("method").empty() ? std::string("-") : s("method")) + " " + target + s("path");
  std::snprintf(tail, sizeof tail, " %d %.1fms", static_cast<int>(n("status")), n("duration_ms"));
  line += tail;
  if (blocked) line += " (" + s("reason") + ")";
  return line;
}

void print_lines(std::istream& in, bool blocked_only) {
  std::string raw;
  while (std::getline(in, raw)) {
    try {
      auto out = format_record(nlohmann::json::parse(raw), blocked_only);
      if (!out.empty()) std::printf("%s\n", out.c_str());
    } catch (const std::exception&) {
      // A line being written right now, or a damaged one: skip it.
    }
  }
  std::fflush(stdout);
}

}  // namespace

void add_cell_network(CLI::App* noun, Context& ctx) {
  static std::string cell;
  static bool blocked = false, follow = false;
  auto* v = noun->add_subcommand("network", "what a cell reached (OUT:) and what was refused (BLOCKED:)");
  v->add_option("CELL", cell, "cell name")->required();
  v->add_flag("--blocked", blocked, "only refused requests");
  v->add_flag("-f,--follow", follow, "keep printing new lines");
  on_run(v, ctx, [&ctx]() -> Result<int> {
    if (!spec::valid_cell_name(cell)) return Error(Errc::usage, "invalid cell name " + str::quote(cell));
    const std::string path = ctx.paths.cell_log(cell);
    // Oldest rotated file first; the current file last, kept open to follow.
    for (const auto& f : state::log_files_oldest_first(path)) {
      if (f == path) break;
      std::ifstream old(f);
      if (old) print_lines(old, blocked);
    }
    std::ifstream in(path);
    if (!in && !follow) {
      return Error(Errc::not_found, "no network log for cell " + str::quote(cell) + " (" + path + ")",
                   "the cell has made no requests yet, or the name is wrong: brig cell list");
    }
    print_lines(in, blocked);
    while (follow) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (!in.is_open()) in.open(path);
      in.clear();
      print_lines(in, blocked);
    }
    return 0;
  });
}

}  // namespace brig::cli
