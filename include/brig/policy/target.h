// Parsing what `brig policy test` is asked about: a URL or a bare host[:port].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "brig/core/error.h"

namespace brig::policy {

struct Target {
  std::string host;  // canonical (hostname::parse_authority): "example.com", "::1"
  std::uint16_t port = 443;
  std::string path;           // "" for a bare host (CONNECT-level question)
  bool connect_only = false;  // bare host[:port]
};

// "https://host[:port]/path?q", "http://host/...", "host", "host:port", "[v6]:port".
// Userinfo ("user@host") and other schemes are errors.
Result<Target> parse_target(std::string_view text);

}  // namespace brig::policy
