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

// Parses a profile file: a cell YAML without name, image or command.
Result<CellSpec> parse_profile(std::string_view text, const std::string& filename,
                               const std::string& profile_name);

// Parses a policy document (JSON or YAML): {allow, deny, tls_passthrough, rate_limits}.
Result<PolicyBlock> parse_policy(std::string_view text, const std::string& filename);

}  // namespace brig::spec
