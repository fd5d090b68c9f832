// A cell's ingress on the engine's side: the routes its spec declares, its
// bearer token (the secret <cell>-ingress-token), the entry it gets in warden's
// route table (state/ingress_routes.h) and the URLs brig prints. Every engine
// write of the route table goes through here. A cell without ingress never
// reaches the table (nor an extra podman call). Not part of the engine's
// interface.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/host.h"
#include "brig/engine/podman_client.h"
#include "brig/engine/record.h"
#include "brig/spec/cell_spec.h"
#include "brig/state/ingress_routes.h"

namespace brig::engine::ingress {

// Shorter tokens are accepted with a warning.
inline constexpr std::size_t kMinTokenChars = 32;

std::string token_secret(const std::string& cell);  // "<cell>-ingress-token"

// The routes a spec (or a record's resolved spec) declares; empty for none.
std::vector<state::IngressRoute> routes(const spec::CellSpec& s);
std::vector<state::IngressRoute> routes(const CellRecord& rec);

struct Url {
  std::string name;
  int port = 0;
  std::string path_prefix;
  std::string url;  // https://<cell>.<domain>:<published port><path_prefix>
};
// Pure: one URL per route (":443" is left out).
std::vector<Url> urls(const HostConfig& cfg, const std::string& cell, const std::vector<state::IngressRoute>& routes);

// The token as warden compares it: the secret's value without the whitespace
// around it (`openssl rand -hex 32 | brig secrets add` stores a newline).
struct Token {
  std::string sha256;   // 64 lowercase hex digits
  std::size_t chars = 0;
};
// Errc::not_found (exit 125) when the secret does not exist, Errc::invalid
// when it is empty; each with the command that stores a good one.
Result<Token> read_token(const Paths& paths, const std::string& cell);
// "the token ... is only N characters ..." when it is shorter than kMinTokenChars.
std::optional<std::string> short_token_warning(const std::string& cell, const Token& t);

// The cell's address on its network as podman sees it, else the address it
// was created with (record.subnet.cell_ip(): podman assigns --ip only once the
// container runs, so a created container has none to inspect yet).
std::string cell_address(const Podman& podman, const CellRecord& rec, bool inspect);

// The route table entry of a running cell: its routes, address and token digest.
state::IngressCell entry(const CellRecord& rec, const Token& token, const std::string& address);

// "ingress: URL (route NAME -> port PORT)" lines for stderr.
std::string describe(const HostConfig& cfg, const CellRecord& rec);

}  // namespace brig::engine::ingress
