// Merging layers: flag > yaml > profile > defaults, for every field.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/spec/cell_spec.h"

namespace brig::spec {

// The built-in profile names, in a stable order.
const std::vector<std::string>& builtin_profiles();

// The built-in profile `name` as a layer (origins say "profile <name>"), or
// nullopt for an unknown name.
std::optional<CellSpec> builtin_profile(const std::string& name);

// Spec-wide defaults (runtime runsc, workspace_mount /work, trust_warden_ca, ...).
CellSpec defaults();

// Merges `high` over `low`. Scalars and lists: the higher layer's value wins.
// Maps (env, labels): key by key, the higher layer winning per key. `secrets`:
// union by name, lower first, the higher layer's entry winning per name. The
// policy lists (allow, deny, tls_passthrough): union, lower first.
CellSpec merge(const CellSpec& low, const CellSpec& high);

// True if the layer (a resolved profile) marks itself untrusted: its name is
// "untrusted" or its labels carry brig.profile=untrusted.
bool profile_is_untrusted(const std::string& name, const CellSpec& profile_layer);

}  // namespace brig::spec
