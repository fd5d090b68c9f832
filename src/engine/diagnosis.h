// Why a cell that exited at once probably did, from its output: one
// "diagnosis: ..." line, or "" when nothing is recognised.
#pragma once

#include <string>

#include "brig/engine/record.h"

namespace brig::engine {

std::string diagnose(const std::string& output, int exit_code, const CellRecord& rec);

}  // namespace brig::engine
