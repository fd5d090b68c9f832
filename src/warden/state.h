// Renamed: the policy store is policy_store.h (snapshot.h, rate_limit.h). Kept so
// existing includes build; include policy_store.h in new code.
#pragma once
#include "policy_store.h"  // IWYU pragma: export
