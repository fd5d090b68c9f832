#include "held_lines.h"

namespace brig::proc {

bool HeldLines::matches(std::string_view line) const {
  for (const auto& p : prefixes_) {
    if (line.substr(0, p.size()) == p) return true;
  }
  return false;
}

bool HeldLines::may_match(std::string_view start) const {
  for (const auto& p : prefixes_) {
    const size_t n = std::min(p.size(), start.size());
    if (start.substr(0, n) == std::string_view(p).substr(0, n)) return true;
  }
  return false;
}

std::string HeldLines::feed(std::string_view chunk) {
  std::string out;
  for (char c : chunk) {
    if (passing_) {
      out += c;
      if (c == '\n') passing_ = false;
      continue;
    }
    line_ += c;
    if (c == '\n') {
      (matches(line_) ? held_ : out) += line_;
      line_.clear();
    } else if (!may_match(line_)) {
      out += line_;
      line_.clear();
      passing_ = true;
    }
  }
  return out;
}

std::string HeldLines::finish() {
  std::string out;
  if (matches(line_)) {
    held_ += line_;
  } else {
    out = line_;
  }
  line_.clear();
  passing_ = false;
  return out;
}

}  // namespace brig::proc
