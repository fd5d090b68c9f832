// One JSONL record per request or tunnel in logs/cells/<cell>.jsonl, written
// off the hot path by a background thread. Files rotate by size, keeping
// state::kCellLogRotations old files (<cell>.jsonl.1 .. .4; names and rotation
// in brig/state/cell_logs.h); an flock on a sidecar lock file makes rotation
// safe with other writers (a second warden, brig's own tools).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace brig::warden {

struct LogRecord {
  std::string cell;
  std::string_view kind = "http";  // http | connect | ingress | tcp | policy | dns (string literals)
  std::string_view tls = "none";   // none | mitm | passthrough | terminated (ingress)
  std::string_view decision;       // allow | deny | ratelimit | error | expire (kind policy)
  std::string_view code;           // a refusal's reason code (X-Brig-Blocked); omitted when empty
  std::uint64_t generation = 0;    // the policy generation that decided
  std::string method, host, path, rule, reason;
  std::string client, route;  // ingress only: the client's address and the route taken (omitted when empty)
  std::string host_service;   // the host service (<name>.host.brig) asked for (omitted when empty)
  int port = 0;
  int status = 0;
  bool transparent = false;  // came to warden's :80 or :443, not its proxy port (written only when true)
  std::uint64_t bytes_in = 0, bytes_out = 0;
  double duration_ms = 0;
};

class LogWriter {
 public:
  LogWriter(std::string dir, std::size_t max_bytes = 10u << 20, std::size_t max_queue = 100000);
  ~LogWriter();  // flushes what is queued

  void write(LogRecord rec);  // never blocks on I/O; drops (and counts) past max_queue
  void flush();               // waits until everything queued so far is on disk
  std::uint64_t dropped() const;

  // The JSON line for a record (without the newline), with an ISO-8601 "ts".
  static std::string format(const LogRecord& rec);
  static void format_into(std::string& out, const LogRecord& rec);  // appends

 private:
  void run();
  void append(const std::string& cell, const std::string& lines);

  std::string dir_;
  std::size_t max_bytes_, max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<LogRecord> queue_;
  bool stop_ = false, busy_ = false;
  std::uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace brig::warden
