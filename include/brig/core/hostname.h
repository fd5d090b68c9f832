// Host names as brig compares them: lowercase ASCII, one trailing dot dropped,
// internationalised names in punycode (IDNA 2008 via libidn2), labels checked.
// Used by the cell spec (validation) and the policy engine (matching), so both
// see exactly the same form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "brig/core/error.h"

namespace brig::hostname {

// Writes the canonical form of `host` into `out` (reusing its capacity) or
// returns an error naming what is wrong: empty, userinfo ("user@host"), control
// characters, an empty or overlong label, a character outside [a-z0-9-_], a
// malformed IP literal, or an IDN that does not convert.
// IP literals are accepted and returned canonical lowercase; see is_ip_literal.
Status normalize_into(std::string_view host, std::string& out);
Result<std::string> normalize(std::string_view host);

// True if `host` is an IP address in any spelling glibc accepts for IPv4
// ("127.0.0.1", "127.1", "0x7f.1", "2130706433", "0177.0.0.1") or a bracketed or
// bare IPv6 address. Such hosts never match domain rules.
bool is_ip_literal(std::string_view host);

// True if `canonical_host` is on the Public Suffix List (ICANN or private
// section: "com", "co.uk", "github.io"), from Debian's libpsl. Unlisted TLDs
// ("internal", "test") are not.
bool is_public_suffix(std::string_view canonical_host);

// The parts of "host", "host:port", "[v6]" or "[v6]:port", split but not
// judged: `host` is as written (brackets kept), so a caller may still read a
// pattern such as "*.example.com:8443". The one authority syntax of brig
// (spec, CLI, policy targets, warden); parse_authority() adds the canonical host.
struct AuthorityParts {
  std::string_view host;              // as written; "[::1]" for a bracketed literal
  std::optional<std::uint16_t> port;  // none when not given
  bool bracketed = false;             // "[...]": an IPv6 literal
  // The host without brackets ("::1" for "[::1]").
  std::string_view bare() const { return bracketed ? host.substr(1, host.size() - 2) : host; }
};

struct PortRange {
  std::uint16_t min = 1;  // 0 for listen addresses ("port 0 picks one")
};

// Errors (Errc::usage), each quoting `text`: an empty host, an unterminated
// "[", text after "]" other than ":port", an unbracketed IPv6 address
// ("[2001:db8::1]:443", not "2001:db8::1:443"), an empty port, and
// "invalid port in \"TEXT\"" for a port that is not a number in min..65535.
Result<AuthorityParts> split_authority(std::string_view text, PortRange ports = {});

struct Authority {
  std::string host;  // canonical (normalize()): lowercase, punycode, IPv6 without brackets
  std::uint16_t port = 0;
  bool port_given = false;
};

// split_authority() and then the canonical host: `default_port` when no port
// is given. Also an error (Errc::usage): "invalid host \"H\": <why>".
Result<Authority> parse_authority(std::string_view text, std::uint16_t default_port);

// A policy pattern: "example.com" (exactly that host) or "*.example.com" (any
// subdomain at any depth, never example.com itself). Canonicalises the pattern.
// A wildcard on a single label or on a public suffix ("*.co.uk") is refused.
struct Pattern {
  std::string domain;     // canonical host, without "*."
  bool wildcard = false;  // "*." prefix

  static Result<Pattern> parse(std::string_view text);
  bool matches(std::string_view canonical_host) const;
  // True if every host `other` can match is also matched by this pattern.
  bool covers(const Pattern& other) const;
  std::string str() const { return wildcard ? "*." + domain : domain; }
};

}  // namespace brig::hostname
