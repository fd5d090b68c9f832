// `brig warden serve`: the egress proxy. No Asio in this header.
#pragma once

#include <string>

#include "brig/core/error.h"
#include "brig/warden/config.h"

namespace brig::warden {

// Runs warden until SIGTERM or SIGINT (draining open connections for at most
// cfg.limits.drain_timeout); SIGHUP reloads policy files. Prints the bound
// addresses as one JSON line on stdout once listening:
//   {"proxy": "127.0.0.1:41234", "ops": "127.0.0.1:41235"}
// Creates the CA in $BRIG_HOME/ca if absent. Returns when stopped.
Status serve(const Config& cfg);

// Creates brig's CA in `dir` (ca.crt, ca.key) unless both exist; an error when
// only one does.
Status ensure_ca(const std::string& dir);

}  // namespace brig::warden
