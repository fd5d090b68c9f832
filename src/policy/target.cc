#include "brig/policy/target.h"

#include "brig/core/hostname.h"
#include "brig/core/strings.h"

namespace brig::policy {

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
  auto a = hostname::parse_authority(rest, t.port);
  if (!a) return a.error();
  t.host = std::move(a->host);
  t.port = a->port;
  return t;
}

}  // namespace brig::policy
