// Validation and parse errors: "file:line: field: message".
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/spec/cell_spec.h"

namespace brig::spec {

struct Diagnostic {
  Origin origin;
  std::string field;    // "memory", "host_sockets[1].host_path"; empty for whole-file errors
  std::string message;

  // "cell.yaml:7: memory: invalid size ...".
  std::string str() const;
};

using Diagnostics = std::vector<Diagnostic>;

// Appends each of `more` unless `out` already reports its field: the same
// field or list (compared before any "[i]"), one inside it, or one it is
// inside. A value a parser rejected and left unset (or a list it skipped an
// entry of, shifting the indices) gets no second, misleading word.
void add_unreported(Diagnostics& out, const Diagnostics& more);

// One Errc::invalid Error whose message is every diagnostic, one per line.
Error to_error(const Diagnostics& diags);

}  // namespace brig::spec
