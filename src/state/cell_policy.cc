#include "brig/state/cell_policy.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/state/lock.h"

namespace brig::state {
namespace {

// An entry of a list as the document writes it: "host[:port]" or {"domain": ...}.
std::string entry_name(const nlohmann::json& e) {
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && e.contains("domain") && e["domain"].is_string()) return e["domain"].get<std::string>();
  return "";
}

// An allow entry's "paths" or "methods", sorted (as a set).
std::vector<std::string> entry_list(const nlohmann::json& e, const char* key) {
  std::vector<std::string> out;
  if (e.is_object() && e.contains(key) && e[key].is_array()) {
    for (const auto& v : e[key]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// An allow entry's end; nullopt when it has none (or one that does not
// parse, which the policy check reports).
std::optional<std::int64_t> entry_expires(const nlohmann::json& e) {
  if (!e.is_object() || !e.contains("expires") || !e["expires"].is_string()) return std::nullopt;
  return timefmt::parse_rfc3339(e["expires"].get<std::string>());
}

bool has_expires(const nlohmann::json& e) { return e.is_object() && e.contains("expires"); }

bool airgapped(const nlohmann::json& doc) {
  const auto a = doc.find("airgapped");
  return a != doc.end() && *a == true;
}

bool same_rule(const nlohmann::json& e, const AllowRule& r) {
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  return str::iequals(entry_name(e), r.domain) && entry_list(e, "paths") == sorted(r.paths) &&
         entry_list(e, "methods") == sorted(r.methods);
}

// The document's form of a rule: the bare host when nothing else is said.
nlohmann::json rule_entry(const AllowRule& r, std::optional<std::int64_t> expires) {
  if (r.paths.empty() && r.methods.empty() && !expires) return r.domain;
  nlohmann::json e = {{"domain", r.domain}};
  if (!r.paths.empty()) e["paths"] = r.paths;
  if (!r.methods.empty()) e["methods"] = r.methods;
  if (expires) e["expires"] = timefmt::rfc3339(*expires);
  return e;
}

}  // namespace

Result<PolicyEditResult> apply_policy_edit(nlohmann::json& doc, std::string_view cell, const PolicyEdit& edit,
                                           std::int64_t now) {
  if (airgapped(doc) && (!edit.allow.empty() || !edit.passthrough.empty())) {
    return Error(Errc::invalid, "cell " + std::string(cell) + " is airgapped: it may reach nothing",
                 "run it again with another profile");
  }
  for (const char* key : {"allow", "deny", "tls_passthrough"}) {
    if (!doc.contains(key) || !doc[key].is_array()) doc[key] = nlohmann::json::array();
    auto& arr = doc[key];
    for (auto it = arr.begin(); it != arr.end();) {
      const std::string n = entry_name(*it);
      bool drop = false;
      for (const auto& r : edit.remove) drop = drop || str::iequals(n, r) || str::iequals(n.substr(0, n.rfind(':')), r);
      it = drop ? arr.erase(it) : it + 1;
    }
  }
  PolicyEditResult res;
  auto& allow = doc["allow"];
  for (auto it = allow.begin(); it != allow.end();) {
    const auto end = entry_expires(*it);
    const bool lapsed = end && *end <= now;
    if (lapsed) ++res.lapsed;
    it = lapsed ? allow.erase(it) : it + 1;
  }
  for (const auto& rule : edit.allow) {
    AllowOutcome out{rule, AllowOutcome::What::added, edit.allow_expires};
    std::vector<std::size_t> timed;
    bool permanent = false;
    for (std::size_t i = 0; i < allow.size(); ++i) {
      if (!same_rule(allow[i], rule)) continue;
      if (has_expires(allow[i])) timed.push_back(i);
      else permanent = true;
    }
    // The one entry kept of the time-boxed ones (the first), or none.
    std::optional<std::size_t> keep;
    if (permanent) {
      out.what = edit.allow_expires ? AllowOutcome::What::kept_permanent : AllowOutcome::What::unchanged;
      out.expires = std::nullopt;
    } else if (!timed.empty()) {
      keep = timed.front();
      out.what = edit.allow_expires ? AllowOutcome::What::renewed : AllowOutcome::What::made_permanent;
      allow[*keep] = rule_entry(rule, edit.allow_expires);
    } else {
      allow.push_back(rule_entry(rule, edit.allow_expires));
    }
    // Other time-boxed copies of the rule add nothing.
    for (auto i = timed.rbegin(); i != timed.rend(); ++i) {
      if (!keep || *i != *keep) allow.erase(allow.begin() + static_cast<std::ptrdiff_t>(*i));
    }
    res.allow.push_back(std::move(out));
  }
  auto add = [&](const char* key, const std::vector<std::string>& values) {
    for (const auto& v : values) {
      bool present = false;
      for (const auto& e : doc[key]) present = present || str::iequals(entry_name(e), v);
      if (!present) doc[key].push_back(v);
    }
  };
  add("deny", edit.deny);
  add("tls_passthrough", edit.passthrough);
  return res;
}

void clear_cell_policy(nlohmann::json& doc) {
  const bool was_airgapped = airgapped(doc);
  doc = {{"allow", nlohmann::json::array()}, {"deny", nlohmann::json::array()}, {"tls_passthrough", nlohmann::json::array()}};
  if (was_airgapped) doc["airgapped"] = true;
}

Result<nlohmann::json> parse_cell_policy(std::string_view text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, source + " is not JSON: " + e.what());
  }
  if (!j.is_object()) {
    return Error(Errc::invalid, source + " is not a JSON object (the top level is " + j.type_name() + ")");
  }
  return j;
}

std::string serialize_cell_policy(const nlohmann::json& doc) {
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<std::string> read_cell_policy(const Paths& paths, const std::string& cell) {
  return fs::read_file(paths.cell_policy(cell), kMaxCellPolicyBytes);
}

Status store_cell_policy(const Paths& paths, const std::string& cell, const nlohmann::json& doc) {
  BRIG_TRY(fs::make_dirs(paths.policy_dir() + "/cells", 0755));
  return fs::write_atomic(paths.cell_policy(cell), serialize_cell_policy(doc), 0644);
}

Status remove_cell_policy(const Paths& paths, const std::string& cell) {
  const std::string path = paths.cell_policy(cell);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("removing " + path, errno).with_fix("rm -f " + path);
  return {};
}

Status edit_cell_policy(const Paths& paths, const std::string& cell,
                        const std::function<Status(nlohmann::json&)>& change,
                        const std::function<Status(const std::string& text, const std::string& path)>& check) {
  const std::string path = paths.cell_policy(cell);
  if (cell.empty() || cell.find('/') != std::string::npos || !fs::exists(path)) {
    return Error(Errc::not_found, "no cell named " + str::quote(cell) + " has a policy",
                 "check the name with: brig cell list --all");
  }
  return with_state_lock(paths, [&]() -> Status {
    auto text = read_cell_policy(paths, cell);
    if (!text) return text.error();
    auto doc = parse_cell_policy(*text, path);
    if (!doc) return doc.error().with_fix("brig cell rm " + cell + " and run it again");
    BRIG_TRY(change(*doc));
    const std::string out = serialize_cell_policy(*doc);
    BRIG_TRY(check(out, path));
    return fs::write_atomic(path, out, 0644);
  });
}

}  // namespace brig::state
