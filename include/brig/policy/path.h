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

// `*` matches any run of characters, '/' included; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace brig::policy
