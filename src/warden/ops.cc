// The ops endpoint: /healthz and /metrics, for the host only (loopback).
#include <nlohmann/json.hpp>

#include "server.h"

namespace brig::warden {

awaitable<void> serve_ops_client(Socket socket, Shared& sh) {
  TcpStream stream(std::move(socket));
  beast::flat_buffer buf;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8192);
  stream.expires_after(std::chrono::seconds(5));
  error_code ec;
  co_await http::async_read(stream, buf, parser, use_ec(ec));
  if (ec) co_return;
  const auto& req = parser.get();
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "brig-warden");
  const std::string_view target = req.target();
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.body() = "GET only\n";
  } else if (target == "/healthz") {
    const auto snap = sh.store->current();
    nlohmann::json j = {
        {"status", sh.draining ? "draining" : "ok"},
        {"version", BRIG_VERSION},
        {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - sh.started).count()},
        {"policy_generation", snap->generation},
        {"cells", snap->subnets.size()},
    };
    if (sh.draining) res.result(http::status::service_unavailable);
    res.set(http::field::content_type, "application/json");
    res.body() = j.dump() + "\n";
  } else if (target == "/metrics") {
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = sh.metrics.render();
  } else {
    res.result(http::status::not_found);
    res.body() = "not found: try /healthz or /metrics\n";
  }
  res.keep_alive(false);
  res.prepare_payload();
  co_await http::async_write(stream, res, use_ec(ec));
  stream.socket().shutdown(Socket::shutdown_send, ec);
}

}  // namespace brig::warden
