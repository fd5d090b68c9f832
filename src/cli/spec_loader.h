// Reads the files a cell spec comes from and resolves it (spec::resolve).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/spec/resolve.h"

namespace brig::cli {

// The host as spec validation sees it: lstat and realpath, nothing else.
class HostProbe final : public spec::Probe {
 public:
  Kind kind(const std::string& path) const override;
  std::optional<std::string> realpath(const std::string& path) const override;
};

// Reads and parses a cell YAML file (size-capped).
Result<spec::CellSpec> read_cell_file(const std::string& path);

// `--allow DOMAIN[:PORT]` flags as the layer's policy.allow (brig run,
// brig image build); a flag that does not parse is a diagnostic in `bad`.
void add_allow_flags(spec::CellSpec& layer, const std::vector<std::string>& allow, spec::Diagnostics& bad);

// defaults < profile < `file` < `flags`, validated against the host. The
// file's shape errors and `flag_diags` (flags that did not parse) are
// reported together with validation's, every problem at once.
Result<spec::Resolved> load_spec(const Paths& paths, const std::optional<std::string>& file,
                                 const spec::CellSpec& flags, const spec::Diagnostics& flag_diags = {});

// A cell spec's text (the API's request body: JSON is YAML) resolved as a
// file is; `source` names it in messages.
// `flags` over it as over a file (brig run --pool falling back to a cold start).
Result<spec::Resolved> load_spec_text(const Paths& paths, const std::string& text, const std::string& source,
                                      const spec::CellSpec& flags = {}, const spec::Diagnostics& flag_diags = {});

}  // namespace brig::cli
