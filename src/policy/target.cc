#include "brig/policy/target.h"

#include <charconv>

#include "brig/core/strings.h"

namespace brig::policy {
namespace {

Result<std::uint16_t> parse_port(std::string_view s, std::string_view text) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 1 || v > 65535) {
    return Error(Errc::usage, "invalid port in " + str::quote(text) + "; use 1-65535");
  }
  return static_cast<std::uint16_t>(v);
}

}  // namespace

Result<Target> parse_target(std::string_view text) {
  Target t;
  std::string_view rest = text;
  const auto scheme_end = text.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string scheme = str::to_lower(text.substr(0, scheme_end));
    if (scheme == "https") t.port = 443;
    else if (scheme == "http") t.port = 80;
    else return Error(Errc::usage, "unsupported scheme " + str::quote(scheme) + "; use http:// or https://");
    rest = text.substr(scheme_end + 3);
    const auto path_start = rest.find_first_of("/?#");
    t.path = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
    if (!t.path.empty() && t.path.front() != '/') t.path = "/" + t.path;
    rest = rest.substr(0, path_start);
  } else {
    if (text.find('/') != std::string_view::npos) {
      return Error(Errc::usage, "a target with a path needs a scheme: write https://" + std::string(text));
    }
    t.connect_only = true;
  }
  if (rest.find('@') != std::string_view::npos) {
    return Error(Errc::usage, "the target has userinfo ('@'); warden rejects such hosts");
  }
  // Host and optional port; IPv6 literals are bracketed.
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return Error(Errc::usage, "unterminated IPv6 literal in " + str::quote(text));
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Error(Errc::usage, "unexpected text after ']' in " + str::quote(text));
      port = rest.substr(close + 2);
      if (port.empty()) return Error(Errc::usage, "empty port in " + str::quote(text));
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return Error(Errc::usage, "empty port in " + str::quote(text));
  }
  if (host.empty()) return Error(Errc::usage, "no host in " + str::quote(text));
  if (!port.empty()) {
    auto p = parse_port(port, text);
    if (!p) return p.error();
    t.port = *p;
  }
  t.host = std::string(host);
  return t;
}

}  // namespace brig::policy
