#include "brig/warden/ops_client.h"

#include <signal.h>


#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <sstream>

#include "brig/warden/config.h"
#include "metrics.h"

namespace brig::warden {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;


Result<RuntimeInfo> read_runtime_info(const Paths& paths) {
  auto info = state::load_warden_runtime(paths);
  if (!info) return info.error();
  if (info->pid > 0 && ::kill(static_cast<pid_t>(info->pid), 0) != 0 && errno == ESRCH) {
    return Error(Errc::not_found, "warden is not running (pid " + std::to_string(info->pid) + " is gone)",
                 "start it with: brig system up");
  }
  return info;
}

Result<HttpReply> http_get(const std::string& addr, const std::string& path, std::chrono::milliseconds timeout) {
  auto ep = Endpoint::parse(addr);
  if (!ep) return ep.error();
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address(ep->host), ep->port));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, addr);
    req.set(http::field::connection, "close");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
  } catch (const std::exception& e) {
    return Error(Errc::unavailable, "cannot reach warden at " + addr + ": " + e.what(),
                 "check it with: brig system doctor");
  }
}

namespace {

// {cell="x",decision="allow"} -> value of `key`.
std::string label(const std::string& labels, const std::string& key) {
  auto pos = labels.find(key + "=\"");
  if (pos == std::string::npos) return "";
  pos += key.size() + 2;
  return labels.substr(pos, labels.find('"', pos) - pos);
}

// The q-quantile in ms of a cumulative histogram ({le, count}, le ascending,
// +Inf last), interpolated linearly within its bucket as Prometheus'
// histogram_quantile does: a bucket bound alone says p95 = 100 ms when most
// requests took 1 ms. Past the largest finite bound: that bound.
double quantile(const std::vector<std::pair<double, double>>& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return 0;
  const double want = q * buckets.back().second;
  double prev_le = 0, prev_count = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= want) {
      if (std::isinf(le)) return prev_le * 1000.0;
      if (count <= prev_count) return le * 1000.0;
      const double ms = (prev_le + (le - prev_le) * (want - prev_count) / (count - prev_count)) * 1000.0;
      return std::round(ms * 1000.0) / 1000.0;  // to the microsecond
    }
    prev_le = le;
    prev_count = count;
  }
  return prev_le * 1000.0;
}

}  // namespace

std::map<std::string, CellStats> parse_metrics(const std::string& text) {
  std::map<std::string, CellStats> out;
  std::map<std::string, std::vector<std::pair<double, double>>> hist;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto brace = line.find('{'), close = line.find('}');
    if (brace == std::string::npos || close == std::string::npos) continue;
    const std::string name = line.substr(0, brace), labels = line.substr(brace + 1, close - brace - 1);
    double v = 0;
    try { v = std::stod(line.substr(close + 2)); } catch (...) { continue; }
    const std::string cell = label(labels, "cell");
    if (cell.empty()) continue;
    auto& s = out[cell];
    if (name == "brig_warden_requests_total") {
      const std::string d = label(labels, "decision");
      s.requests += v;
      if (d == "deny") s.denied += v;
      if (d == "ratelimit") s.ratelimited += v;
      if (d == "error") s.errors += v;
    } else if (name == "brig_warden_ingress_requests_total") {
      s.ingress += v;
    } else if (name == "brig_warden_bytes_total") {
      (label(labels, "direction") == "in" ? s.bytes_in : s.bytes_out) += v;
    } else if (name == "brig_warden_request_duration_seconds_bucket") {
      const std::string le = label(labels, "le");
      hist[cell].emplace_back(le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le), v);
    }
  }
  for (auto& [cell, b] : hist) {
    std::sort(b.begin(), b.end());
    out[cell].p50_ms = quantile(b, 0.50);
    out[cell].p95_ms = quantile(b, 0.95);
    out[cell].p99_ms = quantile(b, 0.99);
  }
  return out;
}

}  // namespace brig::warden
