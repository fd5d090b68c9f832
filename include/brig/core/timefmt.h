// Wall-clock times as brig writes them: RFC 3339 in UTC, whole seconds
// ("2026-12-01T10:00:00Z"), in events, records and time-boxed policy rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brig::timefmt {

// Seconds since the epoch, now.
std::int64_t now_seconds();
// "2026-12-01T10:00:00Z" for `epoch_seconds`.
std::string rfc3339(std::int64_t epoch_seconds);
// rfc3339(now_seconds()).
std::string now_rfc3339();
// The seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ", or nullopt for
// anything else (other offsets, fractions, trailing text).
std::optional<std::int64_t> parse_rfc3339(std::string_view text);
// A short span for people: "45s", "12m", "3h", "2d" (rounded down; 0s for
// negative spans).
std::string short_span(std::int64_t seconds);

}  // namespace brig::timefmt
