#include "http_checks.h"

#include <algorithm>
#include <charconv>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"

namespace brig::warden {
namespace {

std::vector<std::string_view> values_of(const http::fields& f, http::field name) {
  std::vector<std::string_view> out;
  auto [b, e] = f.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->value());
  return out;
}

bool has_ctl(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) {
      if (c != '\t') return true;
    }
  return false;
}

// "host", "host:port", "[v6]:port" -> canonical host and port (core's one
// authority parser, as spec, policy and the CLI use).
Result<Dest> parse_authority(std::string_view auth, std::uint16_t default_port) {
  auto a = hostname::parse_authority(auth, default_port);
  if (!a) return a.error();
  Dest d;
  d.host = std::move(a->host);
  d.port = a->port;
  return d;
}

// A fragment never goes on the wire (RFC 9110 §4.2.4): drop one a client sent.
std::string without_fragment(std::string path) {
  if (auto f = path.find('#'); f != std::string::npos) path.resize(f);
  return path.empty() ? "/" : path;
}

void strip_hop_by_hop(http::fields& f, bool keep_upgrade) {
  // One pass to see which hop-by-hop headers are there (most messages have
  // none but Connection): each erase() is a search of the field set.
  bool connection = false;
  std::vector<http::field> present;
  for (const auto& h : f) {
    switch (h.name()) {
      case http::field::connection: connection = true; break;
      case http::field::upgrade:
        if (keep_upgrade) break;
        [[fallthrough]];
      case http::field::proxy_connection:
      case http::field::proxy_authorization:
      case http::field::proxy_authenticate:
      case http::field::keep_alive:
      case http::field::te:
      case http::field::trailer:
      case http::field::http2_settings:
      case http::field::expect:  // warden answers 100-continue itself
        if (std::find(present.begin(), present.end(), h.name()) == present.end()) present.push_back(h.name());
        break;
      default: break;
    }
  }
  if (connection) {
    // Headers named by Connection are hop-by-hop too, except the ones that frame
    // or route the message: dropping Content-Length or Transfer-Encoding would
    // forward the body unframed, to be read as a second, unchecked message.
    std::vector<std::string> named;
    for (auto v : values_of(f, http::field::connection)) {
      for (auto& tok : str::split(v, ',')) {
        auto t = str::to_lower(str::trim(tok));
        if (t.empty() || t == "close" || t == "keep-alive" || (keep_upgrade && t == "upgrade")) continue;
        if (t == "content-length" || t == "transfer-encoding" || t == "host") continue;
        named.push_back(t);
      }
    }
    for (const auto& n : named) f.erase(n);
    f.erase(http::field::connection);
  }
  for (auto name : present) f.erase(name);
}

void append_fields(std::string& out, const http::fields& f) {
  for (const auto& h : f) {
    out += h.name_string();
    out += ": ";
    out += h.value();
    out += "\r\n";
  }
  out += "\r\n";
}

void append_version(std::string& out, unsigned version) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

}  // namespace

Result<Dest> absolute_target(const Request& req) {
  std::string_view t = req.target();
  const std::string lower = str::to_lower(t.substr(0, 8));
  if (lower.rfind("https://", 0) == 0) {
    return Error(Errc::usage, "https:// requests must use CONNECT (set HTTPS_PROXY, not only HTTP_PROXY)");
  }
  if (lower.rfind("http://", 0) != 0) {
    return Error(Errc::usage, "a proxy request needs an absolute http:// URI (is HTTP_PROXY set?)");
  }
  t.remove_prefix(7);
  const auto slash = t.find_first_of("/?#");
  std::string_view auth = t.substr(0, slash);
  if (auth.find('@') != std::string_view::npos) return Error(Errc::usage, "userinfo in the request URI is refused");
  auto d = parse_authority(auth, 80);
  if (!d) return d;
  d->path = slash == std::string_view::npos ? "/" : std::string(t.substr(slash));
  if (!d->path.empty() && d->path.front() != '/') d->path = "/" + d->path;
  d->path = without_fragment(std::move(d->path));
  auto it = req.find(http::field::host);
  if (it != req.end()) {
    auto h = parse_authority(it->value(), 80);
    if (!h || h->host != d->host || h->port != d->port) {
      return Error(Errc::usage, "the Host header does not match the request URI");
    }
  }
  return d;
}

