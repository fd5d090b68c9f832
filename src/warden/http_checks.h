// Request heads as warden sees them: where a request goes, what makes it
// malformed (Beast 1.74 accepts some smuggling-prone heads), and the headers
// that must not cross the proxy.
#pragma once

#include <optional>
#include <string>

#include "asio.h"
#include "brig/core/error.h"

namespace brig::warden {

using Request = http::request<http::buffer_body>;
using Response = http::response<http::buffer_body>;

struct Dest {
  std::string host;  // canonical (lowercase, punycode, no trailing dot)
  std::uint16_t port = 80;
  std::string path;  // origin-form target: "/path?query"
};

// Forward-proxy request: the target must be an absolute http:// URI whose
// host agrees with the Host header. https:// URIs must use CONNECT.
Result<Dest> absolute_target(const Request& req);
// Inside a MITM tunnel: origin-form target and a Host naming the tunnel's
// host (and port, if given). A mismatch is Errc::invalid (421).
Result<Dest> origin_target(const Request& req, const std::string& host, std::uint16_t port);
// A transparent request (a client that ignores proxy variables connected to
// warden's `port` itself): routed by its Host header, which must name that
// port (or none); an absolute http:// target must agree with it. No Host is
// Errc::usage (400); another port is Errc::invalid (421).
Result<Dest> transparent_target(const Request& req, std::uint16_t port);
// CONNECT host:port.
Result<Dest> connect_target(const Request& req);
// The Host header value naming `d` ("[v6]" bracketed, ":port" unless the default).
std::string host_header(const Dest& d, std::uint16_t default_port);

// How Beast's parser framed a message's body, read from the parser.
struct Framing {
  bool chunked = false;
  std::optional<std::uint64_t> length;
};
template <bool isRequest, class Body>
Framing framing_of(const http::parser<isRequest, Body>& p) {
  const auto length = p.content_length();
  return {p.chunked(), length ? std::optional<std::uint64_t>(*length) : std::nullopt};
}

// One standard form (RFC 9112), so the upstream frames the request exactly
// as warden did: one Host; exactly one framing, either a single
// `Transfer-Encoding: chunked` (HTTP/1.1 only) or one decimal Content-Length
// (equal duplicates and lists are collapsed to one line), agreeing with
// `parsed`; no control characters in the target or the fields. Returns why
// the head is refused (400, before a byte goes upstream), or nullopt once
// the head has been rewritten in that form.
std::optional<std::string> normalize_request_head(Request& req, const Framing& parsed);
// The same for an upstream's answer (refused with 502): one framing that
// agrees with `parsed`, chunked at most once and only last; Content-Length
// collapsed to one line.
std::optional<std::string> normalize_response_head(Response& res, const Framing& parsed);

bool is_websocket_upgrade(const Request& req);

// Origin-form target, hop-by-hop, Proxy-* and Expect headers removed, Upgrade
// kept only for WebSocket (h2c is refused by dropping it), keep-alive upstream.
void prepare_upstream_request(Request& req, const Dest& dest, bool websocket);
// Hop-by-hop headers removed; Connection set for the client.
void prepare_client_response(Response& res, bool keep_alive, bool upgraded);

// Appends the head (start line, fields, blank line) exactly as Beast's
// serializer writes it, without its buffer-sequence machinery, which cost
// more than all of warden's own work per request.
void serialize_head(std::string& out, const Request& req);
void serialize_head(std::string& out, const Response& res);

}  // namespace brig::warden
