#include "brig/state/ingress_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/state/lock.h"
#include "brig/state/subnet_map.h"
#include "system_table.h"

namespace brig::state {
namespace {

constexpr std::size_t kMaxRoutes = 16;

bool valid_ip(const std::string& s) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, s.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

bool valid_digest(std::string_view d) {
  if (d.size() != 64) return false;
  for (char c : d) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The first problem with one cell's entry, or "".
std::string entry_problem(const std::string& cell, const IngressCell& e) {
  if (!valid_cell_name(cell)) return str::quote(cell) + " is not a cell name";
  const std::string where = "cell " + cell + ": ";
  if (!valid_ip(e.address)) return where + "address " + str::quote(e.address) + " is not an IP address";
  if (!valid_digest(e.token_sha256)) return where + "token_sha256 is not 64 lowercase hex digits";
  if (e.routes.empty() || e.routes.size() > kMaxRoutes) return where + "needs 1-16 routes";
  for (const auto& r : e.routes) {
    if (r.name.empty()) return where + "a route has no name";
    if (r.port < 1 || r.port > 65535) return where + "route " + r.name + ": port " + std::to_string(r.port) + " is not 1-65535";
    if (r.path_prefix.empty() || r.path_prefix[0] != '/') {
      return where + "route " + r.name + ": path_prefix " + str::quote(r.path_prefix) + " does not start with '/'";
    }
  }
  return "";
}

// Whether `prefix` matches `path` on a segment boundary.
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  if (prefix.back() == '/' || path.size() == prefix.size()) return true;
  const char next = path[prefix.size()];
  return next == '/' || next == '?' || next == '#';
}

Status edit(const Paths& paths, const std::function<bool(IngressTable&)>& change) {
  return with_state_lock(paths, [&]() -> Status {
    auto table = load_ingress_routes(paths);
    if (!table) return table.error();
    if (!change(*table)) return {};  // nothing changed
    auto text = table->empty() ? Result<std::string>(std::string()) : serialize_ingress_routes(*table);
    if (!text) return text.error();
    return detail::store_table(paths, ingress_routes_path(paths), *text);
  });
}

}  // namespace

std::string ingress_routes_path(const Paths& paths) { return paths.system_state() + "/ingress-routes.json"; }

Result<IngressTable> parse_ingress_routes(std::string_view text, const std::string& source) {
  auto parsed = detail::parse_table_object(text, source);
  if (!parsed) return parsed.error();
  const nlohmann::json& j = *parsed;
  IngressTable table;
  for (const auto& [cell, v] : j.items()) {
    IngressCell e;
    try {
      e.address = v.at("address").get<std::string>();
      e.running = v.at("running").get<bool>();
      e.token_sha256 = v.at("token_sha256").get<std::string>();
      for (const auto& r : v.at("routes")) {
        e.routes.push_back({r.at("name").get<std::string>(), r.at("port").get<int>(), r.at("path_prefix").get<std::string>()});
      }
    } catch (const std::exception& x) {
      return Error(Errc::invalid, source + ": cell " + str::quote(cell) + ": " + x.what());
    }
    if (auto p = entry_problem(cell, e); !p.empty()) return Error(Errc::invalid, source + ": " + p);
    table.emplace(cell, std::move(e));
  }
  return table;
}

Result<std::string> serialize_ingress_routes(const IngressTable& table) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [cell, e] : table) {
    if (auto p = entry_problem(cell, e); !p.empty()) return Error(Errc::invalid, "ingress routes: " + p);
    nlohmann::json routes = nlohmann::json::array();
    for (const auto& r : e.routes) routes.push_back({{"name", r.name}, {"port", r.port}, {"path_prefix", r.path_prefix}});
    j[cell] = {{"address", e.address}, {"running", e.running}, {"token_sha256", e.token_sha256}, {"routes", routes}};
  }
  return j.dump(2) + "\n";
}

const IngressRoute* match_ingress_route(const IngressCell& cell, std::string_view path) {
  const IngressRoute* best = nullptr;
  for (const auto& r : cell.routes) {
    if (prefix_matches(r.path_prefix, path) && (!best || r.path_prefix.size() > best->path_prefix.size())) best = &r;
  }
  return best;
}

Result<IngressTable> load_ingress_routes(const Paths& paths) {
  auto text = fs::read_file(ingress_routes_path(paths), kMaxIngressRoutesBytes);
  if (!text) {
    if (text.error().code() == Errc::not_found) return IngressTable{};
    return text.error();
  }
  return parse_ingress_routes(*text, ingress_routes_path(paths));
}

Status put_ingress_cell(const Paths& paths, const std::string& cell, const IngressCell& entry) {
  return edit(paths, [&](IngressTable& t) {
    auto it = t.find(cell);
    if (it != t.end() && it->second == entry) return false;
    t[cell] = entry;
    return true;
  });
}

Status stop_ingress_cell(const Paths& paths, const std::string& cell) {
  return edit(paths, [&](IngressTable& t) {
    auto it = t.find(cell);
    if (it == t.end() || !it->second.running) return false;
    it->second.running = false;
    return true;
  });
}

Status remove_ingress_cell(const Paths& paths, const std::string& cell) {
  return edit(paths, [&](IngressTable& t) { return t.erase(cell) > 0; });
}

}  // namespace brig::state