Result<Dest> origin_target(const Request& req, const std::string& host, std::uint16_t port) {
  std::string_view t = req.target();
  if (t.empty() || t.front() != '/') {
    // An absolute-form target inside the tunnel must name the tunnel's host.
    auto abs = str::to_lower(t.substr(0, 8));
    if (abs.rfind("https://", 0) == 0) {
      auto rest = t.substr(8);
      auto slash = rest.find_first_of("/?#");
      auto d = parse_authority(rest.substr(0, slash), 443);
      if (!d || d->host != host || d->port != port) return Error(Errc::invalid, "request names another host than the tunnel");
      d->path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
      if (d->path.front() != '/') d->path = "/" + d->path;  // "https://host?q": origin-form needs the "/"
      d->path = without_fragment(std::move(d->path));
      return d;
    }
    return Error(Errc::usage, "malformed request target");
  }
  auto it = req.find(http::field::host);
  if (it == req.end()) return Error(Errc::invalid, "request has no Host header");
  auto h = parse_authority(it->value(), port);
  if (!h || h->host != host || h->port != port) {
    return Error(Errc::invalid, "Host " + str::quote(it->value()) + " does not match the tunnel's host " + host);
  }
  h->path = without_fragment(std::string(t));
  return h;
}

Result<Dest> transparent_target(const Request& req, std::uint16_t port) {
  auto it = req.find(http::field::host);
  if (it == req.end()) return Error(Errc::usage, "request has no Host header (transparent requests are routed by it)");
  std::string_view t = req.target();
  auto d = !t.empty() && t.front() == '/' ? parse_authority(it->value(), port) : absolute_target(req);
  if (!d) return Error(Errc::usage, d.error().message());
  if (d->port != port) {
    return Error(Errc::invalid, "Host " + str::quote(it->value()) + " names port " + std::to_string(d->port) +
                                    ", but the connection came to port " + std::to_string(port));
  }
  if (d->path.empty()) d->path = without_fragment(std::string(t));
  return d;
}

Result<Dest> connect_target(const Request& req) {
  std::string_view t = req.target();
  if (t.find('/') != std::string_view::npos || t.find('@') != std::string_view::npos) {
    return Error(Errc::usage, "CONNECT needs host:port");
  }
  if (t.find(':') == std::string_view::npos || (t.front() == '[' && t.find("]:") == std::string_view::npos)) {
    return Error(Errc::usage, "CONNECT needs host:port");
  }
  return parse_authority(t, 443);
}

