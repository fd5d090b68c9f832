// Not built: tests/CMakeLists.txt compiles this with brig_spec's include
// directories and expects the second include to fail. The first proves the
// directories are spec's (it must be found, or the error names it instead).
#include "brig/spec/cell_spec.h"
#include "brig/engine/engine.h"
