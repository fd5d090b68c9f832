#include "brig/warden/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>

#include "brig/core/fs.h"
#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/warden/netaddr.h"

namespace brig::warden {
std::string Endpoint::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Endpoint> Endpoint::parse(const std::string& text) {
  auto a = hostname::split_authority(text, {.min = 0});
  if (!a || !a->port || !parse_ip(std::string(a->bare()))) {
    return Error(Errc::usage, "listen address " + str::quote(text) + " is not ADDR:PORT", "e.g. 127.0.0.1:3128 (port 0 picks one)");
  }
  return Endpoint{std::string(a->bare()), *a->port};
}

Result<ResolveOverride> ResolveOverride::parse(const std::string& text) {
  // HOST:PORT:ADDR where ADDR may be an IPv6 literal with colons (bracketed or not).
  auto first = text.find(':');
  auto second = first == std::string::npos ? std::string::npos : text.find(':', first + 1);
  const auto bad = [&] {
    return Error(Errc::usage, "resolve override " + str::quote(text) + " is not HOST:PORT:ADDR", "e.g. api.example.com:443:198.18.0.2");
  };
  if (second == std::string::npos) return bad();
  auto authority = hostname::parse_authority(std::string_view(text).substr(0, second), 0);
  auto addr = parse_ip(text.substr(second + 1));
  if (!authority || !authority->port_given || !addr) return bad();
  ResolveOverride r;
  r.host = std::move(authority->host);
  r.port = authority->port;
  r.addr = addr->str();
  return r;
}

Status load_config_file(const std::string& path, Config& cfg) {
  auto text = fs::read_file(path, 1 << 20);
  if (!text) return text.error().code() == Errc::not_found ? Status{} : Status{text.error()};
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid, path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return Error(Errc::invalid, path + ": expected a mapping");
  auto at = [&](const YAML::Node& n) { return path + ":" + std::to_string(n.Mark().line + 1) + ": "; };
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "resolve_overrides") {
        // A scalar or mapping here would otherwise iterate as nothing and be ignored.
        if (!v.IsSequence() && !v.IsNull()) return Error(Errc::invalid, at(v) + "resolve_overrides must be a list of HOST:PORT:ADDR");
        for (const auto& item : v) {
          auto r = ResolveOverride::parse(item.as<std::string>());
          if (!r) return Error(Errc::invalid, at(item) + r.error().message());
          cfg.resolve.push_back(*r);
        }
      } else if (key == "upstream_ca") {
        cfg.upstream_ca = v.as<std::string>();
      } else if (key == "limits") {
        if (!v.IsMap() && !v.IsNull()) return Error(Errc::invalid, at(v) + "limits must be a mapping");
        for (const auto& l : v) {
          const std::string k = l.first.Scalar();
          std::optional<Error> bad;
          auto ms = [&](std::chrono::milliseconds& dst) {
            const long n = l.second.as<long>();
            if (n < 0) bad = Error(Errc::invalid, at(l.second) + "limits: " + k + " must not be negative");
            else dst = std::chrono::milliseconds(n);
          };
          if (k == "header_limit") cfg.limits.header_limit = l.second.as<std::size_t>();
          else if (k == "header_timeout_ms") ms(cfg.limits.header_timeout);
          else if (k == "idle_timeout_ms") ms(cfg.limits.idle_timeout);
          else if (k == "connect_timeout_ms") ms(cfg.limits.connect_timeout);
          else if (k == "max_tunnels_per_cell") cfg.limits.max_tunnels_per_cell = l.second.as<std::size_t>();
          else if (k == "max_connections") cfg.limits.max_connections = l.second.as<std::size_t>();
          else if (k == "cert_cache") cfg.limits.cert_cache = l.second.as<std::size_t>();
          else if (k == "pool_idle_per_host") cfg.limits.pool_idle_per_host = l.second.as<std::size_t>();
          else if (k == "pool_idle_max") cfg.limits.pool_idle_max = l.second.as<std::size_t>();
          else if (k == "drain_timeout_ms") ms(cfg.limits.drain_timeout);
          else if (k == "dns_rate" || k == "dns_burst") {
            const double d = l.second.as<double>();
            if (!(d > 0)) bad = Error(Errc::invalid, at(l.second) + "limits: " + k + " must be positive");
            else (k == "dns_rate" ? cfg.limits.dns_rate : cfg.limits.dns_burst) = d;
          } else if (k == "dns_tcp_connections") cfg.limits.dns_tcp_connections = l.second.as<std::size_t>();
          else return Error(Errc::invalid, at(l.first) + "limits: unknown key " + str::quote(k));
          if (bad) return *bad;
        }
      } else {
        std::string msg = at(kv.first) + "unknown key " + str::quote(key);
        if (auto s = str::closest(key, {"resolve_overrides", "upstream_ca", "limits"})) msg += "; did you mean " + str::quote(*s) + "?";
        return Error(Errc::invalid, msg);
      }
    }
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid, path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return {};
}

}  // namespace brig::warden
