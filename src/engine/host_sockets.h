// Host sockets (a spec's host_sockets): the check made on the real file at
// every start, after validation made it on the path. Not part of the
// engine's interface.
#pragma once

#include <string>

#include "brig/core/error.h"
#include "brig/engine/record.h"

namespace brig::engine {

// The one start-time check of a host socket (brig run before anything is
// made, and every cell start before podman start). Opens `host_path` once
// (O_PATH|O_NOFOLLOW|O_CLOEXEC) and judges that open file, so nothing can be
// swapped between the checks: it is not a symlink, it is a unix socket, and
// its real path (read back from the descriptor) names that same file, is no
// engine's socket (spec::engine_socket) and is not inside `brig_home`.
// Returns the real path, which is what the cell mounts. Errors name socket
// `name`, say why with a fix, and exit 125 (brig could not start the cell).
Result<std::string> check_host_socket(const std::string& name, const std::string& host_path,
                                      const std::string& brig_home);

// A stopped cell's host sockets before it starts again: each passes
// check_host_socket (on its checked_path(): the bridge's from the Mac) and
// still resolves to the `source` it was created with (podman mounts that
// path; another file there now is refused).
Status recheck_host_sockets(const CellRecord& rec, const std::string& brig_home);

// The note `brig run` prints for each host socket (invariant 8: uninspected
// traffic is said where it exists).
std::string host_socket_note(const HostSocketRef& s);

}  // namespace brig::engine
