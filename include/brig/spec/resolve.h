// From sources to a validated spec: the one path every entry point takes.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/spec/cell_spec.h"
#include "brig/spec/validate.h"

namespace brig::spec {

struct Sources {
  std::optional<CellSpec> yaml;  // the parsed --file, if any
  CellSpec flags;                // values given on the command line
  // Loads $BRIG_HOME/profiles/<name>.yaml: nullopt when there is no such file.
  // A user profile shadows the built-in of the same name.
  std::function<Result<std::optional<CellSpec>>(const std::string& name)> user_profile;
  std::vector<std::string> user_profile_names;  // for did-you-mean hints
  const Probe* probe = nullptr;
  bool from_mac = false;  // ValidateOptions::from_mac
  std::map<std::string, std::string> host_socket_bridges;  // ValidateOptions::host_socket_bridges
  // Problems the caller already found in these sources (the yaml's shape
  // errors from parse_cell_all, malformed flags): reported together with
  // validation's, so no error hides another.
  Diagnostics diags;
};

struct Resolved {
  CellSpec spec;
  bool untrusted = false;  // recognised by content, not only by name
  bool airgapped = false;
  // Sources::host_socket_bridges: the path the engine checks and mounts for
  // such a host socket, in place of its host_path on the Mac.
  std::map<std::string, std::string> host_socket_bridges;
};

// defaults < profile < yaml < flags, merged field by field, then validated
// once. Errors: Errc::invalid with every diagnostic, one per line.
Result<Resolved> resolve(const Sources& sources);

}  // namespace brig::spec
