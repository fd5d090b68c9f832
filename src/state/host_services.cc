#include "brig/state/host_services.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/state/lock.h"
#include "brig/state/subnet_map.h"
#include "system_table.h"

namespace brig::state {
namespace {

constexpr std::size_t kMaxServices = 16;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 31 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The first problem with one cell's entry, or "".
std::string entry_problem(const std::string& cell, const HostServiceCell& e) {
  if (!valid_cell_name(cell)) return str::quote(cell) + " is not a cell name";
  const std::string where = "cell " + cell + ": ";
  in_addr v4{};
  if (::inet_pton(AF_INET, e.address.c_str(), &v4) != 1) return where + "address " + str::quote(e.address) + " is not an IPv4 address";
  if (e.services.size() > kMaxServices) return where + "more than 16 host services";
  std::set<std::string> names;
  for (const auto& s : e.services) {
    if (!valid_name(s.name)) return where + "host service name " + str::quote(s.name) + " is not a 1-31 character label";
    if (!names.insert(s.name).second) return where + "host service " + s.name + " appears twice";
    if (s.port < 1 || s.port > 65535) return where + "host service " + s.name + ": port " + std::to_string(s.port) + " is not 1-65535";
    if (s.protocol != "http" && s.protocol != "tcp") {
      return where + "host service " + s.name + ": protocol " + str::quote(s.protocol) + " is not http or tcp";
    }
  }
  return "";
}

}  // namespace

const HostServiceEntry* HostServiceCell::find(std::string_view name) const {
  for (const auto& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string host_services_path(const Paths& paths) { return paths.system_state() + "/host-services.json"; }

std::string host_service_url(const HostServiceEntry& e) {
  const std::string host = e.name + std::string(kHostServiceSuffix);
  return e.protocol == "tcp" ? "tcp://" + host + ":" + std::to_string(e.port) : "http://" + host + "/";
}

std::string host_service_label(std::string_view host) {
  if (host.size() <= kHostServiceSuffix.size() || !host.ends_with(kHostServiceSuffix)) return "";
  std::string_view label = host.substr(0, host.size() - kHostServiceSuffix.size());
  return valid_name(label) ? std::string(label) : "";
}

Result<HostServiceTable> parse_host_services(std::string_view text, const std::string& source) {
  auto parsed = detail::parse_table_object(text, source);
  if (!parsed) return parsed.error();
  const nlohmann::json& j = *parsed;
  HostServiceTable table;
  for (const auto& [cell, v] : j.items()) {
    HostServiceCell e;
    try {
      e.address = v.at("address").get<std::string>();
      e.running = v.at("running").get<bool>();
      for (const auto& s : v.at("services")) {
        e.services.push_back({s.at("name").get<std::string>(), s.at("port").get<int>(), s.at("protocol").get<std::string>()});
      }
    } catch (const std::exception& x) {
      return Error(Errc::invalid, source + ": cell " + str::quote(cell) + ": " + x.what());
    }
    if (auto p = entry_problem(cell, e); !p.empty()) return Error(Errc::invalid, source + ": " + p);
    table.emplace(cell, std::move(e));
  }
  return table;
}

Result<std::string> serialize_host_services(const HostServiceTable& table) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [cell, e] : table) {
    if (auto p = entry_problem(cell, e); !p.empty()) return Error(Errc::invalid, "host services: " + p);
    nlohmann::json services = nlohmann::json::array();
    for (const auto& s : e.services) services.push_back({{"name", s.name}, {"port", s.port}, {"protocol", s.protocol}});
    j[cell] = {{"address", e.address}, {"running", e.running}, {"services", services}};
  }
  return j.dump(2) + "\n";
}

Result<HostServiceTable> load_host_services(const Paths& paths) {
  auto text = fs::read_file(host_services_path(paths), kMaxHostServicesBytes);
  if (!text) {
    if (text.error().code() == Errc::not_found) return HostServiceTable{};
    return text.error();
  }
  return parse_host_services(*text, host_services_path(paths));
}

Status edit_host_services(const Paths& paths, const std::function<Result<bool>(HostServiceTable&)>& change,
                          const std::function<Status(const HostServiceTable&)>& published) {
  return with_state_lock(paths, [&]() -> Status {
    auto table = load_host_services(paths);
    if (!table) return table.error();
    const HostServiceTable before = *table;
    auto changed = change(*table);
    if (!changed) return changed.error();
    if (!*changed) return {};
    auto text = table->empty() ? Result<std::string>(std::string()) : serialize_host_services(*table);
    if (!text) return text.error();
    const std::string path = host_services_path(paths);
    BRIG_TRY(detail::store_table(paths, path, *text));
    if (!published) return {};
    if (auto st = published(*table); !st) {
      // What follows from the table failed: the table as it was, so the two agree.
      auto old = before.empty() ? Result<std::string>(std::string()) : serialize_host_services(before);
      if (old) (void)detail::store_table(paths, path, *old);
      return st;
    }
    return {};
  });
}

Status put_host_service_cell(const Paths& paths, const std::string& cell, const HostServiceCell& entry) {
  return edit_host_services(paths, [&](HostServiceTable& t) -> Result<bool> {
    auto it = t.find(cell);
    if (it != t.end() && it->second == entry) return false;
    t[cell] = entry;
    return true;
  });
}

Status set_host_service_cell_running(const Paths& paths, const std::string& cell, bool running) {
  return edit_host_services(paths, [&](HostServiceTable& t) -> Result<bool> {
    auto it = t.find(cell);
    if (it == t.end() || it->second.running == running) return false;
    it->second.running = running;
    return true;
  });
}

Status remove_host_service_cell(const Paths& paths, const std::string& cell) {
  return edit_host_services(paths, [&](HostServiceTable& t) -> Result<bool> { return t.erase(cell) > 0; });
}

}  // namespace brig::state
