// Internal to src/spec: the pieces the validate*.cc files share. Not a public
// header; the public promises are in brig/spec/validate.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "brig/core/fs.h"
#include "brig/spec/cell_spec.h"
#include "brig/spec/diagnostics.h"
#include "brig/spec/validate.h"

namespace brig::spec::detail {

// Appends one diagnostic: err(origin, "field", "message").
class Checker {
 public:
  explicit Checker(Diagnostics& d) : d_(d) {}
  void operator()(const Origin& o, std::string field, std::string msg) {
    d_.push_back({o, std::move(field), std::move(msg)});
  }

 private:
  Diagnostics& d_;
};

// A control character (below 0x20, or DEL) anywhere in `s`.
bool has_control(std::string_view s);
// A DNS-label style name: [a-z0-9] then [a-z0-9-], at most `max` long, no trailing '-'.
bool valid_label(std::string_view s, std::size_t max);
// Resolves "." and ".." and repeated slashes in an absolute path. nullopt if it
// is relative or contains a ".." segment (never allowed in spec paths).
std::optional<std::string> normalize_abs(std::string_view p);
using fs::is_under;
// The whole of `s` as a finite number, or nullopt.
std::optional<double> parse_number(std::string_view s);

// validate_host.cc: the workspace paths, host services and host sockets.
void check_paths(Checker& err, const CellSpec& s, const Probe* probe);
void check_host_services(Checker& err, const CellSpec& s, const ValidateOptions& opts);
void check_host_sockets(Checker& err, const CellSpec& s, const ValidateOptions& opts);

// validate_policy.cc: a cell spec's `policy:` block (its rules, passthrough, airgapped).
void check_policy(Checker& err, const CellSpec& s, const ValidateOptions& opts, Diagnostics& out);

}  // namespace brig::spec::detail
