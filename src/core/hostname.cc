#include "brig/core/hostname.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "brig/core/strings.h"

namespace brig::hostname {
namespace {

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// WHATWG URL rule: a host whose last label is numeric (or 0x-hex) is an IPv4
// address, well-formed or not.
bool last_label_numeric(std::string_view host) {
  auto pos = host.rfind('.');
  std::string_view last = pos == std::string_view::npos ? host : host.substr(pos + 1);
  if (all_digits(last)) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (char c : last.substr(2))
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
  }
  return false;
}

// inet_pton and inet_aton want a NUL-terminated string. Hosts are short, so
// copy into a stack buffer: warden asks this for every request, and a heap
// copy per call was most of the allocations on that path.
template <class F>
bool with_cstr(std::string_view s, F&& f) {
  char buf[256];
  if (s.size() >= sizeof buf) return f(std::string(s).c_str());
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  return f(buf);
}

bool parse_v6(std::string_view h) {
  in6_addr a{};
  return with_cstr(h, [&](const char* s) { return inet_pton(AF_INET6, s, &a) == 1; });
}

bool parse_v4_any(std::string_view h) {
  in_addr a{};
  return with_cstr(h, [&](const char* s) { return inet_aton(s, &a) != 0; });
}

Status check_labels(std::string_view h) {
  if (h.size() > 253) return Error(Errc::invalid, "host name is longer than 253 characters");
  std::size_t start = 0;
  while (start <= h.size()) {
    auto dot = h.find('.', start);
    std::string_view label = h.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return Error(Errc::invalid, "host name has an empty label");
    if (label.size() > 63) return Error(Errc::invalid, "host name label is longer than 63 characters");
    for (char c : label) {
      if (!is_label_char(c)) {
        return Error(Errc::invalid, std::string("host name has an invalid character '") + c + "'");
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

}  // namespace

bool is_ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return true;
  if (host.find(':') != std::string_view::npos) return parse_v6(host);
  return parse_v4_any(host) || last_label_numeric(host);
}

Status normalize_into(std::string_view host, std::string& out) {
  out.clear();
  if (host.empty()) return Error(Errc::invalid, "host is empty");
  bool non_ascii = false;
  for (unsigned char c : host) {
    if (c < 0x20 || c == 0x7f || c == ' ') return Error(Errc::invalid, "host contains a control character or space");
    if (c == '@') return Error(Errc::invalid, "host contains userinfo ('@'); remove the user:password@ part");
    if (c >= 0x80) non_ascii = true;
  }
  // IPv6 literal, bracketed or bare.
  if (host.front() == '[' || host.find(':') != std::string_view::npos) {
    std::string_view inner = host;
    if (host.front() == '[') {
      if (host.back() != ']') return Error(Errc::invalid, "unterminated IPv6 literal");
      inner = host.substr(1, host.size() - 2);
    }
    if (!parse_v6(inner)) return Error(Errc::invalid, "invalid IPv6 address");
    out.assign(inner);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return {};
  }
  if (host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return Error(Errc::invalid, "host is empty");

  if (non_ascii) {
    char* ascii = nullptr;
    std::string in(host);
    int rc = idn2_to_ascii_8z(in.c_str(), &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
      return Error(Errc::invalid, std::string("internationalised host name does not convert to punycode: ") +
                                      idn2_strerror(rc));
    }
    out.assign(ascii);
    idn2_free(ascii);
  } else {
    out.assign(host);
  }
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (parse_v4_any(out)) return {};  // an IPv4 literal in some spelling
  if (last_label_numeric(out)) return Error(Errc::invalid, "host looks like a malformed IPv4 address");
  return check_labels(out);
}

Result<std::string> normalize(std::string_view host) {
  std::string out;
  if (auto st = normalize_into(host, out); !st) return st.error();
  return out;
}

Result<AuthorityParts> split_authority(std::string_view text, PortRange ports) {
  AuthorityParts a;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error(Errc::usage, "unterminated IPv6 literal in " + str::quote(text));
    a.host = text.substr(0, close + 1);
    a.bracketed = true;
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Error(Errc::usage, "unexpected text after ']' in " + str::quote(text));
      port = text.substr(close + 2);
      has_port = true;
    }
    if (a.host.size() == 2) return Error(Errc::usage, "no host in " + str::quote(text));
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return Error(Errc::usage, "an IPv6 address needs brackets: write [ADDR] or [ADDR]:PORT, not " + str::quote(text));
    }
    a.host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
  }
  if (a.host.empty()) return Error(Errc::usage, "no host in " + str::quote(text));
  if (has_port) {
    if (port.empty()) return Error(Errc::usage, "empty port in " + str::quote(text));
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v < ports.min || v > 65535) {
      return Error(Errc::usage, "invalid port in " + str::quote(text),
                   "use a port from " + std::to_string(ports.min) + " to 65535");
    }
    a.port = static_cast<std::uint16_t>(v);
  }
  return a;
}

