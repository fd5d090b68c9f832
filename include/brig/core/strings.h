// Small string utilities shared by every module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brig::str {

std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);

// Levenshtein distance (byte-wise).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo
// (distance <= max(1, len/3)), for "did you mean" hints.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// Quotes for messages: "x" with control characters escaped.
std::string quote(std::string_view s);

}  // namespace brig::str
