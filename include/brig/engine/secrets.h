// $BRIG_HOME/secrets: one file per secret, 0600, mounted read-only into the
// cells that name it at /run/secrets/<name>, or injected by warden into a
// cell's requests (state/secret_injections.h). Values never reach argv, the
// environment or a log.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::engine {

struct SecretInfo {
  std::string name;
  std::uint64_t size = 0;
};

// The largest value a secret may hold.
inline constexpr std::size_t kSecretMaxBytes = 1u << 20;

// Stores `value` as secret `name` (replacing it): name rules of the spec, written
// 0600 through a temp file opened O_NOFOLLOW|O_EXCL, renamed into place.
// Whether running cells mount it is secret_unused's question, asked first.
Status secret_add(const Paths& paths, const std::string& name, const std::string& value);
Result<std::vector<SecretInfo>> secret_list(const Paths& paths);
// Refuses (Errc::exists) while a running cell in `users` uses it, unless forced.
Status secret_rm(const Paths& paths, const std::string& name, const std::vector<std::string>& running_users, bool force);

// The rule `secrets add` (replacing) and `secrets rm` share: a secret that the
// running cells in `running_users` mount is left alone unless `force`
// (Errc::exists, naming the cells; the fix stops them or runs `retry`, the
// command that forces it).
Status secret_unused(const std::string& name, const std::vector<std::string>& running_users, bool force,
                     const std::string& retry);

// A fresh placeholder for injected secret `name` (state::make_placeholder
// over 16 bytes of getrandom(2)): unique to a cell and its run.
Result<std::string> new_placeholder(const std::string& name);

// The stored value of secret `name` as warden injects it
// (state::injected_value: one trailing newline dropped). Errc::not_found when
// it does not exist; Errc::invalid when no HTTP header could carry it
// (state::check_secret_value). No error holds the value.
Result<std::string> injectable_value(const Paths& paths, const std::string& name);

// SHA-256 of `data`: how a secret's value is compared, so none is compared,
// copied or printed outside its one read.
using Digest = std::array<std::uint8_t, 32>;
Digest sha256(std::string_view data);
// The same digest as 64 lowercase hex digits (the ingress route table's
// token_sha256, state/ingress_routes.h).
std::string sha256_hex(std::string_view data);

// What may be known of one secret's value outside this file: the SHA-256 (hex)
// and length of the value without the whitespace around it (a value stored by
// `openssl rand -hex 32 | brig secrets add` ends in a newline). nullopt when
// the secret does not exist; an error when it cannot be read.
struct SecretFingerprint {
  std::string sha256_hex;
  std::size_t size = 0;
};
Result<std::optional<SecretFingerprint>> secret_fingerprint(const Paths& paths, const std::string& name);

// Every stored secret as digests, to find a secret's value where it must never
// be (a cell's environment, `run --env`) by name, never by value. A value is
// found in `text` when `text` is it (ignoring spaces, tabs and line ends around
// either; values of at least kMinEqual bytes) or holds it (values of at least
// kMinContained bytes). "Value" is the stored bytes without the whitespace
// around them (a file written by `echo` ends in a newline the environment
// would not hold).
class SecretDigests {
 public:
  static constexpr std::size_t kMinEqual = 4;
  static constexpr std::size_t kMinContained = 8;

  // Reads every secret once; an unreadable one is an error (nothing can be
  // said about it). No secrets: an empty set, which finds nothing.
  static Result<SecretDigests> load(const Paths& paths);

  // The names of the secrets found in `text`, sorted, each once.
  std::vector<std::string> found_in(std::string_view text) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string name;
    std::size_t size = 0;     // of the trimmed value
    Digest digest{};          // of the trimmed value
    std::uint64_t rolling = 0;  // polynomial hash of the trimmed value: a window to digest
  };
  std::vector<Entry> entries_;
};

}  // namespace brig::engine
