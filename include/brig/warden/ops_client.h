// Talking to a running warden from the CLI: where it listens, and blocking
// GETs against its ops endpoint. No Asio in this header.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/state/warden_runtime.h"

namespace brig::warden {

// Where a running warden listens ($BRIG_HOME/run/warden.json; its format,
// and its writers, in brig/state/warden_runtime.h).
using RuntimeInfo = state::WardenRuntime;
// Errc::not_found when warden is not running (no file, or its pid is gone).
Result<RuntimeInfo> read_runtime_info(const Paths& paths);

struct HttpReply {
  int status = 0;
  std::string body;
};
// GET http://<addr><path> with a deadline.
Result<HttpReply> http_get(const std::string& addr, const std::string& path,
                           std::chrono::milliseconds timeout = std::chrono::seconds(3));

// Per-cell figures from /metrics text; the percentiles interpolated within
// their histogram bucket.
struct CellStats {
  double requests = 0, denied = 0, ratelimited = 0, errors = 0;
  double ingress = 0;  // ingress requests to the cell (not in `requests`, which are the cell's own)
  double bytes_in = 0, bytes_out = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};
std::map<std::string, CellStats> parse_metrics(const std::string& text);

}  // namespace brig::warden
