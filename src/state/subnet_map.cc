#include "brig/state/subnet_map.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"

namespace brig::state {
namespace {

constexpr const char* kFix = "brig system prune --subnets rewrites it from the cells that exist";

// The first problem with one entry, or "".
std::string entry_problem(const std::string& cidr, const std::string& cell) {
  if (!valid_cidr(cidr)) return str::quote(cidr) + " is not a CIDR block like 10.60.3.0/24";
  if (!valid_cell_name(cell)) {
    return "subnet " + cidr + " names " + str::quote(cell) +
           ", which is not a cell name (1-63 lowercase letters, digits and '-', starting with a letter or digit)";
  }
  return "";
}

}  // namespace

bool valid_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string addr(text.substr(0, slash));
  const std::string_view prefix = text.substr(slash + 1);
  int max = 32;
  if (addr.find(':') != std::string::npos) {
    in6_addr v6{};
    if (::inet_pton(AF_INET6, addr.c_str(), &v6) != 1) return false;
    max = 128;
  } else {
    in_addr v4{};
    if (::inet_pton(AF_INET, addr.c_str(), &v4) != 1) return false;
  }
  if (prefix.empty() || prefix.size() > 3) return false;
  int n = 0;
  for (char c : prefix) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  return n <= max;
}

bool valid_cell_name(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-'))) return false;
  }
  return true;
}

Result<SubnetMap> parse_subnet_map(std::string_view text, const std::string& source) {
  const std::string not_strings = source + " is not a JSON object of strings: ";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, not_strings + e.what());
  }
  if (!j.is_object()) return Error(Errc::invalid, not_strings + "the top level is " + j.type_name());
  SubnetMap map;
  for (const auto& [cidr, cell] : j.items()) {
    if (!cell.is_string()) {
      return Error(Errc::invalid, not_strings + "the value of " + str::quote(cidr) + " is " + cell.type_name());
    }
    if (auto p = entry_problem(cidr, cell.get<std::string>()); !p.empty()) return Error(Errc::invalid, source + ": " + p);
    map[cidr] = cell.get<std::string>();
  }
  return map;
}

Result<std::string> serialize_subnet_map(const SubnetMap& map) {
  for (const auto& [cidr, cell] : map) {
    if (auto p = entry_problem(cidr, cell); !p.empty()) return Error(Errc::invalid, "subnet map: " + p);
  }
  return nlohmann::json(map).dump(2) + "\n";
}

Result<SubnetMap> load_subnet_map(const Paths& paths) {
  auto text = fs::read_file(paths.subnet_map(), kMaxSubnetMapBytes);
  if (!text) {
    if (text.error().code() == Errc::not_found) return SubnetMap{};
    return text.error();
  }
  auto map = parse_subnet_map(*text, paths.subnet_map());
  if (!map) return map.error().with_fix(kFix);
  return map;
}

Status store_subnet_map(const Paths& paths, const SubnetMap& map) {
  auto text = serialize_subnet_map(map);
  if (!text) return text.error();
  BRIG_TRY(fs::make_dirs(paths.system_state(), 0755));
  return fs::write_atomic(paths.subnet_map(), *text, 0644);
}

}  // namespace brig::state
