// A throwaway $BRIG_HOME and file helpers for the state tests.
#pragma once

#include "util/files.h"

namespace brig::state::testing {

using brig::testing::exists;
using brig::testing::slurp;
using brig::testing::spit;
using brig::testing::TempDir;

}  // namespace brig::state::testing
