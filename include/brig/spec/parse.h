// YAML (and JSON) to CellSpec / PolicyBlock. Pure: the caller reads the file.
#pragma once

#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/spec/cell_spec.h"
#include "brig/spec/diagnostics.h"

namespace brig::spec {

// Parses a cell YAML document. `filename` is used in origins and messages.
// Unknown keys and wrong types are reported with file:line and a did-you-mean;
// nothing is validated beyond shape (see validate()).
Result<CellSpec> parse_cell(std::string_view text, const std::string& filename);

// A cell YAML document read as far as it goes: every shape error (unknown
// key, wrong type) as a diagnostic, and the spec without the fields that had
// one, so validation can still judge the rest and every problem is reported
// at once (resolve() takes the diagnostics in Sources::diags). An error only
// when nothing can be read: YAML syntax, a second document, not a mapping.
struct ParsedCell {
  CellSpec spec;
  Diagnostics diags;
};
Result<ParsedCell> parse_cell_all(std::string_view text, const std::string& filename);

// Parses a profile file: a cell YAML without name, image or command.
Result<CellSpec> parse_profile(std::string_view text, const std::string& filename,
                               const std::string& profile_name);

// Parses a policy document (JSON or YAML): {allow, deny, tls_passthrough, rate_limits}.
// When its shape is wrong, the error also carries validate_policy's word on
// what did parse, so one run reports every problem of the file.
Result<PolicyBlock> parse_policy(std::string_view text, const std::string& filename);

}  // namespace brig::spec
