// $BRIG_HOME/state/system/ingress-routes.json: the route table of warden's
// ingress. The engine writes it (one entry per cell that declares ingress,
// under the state lock: added when the cell starts, marked stopped when it
// stops, removed with the cell); warden reads it, live, to route
// https://<cell>.<ingress_domain>/<path> to the cell's address and port.
// Warden takes the cell's address from here, never from a client. The cell's
// bearer token is not in the file: only its SHA-256, which warden compares
// with the digest of the token a client presents.
//
//   {"agent": {"address": "10.60.3.10", "running": true,
//              "token_sha256": "<64 lowercase hex>",
//              "routes": [{"name": "web", "port": 8080, "path_prefix": "/"}]}}
//
// This file is the format's one owner: every writer and reader goes through it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

struct IngressRoute {
  std::string name;
  int port = 0;
  std::string path_prefix = "/";
  bool operator==(const IngressRoute&) const = default;
};

struct IngressCell {
  std::string address;       // IP literal of the cell on its own network
  bool running = false;      // stopped: warden answers 503
  std::string token_sha256;  // 64 lowercase hex digits
  std::vector<IngressRoute> routes;
  bool operator==(const IngressCell&) const = default;
};

using IngressTable = std::map<std::string, IngressCell>;  // by cell name

inline constexpr std::size_t kMaxIngressRoutesBytes = 1u << 20;

std::string ingress_routes_path(const Paths& paths);  // state/system/ingress-routes.json

// Pure. Errc::invalid, each message starting with `source`, unless the text is
// a JSON object of cells in the shape above: cell names as the subnet map's,
// an IP literal, a digest of 64 lowercase hex digits, 1-16 routes, each with a
// name, a port 1-65535 and a path_prefix starting with '/'.
Result<IngressTable> parse_ingress_routes(std::string_view text, const std::string& source);
// Pure. The same checks, then two-space indented JSON with a final newline.
Result<std::string> serialize_ingress_routes(const IngressTable& table);

// The route of `cell` for the request path `path` (origin-form, query
// included): the one with the longest path_prefix that matches on a segment
// boundary ("/api" matches "/api", "/api/x" and "/api?q", not "/apix"; "/"
// and a prefix ending in '/' match any path starting with them). Null when
// none matches.
const IngressRoute* match_ingress_route(const IngressCell& cell, std::string_view path);

// The table on disk; an absent file is an empty table.
Result<IngressTable> load_ingress_routes(const Paths& paths);

// Read-modify-write under the state lock (state/lock.h); the file is written
// atomically, and removed when the table becomes empty.
Status put_ingress_cell(const Paths& paths, const std::string& cell, const IngressCell& entry);
// Marks the cell's entry stopped (its routes stay, for 503s); nothing to do
// when the cell has no entry.
Status stop_ingress_cell(const Paths& paths, const std::string& cell);
// Removes the cell's entry; nothing to do when it has none.
Status remove_ingress_cell(const Paths& paths, const std::string& cell);

}  // namespace brig::state