namespace {

// The comma-separated list elements of every line of `name`, trimmed, empty
// elements dropped (RFC 9110 §5.6.1).
std::vector<std::string> list_elements(const http::fields& f, http::field name) {
  std::vector<std::string> out;
  for (auto v : values_of(f, name))
    for (auto& e : str::split(v, ','))
      if (auto t = str::trim(e); !t.empty()) out.emplace_back(t);
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The one Content-Length of `f`: every line and list element must be the same
// decimal number. Collapses the header to that single value.
std::optional<std::string> one_content_length(http::fields& f, const Framing& parsed) {
  // The common case, one line of plain digits, is checked without a copy.
  if (auto [b, e] = f.equal_range(http::field::content_length); b != e && std::next(b) == e && all_digits(b->value())) {
    std::uint64_t v = 0;
    std::from_chars(b->value().data(), b->value().data() + b->value().size(), v);
    if (parsed.chunked || parsed.length != v) return std::string("Content-Length framed differently");
    if (b->value().size() == 1 || b->value().front() != '0') return std::nullopt;  // no leading zeros to drop
  }
  std::optional<std::uint64_t> length;
  for (const auto& e : list_elements(f, http::field::content_length)) {
    if (!all_digits(e)) return "invalid Content-Length " + str::quote(e);
    std::uint64_t v = 0;
    std::from_chars(e.data(), e.data() + e.size(), v);
    if (length && *length != v) return std::string("differing Content-Length headers");
    length = v;
  }
  if (!length) return std::string("empty Content-Length");
  // Beast framed the body by the same number (anything else would be a parser bug).
  if (parsed.chunked || parsed.length != length) return std::string("Content-Length framed differently");
  f.set(http::field::content_length, std::to_string(*length));
  return std::nullopt;
}

std::optional<std::string> check_controls(const http::fields& f) {
  for (const auto& h : f) {
    if (has_ctl(h.value()) || has_ctl(h.name_string())) return "control character in header " + std::string(h.name_string());
  }
  return std::nullopt;
}

}  // namespace

std::string host_header(const Dest& d, std::uint16_t default_port) {
  std::string h = d.host.find(':') != std::string::npos ? "[" + d.host + "]" : d.host;
  if (d.port != default_port) h += ":" + std::to_string(d.port);
  return h;
}

std::optional<std::string> normalize_request_head(Request& req, const Framing& parsed) {
  if (has_ctl(req.target()) || req.target().find(' ') != std::string_view::npos) {
    return "control character in the request target";
  }
  if (auto bad = check_controls(req)) return bad;
  if (req.count(http::field::host) > 1) return "more than one Host header";
  const auto cl = req.count(http::field::content_length);
  const auto te = req.count(http::field::transfer_encoding);
  if (cl && te) return "both Content-Length and Transfer-Encoding";
  if (te) {
    if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (te > 1) return "more than one Transfer-Encoding header";
    const auto codings = list_elements(req, http::field::transfer_encoding);
    if (codings.size() != 1 || !str::iequals(codings.front(), "chunked")) {
      return "request Transfer-Encoding must be exactly chunked";
    }
    if (!parsed.chunked) return "Transfer-Encoding framed differently";
    if (req[http::field::transfer_encoding] != "chunked") req.set(http::field::transfer_encoding, "chunked");
    return std::nullopt;
  }
  if (cl) return one_content_length(req, parsed);
  if (parsed.chunked || parsed.length) return "a body framed without a framing header";
  return std::nullopt;
}

std::optional<std::string> normalize_response_head(Response& res, const Framing& parsed) {
  if (auto bad = check_controls(res)) return bad;
  const auto cl = res.count(http::field::content_length);
  const auto te = res.count(http::field::transfer_encoding);
  if (cl && te) return "both Content-Length and Transfer-Encoding";
  if (te) {
    if (res.version() < 11) return "Transfer-Encoding in an HTTP/1.0 response";
    if (te > 1) return "more than one Transfer-Encoding header";
    // Chunked when (and only when) chunked is the last coding; otherwise the
    // body runs to the end of the connection. Beast and the client agree.
    const auto codings = list_elements(res, http::field::transfer_encoding);
    const bool chunked = !codings.empty() && str::iequals(codings.back(), "chunked");
    if (std::count_if(codings.begin(), codings.end(), [](const std::string& c) { return str::iequals(c, "chunked"); }) > (chunked ? 1 : 0)) {
      return "chunked must be the last coding, applied once";
    }
    if (chunked != parsed.chunked) return "Transfer-Encoding framed differently";
    return std::nullopt;
  }
  if (cl) return one_content_length(res, parsed);
  return std::nullopt;
}

bool is_websocket_upgrade(const Request& req) {
  auto up = req.find(http::field::upgrade);
  return up != req.end() && str::iequals(str::trim(up->value()), "websocket");
}

void prepare_upstream_request(Request& req, const Dest& dest, bool websocket) {
  req.target(dest.path);
  strip_hop_by_hop(req, websocket);
  if (websocket) {
    req.set(http::field::connection, "Upgrade");
  } else {
    req.keep_alive(true);
  }
}

void prepare_client_response(Response& res, bool keep_alive, bool upgraded) {
  strip_hop_by_hop(res, upgraded);
  if (upgraded) {
    res.set(http::field::connection, "Upgrade");
  } else {
    res.keep_alive(keep_alive);
  }
}

void serialize_head(std::string& out, const Request& req) {
  out += req.method_string();
  out += ' ';
  out += req.target();
  out += ' ';
  append_version(out, req.version());
  out += "\r\n";
  append_fields(out, req);
}

void serialize_head(std::string& out, const Response& res) {
  append_version(out, res.version());
  const unsigned code = res.result_int();
  out += ' ';
  out += static_cast<char>('0' + code / 100 % 10);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  const std::string_view reason = res.reason();
  out += reason.empty() ? http::obsolete_reason(static_cast<http::status>(code)) : reason;
  out += "\r\n";
  append_fields(out, res);
}

}  // namespace brig::warden
