// Helpers shared by the engine unit tests: a throwaway $BRIG_HOME, file reads.
#pragma once

#include "util/files.h"

namespace brig::engine::testing {

using brig::testing::exists;
using brig::testing::slurp;
using brig::testing::spit;
using brig::testing::TempDir;

}  // namespace brig::engine::testing
