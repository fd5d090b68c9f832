// brig's API: HTTP/1.1 + JSON on a unix socket (docs/reference/api.md). The
// API process calls the engine as the CLI does; it has no rules of its own.
#pragma once

#include <functional>
#include <string>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/spec/resolve.h"

namespace brig::api {

// A cell spec's text (JSON, which is YAML) resolved as `brig run --file`
// resolves a file: profiles, merging, validation against the host. The CLI
// owns that (cli/spec_loader.h) and hands it in.
using SpecLoader = std::function<Result<spec::Resolved>(const std::string& text)>;

struct ServeOptions {
  std::string socket;   // "" -> Paths::api_socket()
  std::string pidfile;  // written once serving, removed at the end ("" none)
  SpecLoader load_spec;
};

// Binds the socket (mode 0600, or api_group's; one server per socket, held
// by a lock beside it; a stale socket is replaced) and serves until SIGTERM or
// SIGINT; then removes the socket, lets requests in flight finish (up to
// 30 s) and ends the process. Returns only when it cannot start.
Status serve(const Paths& paths, const ServeOptions& opts);

}  // namespace brig::api
