// The host checks of a spec before a run: one function that both `brig run`
// (which refuses with the first failure) and `brig cell preflight` (which
// lists every check) call, so both refuse the same input with the same words.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/context.h"
#include "brig/engine/host.h"
#include "brig/engine/record.h"
#include "brig/spec/resolve.h"

namespace brig::engine {

struct HostCheck {
  std::string name;               // preflight's line: "spec", "host", "runtime", "secret X", "image", "warden", "name"
  std::string detail;             // what was found, when it passed
  std::optional<Error> failure;   // the error `brig run` refuses with
  std::string warning;            // passed, but `brig run` says this on stderr (preflight: WARN)
  // A host socket that passed ("host socket X"): what the run mounts.
  std::optional<HostSocketRef> socket = std::nullopt;
  // The image check of a pinned image: the ID of the local image whose
  // digest matched (the cell is made from exactly it).
  std::string image_id = {};
};

// In order: the spec concrete, the host config and runtime, the image given,
// each secret present, no stored secret's value in the environment, a name
// and the token secret <name>-ingress-token for a cell with ingress, a runsc
// that lets cells reach host sockets and each host socket as check_host_socket
// judges it (host_sockets.h) for a cell with host sockets, warden
// running, the image in local storage, no cell
// named `name` yet (skipped when `name` is empty). Runs no command but the
// three podman questions, asked at once. `brig run` (`for_run`) stops at the
// first failure and asks podman only what its own podman run does not answer
// as well (run.cc maps those answers to the same errors, image_missing and
// name_taken): a pinned image, and warden unless its runtime file names it
// running.
std::vector<HostCheck> check_host(const EngineContext& ctx, const spec::Resolved& resolved,
                                  const Result<HostConfig>& cfg, const std::string& name, bool for_run);

// The refusal of an image not in local storage, with how to get it (the
// pinned form `pinned` when there is one).
Error image_missing(const std::string& image, const std::string& pinned = "");
// The refusal of a name a cell (or any container named brig-NAME) holds.
Error name_taken(const std::string& name);

}  // namespace brig::engine