Result<Authority> parse_authority(std::string_view text, std::uint16_t default_port) {
  auto parts = split_authority(text);
  if (!parts) return parts.error();
  auto h = normalize(parts->host);
  if (!h) return Error(Errc::usage, "invalid host " + str::quote(parts->host) + ": " + h.error().message());
  Authority a;
  a.host = std::move(*h);
  a.port = parts->port.value_or(default_port);
  a.port_given = parts->port.has_value();
  return a;
}

bool is_public_suffix(std::string_view canonical_host) {
  // Debian's libpsl carries the list built in (from publicsuffix, no file
  // read); psl_latest is the fallback for a build without it.
  static const psl_ctx_t* const psl = [] {
    const psl_ctx_t* b = psl_builtin();
    return b && psl_suffix_count(b) > 0 ? b : psl_latest(nullptr);
  }();
  if (!psl || canonical_host.empty()) return false;
  const std::string h(canonical_host);
  // Listed suffixes only (ICANN and private, so github.io counts): the implicit
  // "*" rule would make every unlisted TLD (".internal", ".test") one too.
  return psl_is_public_suffix2(psl, h.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

Result<Pattern> Pattern::parse(std::string_view text) {
  Pattern p;
  if (text.size() >= 2 && text.substr(0, 2) == "*.") {
    p.wildcard = true;
    text.remove_prefix(2);
  }
  if (text.find('*') != std::string_view::npos) {
    return Error(Errc::invalid, "'*' is only allowed as a leading '*.' (as in *.example.com)");
  }
  auto norm = normalize(text);
  if (!norm) return norm.error();
  if (is_ip_literal(*norm)) {
    return Error(Errc::invalid, "IP addresses cannot be policy domains; warden refuses IP destinations",
                 "use a domain name, or a resolve override in warden.yaml for a fixed address");
  }
  if (p.wildcard && norm->find('.') == std::string::npos) {
    return Error(Errc::invalid, "a wildcard must name at least a two-label domain (*.example.com, not *.com)");
  }
  if (p.wildcard && is_public_suffix(*norm)) {
    return Error(Errc::invalid, "a wildcard must name a domain below a public suffix (*.example." + *norm + ", not *." +
                                    *norm + ")");
  }
  p.domain = std::move(*norm);
  return p;
}

bool Pattern::matches(std::string_view h) const {
  if (!wildcard) return h == domain;
  return h.size() > domain.size() + 1 && h.substr(h.size() - domain.size()) == domain &&
         h[h.size() - domain.size() - 1] == '.';
}

bool Pattern::covers(const Pattern& other) const {
  if (!wildcard) return !other.wildcard && other.domain == domain;
  // *.x.com covers a.x.com, *.a.x.com and *.x.com.
  if (other.wildcard && other.domain == domain) return true;
  return matches(other.domain);
}

}  // namespace brig::hostname
