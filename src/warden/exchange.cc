#include "exchange.h"

#include <nlohmann/json.hpp>

#include "brig/core/strings.h"

namespace brig::warden {

Caller identify(Shared& sh, const IpAddr& src) {
  Caller c;
  c.snap = sh.store->current();
  c.cell = c.snap->cell_for(src);
  return c;
}

bool wants_json(std::string_view accept) {
  for (auto item : str::split(std::string(accept), ',')) {
    std::string_view type = str::trim(item);
    type = str::trim(type.substr(0, type.find(';')));
    if (str::iequals(type, "application/json") || (type.size() > 5 && str::iequals(type.substr(type.size() - 5), "+json"))) {
      return true;
    }
  }
  return false;
}

std::string refusal_body(const Exchange& ex) {
  const LogRecord& r = ex.rec;
  if (ex.json) {
    nlohmann::json j = {{"error", r.status == 429 ? "ratelimited" : "blocked"},
                        {"cell", r.cell},
                        {"host", r.host},
                        {"port", r.port},
                        {"method", r.method},
                        {"path", r.path},
                        {"reason", r.reason},
                        {"code", ex.code},
                        {"rule", r.rule},
                        {"fix", ex.fix ? nlohmann::json(*ex.fix) : nlohmann::json(nullptr)}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  if (!ex.detailed) return "brig warden: " + r.reason + "\n";
  std::string b = "brig warden blocked this request\n";
  b += "cell:   " + r.cell + "\n";
  b += "host:   " + r.host + "\n";
  b += "reason: " + r.reason + "\n";
  b += "rule:   " + r.rule + "\n";
  if (ex.fix) b += "fix:    " + *ex.fix + "\n";
  return b;
}

Headers refusal_headers(const Exchange& ex, Headers extra) {
  Headers h = {{"X-Brig-Decision", std::string(ex.rec.decision)}, {"X-Brig-Blocked", std::string(ex.code)}};
  if (ex.json) h.emplace_back("Content-Type", "application/json");
  for (auto& e : extra) h.push_back(std::move(e));
  return h;
}

bool client_went_away(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
         ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::operation_aborted;
}

bool is_idempotent(http::verb m) {
  switch (m) {
    case http::verb::get: case http::verb::head: case http::verb::options: case http::verb::trace:
    case http::verb::put: case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

}  // namespace brig::warden
