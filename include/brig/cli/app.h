// The brig command line: builds the noun-verb tree, parses, runs one action.
#pragma once

namespace brig::cli {

// Runs brig with the given arguments and returns the process exit code
// (docs/reference/exit-codes.md). Never throws.
int main(int argc, char** argv);

}  // namespace brig::cli
