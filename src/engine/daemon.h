// brig's own background processes (the host relay, the API): started
// detached by `system up`, found by their pidfile (which must name a process
// of this $BRIG_HOME running `verb`), stopped by `system down`.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/context.h"

namespace brig::engine::daemon {

struct Spec {
  std::string what;     // "the host relay", for messages
  std::string verb;     // " system host-relay ": in its command line
  std::string pidfile;  // written by the process itself (--pidfile)
  std::string socket;   // it serves here once up ("": none, up once its pidfile names it)
  std::string log;      // its stdout and stderr
  std::string event;    // "host_relay": events <event>_start, <event>_stop
  int grace_ms = 2000;  // from SIGTERM to SIGKILL (the API lets requests finish)
};

bool is_socket(const std::string& path);
// The command line of process `pid` with NULs as spaces, "" when it is gone.
std::string cmdline_of(long pid);
// The live process `pid`'s command line names `what` (pids are reused).
bool is_process(long pid, const std::string& what);
// Its pid when the pidfile names a live process of ours, else 0.
long pid(const Spec& d);
// Starts `argv` detached unless a running one is the same binary, serves its
// socket and `keep(pid)` says it will do (then nothing happens); a running
// one that will not do is stopped first. Waits up to 3 s for the socket.
Status start(EngineContext& ctx, const Spec& d, const std::vector<std::string>& argv, const std::string& brig_binary,
             const std::function<bool(long)>& keep = {}, const nlohmann::json& event = nlohmann::json::object());
// SIGTERM, then SIGKILL after its grace; none running is fine. Removes what a
// killed one leaves (socket, pidfile).
Status stop(EngineContext& ctx, const Spec& d);

}  // namespace brig::engine::daemon
