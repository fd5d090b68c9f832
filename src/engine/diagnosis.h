// Why a cell that exited at once probably did, from its output: one
// "diagnosis: ..." line, or "" when nothing is recognised.
#pragma once

#include <string>
#include <vector>

#include "brig/core/error.h"

#include "brig/engine/record.h"

namespace brig::engine {

std::string diagnose(const std::string& output, int exit_code, const CellRecord& rec);

// What podman and runsc printed (`err`) when a cell could not start, said
// the way a shell would: 127 when the command does not exist, 126 when it
// cannot be executed, else 125 (docker's "the container could not run").
// The error carries that exit code; its message names the command.
Error start_failure(const std::string& err, const CellRecord& rec);

// The stderr lines of podman and runsc reporting that a cell could not start
// (Command::hold_stderr_lines for an attached start).
const std::vector<std::string>& start_failure_prefixes();

}  // namespace brig::engine
