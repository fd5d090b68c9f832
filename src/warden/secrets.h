// Injected secrets (state/secret_injections.h): a cell's env holds only a
// placeholder; warden puts the real value in its place, in request header
// values and the URL query, for requests to the secret's hosts under MITM
// (plain HTTP only with allow_plaintext). A placeholder anywhere else — to
// another host, in the URL path, in a body, in a CONNECT head — refuses the
// request (403, code `secret`): an exfiltration attempt. A response that
// carries an injected value back has the value in its head replaced by the
// placeholder, and is cut if its body carries it. Private to module warden.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http_checks.h"
#include "snapshot.h"

namespace brig::warden {

// Finds any of a few strings in a stream fed in pieces (a string split
// across two pieces is found too). The needles are not copied: they must
// outlive the scanner.
class NeedleScanner {
 public:
  explicit NeedleScanner(std::span<const std::string> needles);
  // The index of a needle that appears in what was fed so far, or nullopt.
  std::optional<std::size_t> feed(std::string_view piece);
  bool hit() const { return hit_.has_value(); }
  std::optional<std::size_t> which() const { return hit_; }

 private:
  std::span<const std::string> needles_;
  std::size_t longest_ = 0;
  std::string carry_;  // the last longest_-1 bytes fed
  std::optional<std::size_t> hit_;
};

// The cell's secrets whose placeholders `text` holds.
std::vector<const CellSecret*> placeholders_in(std::string_view text, const std::vector<CellSecret>& secrets);

// What inject() did.
struct Injection {
  std::vector<const CellSecret*> injected;  // each secret put into the request
  std::optional<std::string> refused;       // why the request must be refused (names the secret, never its value)
};

// Replaces the cell's placeholders in `req`'s header values and in the query
// of `path` (the origin-form target the upstream will see) when the request
// goes to `host` over TLS (`tls`), or over plain HTTP to a secret that
// allows it; otherwise leaves everything as it was and says why it must be
// refused.
Injection inject(Request& req, std::string& path, const std::vector<CellSecret>& secrets, std::string_view host,
                 bool tls);

// Replaces each injected value in `res`'s header values by its placeholder.
void scrub_response_head(Response& res, const std::vector<const CellSecret*>& injected);

// Why a CONNECT head (no injection ever happens there) must be refused, or nullopt.
std::optional<std::string> refuse_in_connect_head(const http::request_header<>& head, const std::vector<CellSecret>& secrets);

// The reason for a placeholder found in a request body.
std::string body_refusal(const CellSecret& s);

}  // namespace brig::warden
