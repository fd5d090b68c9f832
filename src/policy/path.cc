#include "brig/policy/path.h"

namespace brig::policy {
namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Appends segment [b, e) of the decoded path to out, resolving dot segments.
void push_segment(std::string& out, std::string_view seg) {
  if (seg.empty() || seg == ".") return;
  if (seg == "..") {
    // Drop the last segment (out is "/a/b" or "").
    auto pos = out.rfind('/');
    out.resize(pos == std::string::npos ? 0 : pos);
    return;
  }
  out += '/';
  out.append(seg);
}

// Resolves the segments of `decoded` (absolute) into out: repeated slashes
// merged, dot segments resolved, a trailing slash kept.
void resolve_segments(std::string_view decoded, std::string& out) {
  out.clear();
  std::size_t start = 1;
  while (start <= decoded.size()) {
    auto slash = decoded.find('/', start);
    if (slash == std::string::npos) slash = decoded.size();
    push_segment(out, decoded.substr(start, slash - start));
    start = slash + 1;
  }
  // Keep a trailing slash ("/v1/" stays distinct from "/v1"), and "/" for the root.
  const bool trailing = decoded.size() > 1 && (decoded.back() == '/' || decoded.ends_with("/.") || decoded.ends_with("/.."));
  if (out.empty() || trailing) out += '/';
}

// One round of percent-decoding of every well-formed escape; a '%' not
// followed by two hex digits stays as it is. Returns true if anything changed.
bool decode_round(std::string_view in, std::string& out) {
  out.clear();
  bool changed = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
      out += static_cast<char>(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
      i += 2;
      changed = true;
    } else {
      out += in[i];
    }
  }
  return changed;
}

}  // namespace

bool decode_path(std::string_view normalized, std::string& out) {
  if (normalized.empty() || normalized.front() != '/') return false;
  thread_local std::string a, b;
  a.assign(normalized);
  int rounds = 0;
  while (a.find('%') != std::string::npos && decode_round(a, b)) {
    a.swap(b);
    if (++rounds > kMaxDecodeRounds) return false;
  }
  for (auto& c : a) {
    if (c == '\\') c = '/';
  }
  if (a.front() != '/') return false;
  resolve_segments(a, out);
  return true;
}

bool normalize_path(std::string_view raw, std::string& out) {
  out.clear();
  auto end = raw.find_first_of("?#");
  if (end != std::string_view::npos) raw = raw.substr(0, end);
  if (raw.empty() || raw.front() != '/') return false;

  // Decode into a small scratch, then resolve segments. Decoding first means
  // "%2e%2e" is a ".." segment, as an upstream server would treat it.
  thread_local std::string decoded;
  decoded.clear();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c <= 0x20 || c == 0x7f) return false;
    if (c != '%') {
      decoded += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    const int hi = hexval(raw[i + 1]), lo = hexval(raw[i + 2]);
    if (hi < 0 || lo < 0) return false;
    const char v = static_cast<char>(hi * 16 + lo);
    if (unreserved(v)) {
      decoded += v;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      decoded += '%';
      decoded += kHex[hi];
      decoded += kHex[lo];
    }
    i += 2;
  }

  resolve_segments(decoded, out);
  return true;
}

bool glob_match(std::string_view pat, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pat.size() && pat[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

}  // namespace brig::policy
