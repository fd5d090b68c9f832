// Private to module proc: the filter behind Command::hold_stderr_lines. It
// passes a stream through as it arrives, except whole lines that start with
// one of the given prefixes, which it keeps back. Bytes that cannot start
// such a line are passed on at once (a prompt without a newline is not held).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace brig::proc {

class HeldLines {
 public:
  explicit HeldLines(std::vector<std::string> prefixes) : prefixes_(std::move(prefixes)) {}

  // What to write out now, after `chunk`.
  std::string feed(std::string_view chunk);
  // At end of stream: what is left to write out (an unfinished line that
  // matches is held).
  std::string finish();
  // The held lines, in order, newlines kept.
  const std::string& held() const { return held_; }

 private:
  bool matches(std::string_view line) const;
  bool may_match(std::string_view start) const;

  std::vector<std::string> prefixes_;
  std::string line_;      // the start of a line that may still match
  bool passing_ = false;  // the current line was already let through
  std::string held_;
};

}  // namespace brig::proc
