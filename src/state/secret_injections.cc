#include "brig/state/secret_injections.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "brig/core/fs.h"
#include "brig/core/strings.h"

namespace brig::state {
namespace {

bool is_hex32(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool valid_placeholder(const InjectedSecret& s) {
  const std::string head = std::string(kPlaceholderPrefix) + s.name + "-";
  return s.placeholder.size() == head.size() + 32 && s.placeholder.starts_with(head) &&
         is_hex32(std::string_view(s.placeholder).substr(head.size()));
}

}  // namespace

std::string make_placeholder(std::string_view name, std::string_view random16) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = std::string(kPlaceholderPrefix) + std::string(name) + "-";
  for (unsigned char c : random16.substr(0, 16)) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string injected_value(std::string_view stored) {
  if (stored.ends_with("\r\n")) stored.remove_suffix(2);
  else if (stored.ends_with('\n')) stored.remove_suffix(1);
  return std::string(stored);
}

std::optional<std::string> check_secret_value(std::string_view value) {
  if (value.empty()) return "it is empty";
  for (unsigned char c : value) {
    if (c == '\r' || c == '\n') return "it holds a line break (only one at the end is dropped)";
    if ((c < 0x20 && c != '\t') || c == 0x7f) return "it holds control bytes, which no HTTP header may carry";
  }
  return std::nullopt;
}

Result<std::vector<InjectedSecret>> parse_secret_injections(std::string_view text, const std::string& source) {
  auto bad = [&](const std::string& why) { return Error(Errc::invalid, source + ": " + why); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return bad(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("secrets") || !j["secrets"].is_array()) return bad("expected {\"secrets\": [...]}");
  std::vector<InjectedSecret> out;
  std::set<std::string> seen;
  for (const auto& e : j["secrets"]) {
    if (!e.is_object()) return bad("a secret is not an object");
    InjectedSecret s;
    try {
      s.name = e.at("name").get<std::string>();
      s.env = e.at("env").get<std::string>();
      s.placeholder = e.at("placeholder").get<std::string>();
      s.value = e.at("value").get<std::string>();
      s.hosts = e.at("hosts").get<std::vector<std::string>>();
      s.allow_plaintext = e.value("allow_plaintext", false);
    } catch (const std::exception&) {
      return bad("a secret needs string name, env, placeholder, value and a list of hosts");
    }
    if (!valid_placeholder(s)) return bad("secret " + str::quote(s.name) + ": malformed placeholder");
    if (auto why = check_secret_value(s.value)) return bad("secret " + str::quote(s.name) + ": " + *why);
    if (s.hosts.empty()) return bad("secret " + str::quote(s.name) + ": no hosts");
    if (!seen.insert(s.placeholder).second) return bad("secret " + str::quote(s.name) + ": placeholder used twice");
    out.push_back(std::move(s));
  }
  return out;
}

std::string serialize_secret_injections(const std::vector<InjectedSecret>& secrets) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : secrets) {
    arr.push_back({{"name", s.name},
                   {"env", s.env},
                   {"placeholder", s.placeholder},
                   {"value", s.value},
                   {"hosts", s.hosts},
                   {"allow_plaintext", s.allow_plaintext}});
  }
  return nlohmann::json{{"secrets", arr}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string secret_injections_dir(const Paths& paths) { return paths.system_state() + "/secrets"; }
std::string secret_injections_path(const Paths& paths, const std::string& cell) {
  return secret_injections_dir(paths) + "/" + cell + ".json";
}

Status store_secret_injections(const Paths& paths, const std::string& cell, const std::vector<InjectedSecret>& secrets) {
  if (secrets.empty()) return remove_secret_injections(paths, cell);
  const std::string dir = secret_injections_dir(paths);
  BRIG_TRY(fs::make_dirs(dir, 0700));
  const bool root = ::geteuid() == 0;
  if (::chmod(dir.c_str(), 0700) != 0) return errno_error("chmod " + dir, errno);
  if (root && ::chown(dir.c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + dir, errno);
  const fs::Owner warden{kWardenUid, kWardenUid};
  return fs::write_atomic(secret_injections_path(paths, cell), serialize_secret_injections(secrets), 0400,
                          root ? &warden : nullptr);
}

Status remove_secret_injections(const Paths& paths, const std::string& cell) {
  const std::string path = secret_injections_path(paths, cell);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("removing " + path, errno);
  return {};
}

}  // namespace brig::state
