// The one error type of brig: a code, a message saying what happened, and an
// optional fix saying what to do about it. Result<T> carries a value or an Error.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace brig {

enum class Errc {
  failed,       // generic failure (exit 1)
  usage,        // bad flag or argument (exit 2)
  invalid,      // bad input: spec, policy, config (exit 2)
  not_found,    // a file, cell or binary does not exist
  exists,       // something already exists
  io,           // the OS refused (open, write, rename ...)
  timeout,      // a deadline passed
  unavailable,  // the capability is not available (yet / on this host)
};

class Error {
 public:
  Error() = default;
  Error(Errc code, std::string message, std::string fix = {})
      : code_(code), message_(std::move(message)), fix_(std::move(fix)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& fix() const { return fix_; }

  // Prepends context: "reading policy: <message>".
  Error context(const std::string& what) const& {
    Error e = *this;
    e.message_ = what + ": " + message_;
    return e;
  }
  Error with_fix(std::string fix) const& {
    Error e = *this;
    e.fix_ = std::move(fix);
    return e;
  }
  // An exit code that says more than the code's (127: a cell's command does
  // not exist, as a shell and docker say).
  Error with_exit_code(int exit_code) const& {
    Error e = *this;
    e.exit_code_ = exit_code;
    return e;
  }

  // The process exit code this error maps to: the one given by
  // with_exit_code, else 2 for usage/invalid and 1 for the rest.
  int exit_code() const {
    if (exit_code_ >= 0) return exit_code_;
    return code_ == Errc::usage || code_ == Errc::invalid ? 2 : 1;
  }

 private:
  Errc code_ = Errc::failed;
  std::string message_;
  std::string fix_;
  int exit_code_ = -1;
};

// Builds an Error from errno: "<what>: <strerror>".
Error errno_error(const std::string& what, int err);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace brig

// Returns the error of a Result-returning expression from the enclosing function.
#define BRIG_TRY(expr)                        \
  do {                                        \
    auto brig_try_r_ = (expr);                \
    if (!brig_try_r_) return brig_try_r_.error(); \
  } while (0)
