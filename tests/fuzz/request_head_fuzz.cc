// libFuzzer target: the bytes a cell sends first — a request head (or a TLS
// ClientHello) — through the same parsing, checks and policy decision warden
// uses. Built by scripts/test.sh with clang (-DBRIG_FUZZ=ON) and run briefly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "brig/policy/policy.h"
#include "brig/spec/parse.h"
#include "brig/warden/clienthello.h"
#include "warden/http_checks.h"

namespace {

const brig::policy::Policy& fixed_policy() {
  static const brig::policy::Policy p = [] {
    auto block = brig::spec::parse_policy(R"({"allow": ["example.com", "*.example.org", "api.test:8443",
      {"domain": "api.example.net", "paths": ["/v1/*"], "methods": ["GET"]}], "deny": ["bad.example.org"]})",
                                          "fuzz.json");
    return std::move(*brig::policy::Policy::compile(*block, nullptr));
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brig::warden;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)parse_client_hello(bytes);

  http::request_parser<http::buffer_body> parser;
  parser.header_limit(8192);
  error_code ec;
  parser.put(asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  auto& req = parser.get();
  if (normalize_request_head(req, framing_of(parser))) return 0;
  // Accepted: one framing, one Host, the framing Beast used.
  if (req.count(http::field::host) > 1) __builtin_trap();
  const bool te = req.count(http::field::transfer_encoding) != 0, cl = req.count(http::field::content_length) != 0;
  if ((te && cl) || req.count(http::field::transfer_encoding) > 1 || req.count(http::field::content_length) > 1) __builtin_trap();
  if (te != parser.chunked() || (te && req[http::field::transfer_encoding] != "chunked")) __builtin_trap();
  auto dest = req.method() == http::verb::connect ? connect_target(req) : absolute_target(req);
  if (!dest) return 0;
  const auto v = fixed_policy().evaluate({dest->host, dest->port, req.method_string(), dest->path});
  // A decision always names a rule.
  if (v.rule.empty()) __builtin_trap();
  return 0;
}
