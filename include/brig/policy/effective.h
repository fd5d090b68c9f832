// The effective policy of a cell: the one place that combines the global
// policy with a cell's own block. `brig policy test|show` and warden's
// snapshot both call effective(), so they cannot disagree on a verdict or on
// the rate limit.
#pragma once

#include <optional>
#include <string_view>

#include "brig/core/error.h"
#include "brig/policy/policy.h"
#include "brig/spec/cell_spec.h"

namespace brig::policy {

struct EffectivePolicy {
  Policy policy;                       // global ∪ cell, deny wins, default deny
  std::optional<spec::RateLimit> rate;  // nullopt: no rate limit
};

// The rate limit for `cell_name`: the cell block's own default, else the
// global policy's rate_limits.cells.<cell_name>, else the global default,
// else none. `cell` may be null; `cell_name` may be empty (no per-cell entry).
std::optional<spec::RateLimit> resolve_rate(const spec::PolicyBlock& global, const spec::PolicyBlock* cell,
                                            std::string_view cell_name);

// Compiles global ∪ cell (Policy::compile) and resolves the rate limit. The
// cell is airgapped when `opts.airgapped` (a cell spec's profile) or the
// cell's block says so (the policy file the engine writes for it). `cell`
// may be null. Errors are Policy::compile's.
// `block` without the time-boxed grants that have ended at `now` (what
// compile() leaves out), for printing what is in force. now 0: all of it.
spec::PolicyBlock in_force(spec::PolicyBlock block, std::int64_t now);

Result<EffectivePolicy> effective(const spec::PolicyBlock& global, const spec::PolicyBlock* cell,
                                  std::string_view cell_name, const Options& opts = {});

}  // namespace brig::policy
