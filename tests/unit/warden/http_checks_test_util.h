// Helpers shared by the http_checks unit tests: build a request, read a field.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warden/http_checks.h"

namespace brig::warden::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline Request make_request(http::verb verb, std::string_view target, const Headers& headers, unsigned version = 11) {
  Request req{verb, target, version};
  for (const auto& [k, v] : headers) req.insert(k, v);
  return req;
}
inline Request get(std::string_view target, const Headers& headers = {}) {
  return make_request(http::verb::get, target, headers);
}

inline std::string field(const http::fields& f, std::string_view name) {
  auto it = f.find(name);
  return it == f.end() ? "<absent>" : std::string(it->value());
}

}  // namespace brig::warden::testing
