#include "brig/core/timefmt.h"

#include <ctime>

namespace brig::timefmt {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string rfc3339(std::int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_rfc3339() { return rfc3339(now_seconds()); }

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  if (text.size() != 20) return std::nullopt;  // exactly YYYY-MM-DDTHH:MM:SSZ
  const std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string short_span(std::int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace brig::timefmt
