// Request paths as the policy sees them, and path globs.
#pragma once

#include <string>
#include <string_view>

namespace brig::policy {

// Normalises a request path into `out`: query and fragment dropped,
// percent-encoded unreserved characters decoded (so %2e is '.'), other escapes
// kept with uppercase hex, repeated slashes merged, "." and ".." segments
// resolved (never above "/"). Returns false for a path that is not absolute
// ("/..."), holds a malformed escape, a control character or a space.
bool normalize_path(std::string_view raw, std::string& out);

// How many rounds of percent-decoding decode_path() undoes ("%25252e" is three).
inline constexpr int kMaxDecodeRounds = 3;

// The path as the most-decoding upstream could read it, for a path already
// through normalize_path(): every escape decoded (%2F and %5C included), again
// and again until none is left ("%252e" -> "%2e" -> "."), backslashes read as
// slashes, then repeated slashes merged and dot segments resolved (never above
// "/"). So "/v1/..%2Fadmin" is "/admin" and "/v1/a%2Fb" is "/v1/a/b". Returns
// false for a path that is not absolute, or still encoded after
// kMaxDecodeRounds rounds: callers deny it.
//
// A path glob allows a request only if it matches both forms (the raw
// normalised one, and this one): an escape that would take the path out of the
// glob once an upstream decodes it is denied, while "/v1/a%2Fb" stays inside
// "/v1/*" either way and is allowed.
bool decode_path(std::string_view normalized, std::string& out);

// `*` matches any run of characters, '/' included; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace brig::policy
