// $BRIG_HOME/policy/cells/<cell>.json: one cell's egress policy, a JSON object
// in the policy document format (whose rules policy::parse_document owns).
// The engine writes it when a cell is made and removes it with the cell;
// `brig policy set|rm --cell` edit it under the state lock; warden reads it.
// This file owns how it is stored: the size cap, the JSON object shape, the
// pretty-printed text and the locked read-modify-write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

inline constexpr std::size_t kMaxCellPolicyBytes = 1u << 20;  // = policy::kMaxPolicyBytes (tested)

// Pure. Errc::invalid "<source> is not JSON: ..." or "<source> is not a JSON
// object ..." otherwise the document.
Result<nlohmann::json> parse_cell_policy(std::string_view text, const std::string& source);
// Pure. Two-space indented JSON with a final newline; invalid UTF-8 replaced.
std::string serialize_cell_policy(const nlohmann::json& doc);

// One allow rule to add: a whole host ("api.x.com", "*.x.com", "h:8443")
// when paths and methods are empty.
struct AllowRule {
  std::string domain;                // as the document writes it, ":PORT" included
  std::vector<std::string> paths;    // globs; empty: any path
  std::vector<std::string> methods;  // uppercase; empty: any method
};

// A change to a cell's document: `brig policy set`, `policy suggest --apply`.
struct PolicyEdit {
  std::vector<AllowRule> allow;
  std::vector<std::string> deny, passthrough;
  std::vector<std::string> remove;  // every rule naming DOMAIN (or DOMAIN:PORT), in every list
  // The end of the `allow` rules of this edit (seconds since the epoch):
  // time-boxed grants. nullopt: they are permanent.
  std::optional<std::int64_t> allow_expires;
};

// What an edit did to one of its allow rules.
struct AllowOutcome {
  enum class What {
    added,           // a new rule
    unchanged,       // the same permanent rule was there
    kept_permanent,  // a time limit was asked, but the rule is already there without one
    renewed,         // a time-boxed rule got the new end
    made_permanent,  // a time-boxed rule lost its end
  };
  AllowRule rule;
  What what = What::added;
  std::optional<std::int64_t> expires;  // the rule's end after the edit; nullopt: none
};

struct PolicyEditResult {
  std::vector<AllowOutcome> allow;  // one per PolicyEdit::allow rule, in order
  std::size_t lapsed = 0;           // time-boxed rules dropped because they had ended by `now`
};

// Pure. Applies `edit` to a cell's document at time `now`: removals first,
// then the additions (a rule equal to one present, by domain ignoring case
// and by paths and methods as sets, is not added twice). An allow rule with
// a time limit (`allow_expires`) next to the same rule without one stays
// permanent; next to a time-boxed one it moves that one's end; without a time
// limit it makes a time-boxed one permanent. Every edit drops the allow
// entries whose "expires" is at or before `now`. Errc::invalid (fix: another
// profile) when the document is airgapped and the edit allows anything;
// `cell` names it in the message.
Result<PolicyEditResult> apply_policy_edit(nlohmann::json& doc, std::string_view cell, const PolicyEdit& edit,
                                           std::int64_t now);

// Pure. The document without the cell's own rules (`brig policy rm`): empty
// allow, deny and tls_passthrough; an airgapped document stays airgapped.
void clear_cell_policy(nlohmann::json& doc);

// The file's text; Errc::not_found when the cell has none.
Result<std::string> read_cell_policy(const Paths& paths, const std::string& cell);
// Writes the document atomically (creating policy/cells).
Status store_cell_policy(const Paths& paths, const std::string& cell, const nlohmann::json& doc);

// Removes the cell's file; nothing to do when there is none. Errc::io (fix:
// the rm command) when it cannot be removed.
Status remove_cell_policy(const Paths& paths, const std::string& cell);

// Read-modify-write under the state lock: reads the cell's document, applies
// `change`, serializes it and asks `check` (given the new text and the path)
// whether it is a valid policy; only then replaces the file. Errc::not_found
// when `cell` has no policy file (or is not a plain name); any error of
// `change` or `check` leaves the file as it was.
Status edit_cell_policy(const Paths& paths, const std::string& cell,
                        const std::function<Status(nlohmann::json&)>& change,
                        const std::function<Status(const std::string& text, const std::string& path)>& check);

}  // namespace brig::state
