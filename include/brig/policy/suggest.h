// `brig policy suggest`: from a cell's logged denials, the smallest allow
// rules that would have let them through. Pure: the CLI reads the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/policy/policy.h"
#include "brig/spec/cell_spec.h"

namespace brig::policy {

// One refused request as warden logged it.
struct Denial {
  std::string host;
  std::uint16_t port = 443;
  std::string method;  // "CONNECT" or "" for a tunnel or a TCP connection
  std::string path;    // as requested (a query is ignored); "" when CONNECT-level
  std::string code;    // reason_code() of the verdict ("no_rule"), or another block code
};

// True for the codes an allow rule lifts: no_rule, port_not_allowed,
// method_not_allowed, path_not_allowed.
bool suggestible(std::string_view code);

// A record of a cell's warden log (one line of logs/cells/<cell>.jsonl) as a
// Denial: a "deny" decision of any kind but "ingress". Its code is the
// record's "code", or for older records without one, the code whose
// reason_text() is the record's "reason" ("" when none is). nullopt for
// anything else, or a record without a host.
std::optional<Denial> denial_from_record(const nlohmann::json& record);
// The record's "ts" in seconds since the epoch (milliseconds dropped), or
// nullopt when it has none that reads as RFC 3339 UTC.
std::optional<std::int64_t> record_time(const nlohmann::json& record);

struct Suggestion {
  spec::PolicyBlock policy;     // allow rules only
  std::size_t denials = 0;      // the suggestible denials the rules are for
  std::size_t already_allowed = 0;  // suggestible denials `current` allows now (left out)
};

// The allow rules that let every suggestible denial through (each is checked
// with Policy::evaluate), one per host and port, in order of host then port:
// - a rule has no port for 80 and 443, else "host:port";
// - a CONNECT-level denial (method CONNECT or no path) allows the whole host;
// - otherwise the rule keeps the methods denied (sorted; none when one is not
//   uppercase, as rules match methods exactly) and the
//   paths (normalised, query dropped, sorted), where three or more paths or
//   globs directly in one directory other than "/" become "DIR/*", repeated
//   until none do ("/v1/users/1", "/v1/users/2", "/v1/users/3" ->
//   "/v1/users/*").
// Denials that `current` (may be null) already allows are left out.
Suggestion suggest(const std::vector<Denial>& denials, const Policy* current = nullptr);

// The allow list as YAML to paste under a cell's `policy:` ("allow:" and one
// item per rule: "host" or {domain, paths, methods}).
std::string suggestion_yaml(const spec::PolicyBlock& policy);

}  // namespace brig::policy
