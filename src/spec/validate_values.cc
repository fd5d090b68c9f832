// The value grammars validation shares with the rest of brig: sizes,
// durations, secret and cell names, and the small text predicates behind them.
#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <vector>

#include "brig/core/strings.h"
#include "brig/spec/validate.h"
#include "checks.h"

namespace brig::spec {
namespace detail {

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool valid_label(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max || s.back() == '-') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> normalize_abs(std::string_view p) {
  if (p.empty() || p.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  for (auto& seg : str::split(p, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return std::nullopt;
    parts.push_back(seg);
  }
  return "/" + str::join(parts, "/");
}

std::optional<double> parse_number(std::string_view s) {
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace detail

using detail::has_control;
using detail::parse_number;

std::optional<std::uint64_t> parse_size(std::string_view s) {
  s = str::trim(s);
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  if (!s.empty() && lower(s.back()) == 'b') s.remove_suffix(1);  // "2gb", "512b"
  std::uint64_t mult = 1;
  if (!s.empty()) {
    switch (lower(s.back())) {
      case 'k': mult = 1ull << 10; break;
      case 'm': mult = 1ull << 20; break;
      case 'g': mult = 1ull << 30; break;
      case 't': mult = 1ull << 40; break;
      default: break;
    }
  }
  if (mult != 1) s.remove_suffix(1);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  auto d = parse_number(s);
  if (!d) return std::nullopt;
  const double bytes = *d * static_cast<double>(mult);
  if (bytes > 1.8e19 || std::floor(bytes) != bytes) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::optional<std::uint64_t> parse_duration(std::string_view s) {
  s = str::trim(s);
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!s.empty()) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p == s.data() || p == s.data() + s.size()) return std::nullopt;
    std::uint64_t unit = 0;
    switch (*p) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return std::nullopt;
    }
    if (n > (1ull << 40)) return std::nullopt;
    total += n * unit;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()) + 1);
  }
  return total;
}

std::optional<std::string> check_secret_name(std::string_view n) {
  if (n.empty()) return "it is empty";
  if (n.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  if (has_control(n)) return "it contains a control character";
  if (n.front() == '-') return "it starts with '-'";
  if (n.find('/') != std::string_view::npos) return "it contains '/'";
  if (n.find("..") != std::string_view::npos) return "it contains '..'";
  if (n == ".") return "it is '.'";
  if (n.size() > 255) return "it is longer than 255 characters";
  return std::nullopt;
}

bool reserved_cell_name(std::string_view n) {
  // Names brig's own state and infrastructure use (state/system, brig-warden, brig-ext).
  return n == "system" || n == "warden" || n == "ext";
}

std::optional<std::string> check_cell_name(std::string_view n) {
  if (reserved_cell_name(n)) return "cell name " + str::quote(n) + " is reserved for brig's own use; pick another name";
  if (!valid_cell_name(n)) {
    return "invalid cell name " + str::quote(n) + "; use 1-63 lowercase letters, digits and '-', starting with a letter or digit";
  }
  return std::nullopt;
}

bool valid_cell_name(std::string_view n) {
  if (n.empty() || n.size() > 63 || reserved_cell_name(n)) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}
}  // namespace brig::spec
