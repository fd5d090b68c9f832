#include "exchange.h"

namespace brig::warden {

Caller identify(Shared& sh, const IpAddr& src) {
  Caller c;
  c.snap = sh.store->current();
  c.cell = c.snap->cell_for(src);
  return c;
}

std::string denial_body(const std::string& cell, const std::string& host, std::string_view reason,
                        std::string_view rule, const std::optional<std::string>& fix) {
  std::string b = "brig warden blocked this request\n";
  b += "cell:   " + cell + "\n";
  b += "host:   " + host + "\n";
  b += "reason: " + std::string(reason) + "\n";
  b += "rule:   " + std::string(rule) + "\n";
  if (fix) b += "fix:    " + *fix + "\n";
  return b;
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
