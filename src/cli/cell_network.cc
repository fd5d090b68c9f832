// brig cell network CELL [--blocked] [-f]: warden's log lines for one cell,
// tagged OUT:, BLOCKED:, PASSTHROUGH:, INGRESS:, HOST: (a host service),
// POLICY: (a grant lapsed); names refused by warden's resolver are
// `BLOCKED: dns NAME`.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/engine.h"
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
  // A policy event (a time-boxed grant lapsing): what changed.
  if (kind == "policy") return s("ts") + " POLICY: " + s("rule") + " (" + s("reason") + ")";
  // Ingress (requests from outside to the cell) keeps its tag when refused.
  const std::string service = s("host_service");
  std::string tag = kind == "ingress"           ? "INGRESS:"
                    : blocked                   ? "BLOCKED:"
                    : !service.empty()          ? "HOST:"
                    : tls == "passthrough"      ? "PASSTHROUGH:"
                                                : "OUT:";
  // A name the cell asked warden's resolver for.
  if (kind == "dns") {
    std::string line = s("ts") + " " + tag + " dns " + s("host");
    if (blocked && !s("reason").empty()) line += " (" + s("reason") + ")";
    return line;
  }
  std::string target = s("host");
  if (n("port") > 0) target += ":" + std::to_string(static_cast<long>(n("port")));
  char tail[160];
  std::string line = s("ts") + " " + tag + " ";
  if (kind == "ingress") {
    // A request from outside to the cell: who asked, for what, on which route.
    auto or_dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
    std::snprintf(tail, sizeof tail, " %d in=%.0f out=%.0f %.1fms", static_cast<int>(n("status")), n("bytes_in"),
                  n("bytes_out"), n("duration_ms"));
    line += or_dash(s("client")) + " -> " + or_dash(s("method")) + " " + s("path") + " (route=" + or_dash(s("route")) + ")" + tail;
    if (blocked && !s("reason").empty()) line += " (" + s("reason") + ")";
    return line;
  }
  // A connection to a tcp host service: which, and how much went each way.
  if (kind == "tcp") {
    std::snprintf(tail, sizeof tail, " in=%.0f out=%.0f %.1fms", n("bytes_in"), n("bytes_out"), n("duration_ms"));
    line += "tcp " + (service.empty() ? std::string("-") : service) + " (" + target + ")" + tail;
    if (!s("reason").empty()) line += " (" + s("reason") + ")";
    return line;
  }
  // Taken on warden's :80/:443 from a client that ignores the proxy variables.
  const std::string how = j.contains("transparent") && j["transparent"] == true ? " (transparent)" : "";
  if (tls == "passthrough") {
    std::snprintf(tail, sizeof tail, " sni=%s in=%.0f out=%.0f", s("host").c_str(), n("bytes_in"), n("bytes_out"));
    line += target + tail;
    if (!s("reason").empty()) line += " (" + s("reason") + ")";  // e.g. cut by a policy change
    return line + how;
  }
  line += (s("method").empty() ? std::string("-") : s("method")) + " " + target + s("path");
  std::snprintf(tail, sizeof tail, " %d %.1fms", static_cast<int>(n("status")), n("duration_ms"));
  line += tail;
  if (blocked) line += " (" + s("reason") + ")";
  return line + how;
}

// Prints the records of `in` that --blocked keeps: text lines, or, with
// `json`, into `arr` (or one JSON object per line when `arr` is null, to
// follow); returns how many.
std::size_t print_lines(std::istream& in, bool blocked_only, bool json, nlohmann::json* arr) {
  std::string raw;
  std::size_t n = 0;
  while (std::getline(in, raw)) {
    try {
      auto j = nlohmann::json::parse(raw);
      auto out = format_record(j, blocked_only);
      if (out.empty()) continue;
      ++n;
      if (!json) {
        std::printf("%s\n", out.c_str());
      } else if (arr) {
        arr->push_back(std::move(j));
      } else {
        std::printf("%s\n", j.dump().c_str());
      }
    } catch (const std::exception&) {
      // A line being written right now, or a damaged one: skip it.
    }
  }
  std::fflush(stdout);
  return n;
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
    const auto files = state::log_files_oldest_first(path);
    if (std::none_of(files.begin(), files.end(), [](const std::string& f) { return fs::exists(f); })) {
      // No log yet: a quiet cell, or no such cell (logs outlive their cell
      // until prune, so only a missing log asks the cell's record).
      proc::PosixRunner unused;  // reading a record runs nothing
      auto rec = engine::Engine(unused, ctx.paths).load_record(cell);
      if (!rec && rec.error().code() == Errc::not_found) return rec.error();
    }
    const bool json = ctx.json();
    nlohmann::json arr = nlohmann::json::array();
    nlohmann::json* into = json && !follow ? &arr : nullptr;
    std::size_t shown = 0;
    // Oldest rotated file first; the current file last, kept open to follow.
    for (const auto& f : files) {
      if (f == path) break;
      std::ifstream old(f);
      if (old) shown += print_lines(old, blocked, json, into);
    }
    std::ifstream in(path);
    if (in) shown += print_lines(in, blocked, json, into);
    if (!follow) {
      if (json) {
        std::printf("%s\n", arr.dump(2).c_str());
      } else if (shown == 0 && !ctx.quiet) {
        std::fprintf(stderr, "%s yet (follow them with: brig cell network -f %s)\n",
                     blocked ? "no blocked requests" : "no requests", cell.c_str());
      }
      return 0;
    }
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (!in.is_open()) in.open(path);
      in.clear();
      print_lines(in, blocked, json, nullptr);
    }
  });
}

}  // namespace brig::cli
