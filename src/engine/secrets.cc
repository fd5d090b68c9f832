#include "brig/engine/secrets.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/unique_fd.h"
#include "brig/spec/validate.h"
#include "brig/state/secret_injections.h"

namespace brig::engine {
namespace {

Status check_name(const std::string& name) {
  if (auto why = spec::check_secret_name(name)) {
    return Error(Errc::usage, "invalid secret name " + str::quote(name) + ": " + *why,
                 "use letters, digits, '.', '_' and '-', e.g. openai-key");
  }
  return {};
}

// The polynomial hash of `s` modulo 2^64 that SecretDigests slides over a
// text: equal values hash alike, so only a matching window is digested.
constexpr std::uint64_t kBase = 1099511628211ull;

std::uint64_t rolling_hash(std::string_view s) {
  std::uint64_t h = 0;
  for (unsigned char c : s) h = h * kBase + c;
  return h;
}

}  // namespace

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  // libcrypto's one-shot digest: it fails only on allocation failure.
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1 || n != out.size()) {
    throw std::bad_alloc();
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : sha256(data)) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Result<std::optional<SecretFingerprint>> secret_fingerprint(const Paths& paths, const std::string& name) {
  BRIG_TRY(check_name(name));
  if (!fs::exists(paths.secret(name))) return std::optional<SecretFingerprint>();
  auto value = fs::read_file(paths.secret(name), kSecretMaxBytes);
  if (!value) {
    return Error(value.error().code(), "cannot read secret " + name + ": " + value.error().message(),
                 "brig secrets add " + name + " - < FILE");
  }
  const std::string_view v = str::trim(*value);
  return std::optional<SecretFingerprint>(SecretFingerprint{sha256_hex(v), v.size()});
}

Result<std::string> new_placeholder(const std::string& name) {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("getrandom for the placeholder of secret " + name, errno);
    got += static_cast<std::size_t>(n);
  }
  return state::make_placeholder(name, std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Result<std::string> injectable_value(const Paths& paths, const std::string& name) {
  BRIG_TRY(check_name(name));
  const std::string add = "brig secrets add " + name + " - < FILE";
  if (!fs::exists(paths.secret(name))) return Error(Errc::not_found, "secret " + str::quote(name) + " does not exist", add);
  auto value = fs::read_file(paths.secret(name), kSecretMaxBytes);
  if (!value) {
    return Error(value.error().code(), "cannot read secret " + name + ": " + value.error().message(), add);
  }
  std::string v = state::injected_value(*value);
  if (auto why = state::check_secret_value(v)) {
    return Error(Errc::invalid, "secret " + str::quote(name) + " cannot be injected into a request header: " + *why,
                 "store the value on one line (a FILE holding just it): " + add);
  }
  return v;
}

Status secret_unused(const std::string& name, const std::vector<std::string>& running_users, bool force,
                     const std::string& retry) {
  if (running_users.empty() || force) return {};
  return Error(Errc::exists, "secret " + name + " is used by running cell(s): " + str::join(running_users, ", "),
               (running_users.size() == 1 ? "stop it first (brig cell stop " + running_users.front() + "), or "
                                           : std::string("stop them first (brig cell stop CELL), or ")) +
                   retry);
}

Result<SecretDigests> SecretDigests::load(const Paths& paths) {
  auto names = secret_list(paths);
  if (!names) return names.error();
  SecretDigests d;
  for (const auto& s : *names) {
    auto value = fs::read_file(paths.secret(s.name), kSecretMaxBytes);
    if (!value) {
      return Error(value.error().code(), "cannot read secret " + s.name + " to compare: " + value.error().message(),
                   "brig secrets rm " + s.name + ", or brig secrets add " + s.name + " FILE --force");
    }
    const std::string_view v = str::trim(*value);
    if (v.size() >= kMinEqual) d.entries_.push_back({s.name, v.size(), sha256(v), rolling_hash(v)});
  }
  return d;
}

std::vector<std::string> SecretDigests::found_in(std::string_view text) const {
  std::vector<std::string> found;
  const std::string_view whole = str::trim(text);
  const Digest whole_digest = sha256(whole);
  std::vector<std::size_t> lengths;
  for (const auto& e : entries_) {
    if (e.size == whole.size() && e.digest == whole_digest) found.push_back(e.name);
    if (e.size >= kMinContained && e.size < text.size()) lengths.push_back(e.size);
  }
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  // One pass per distinct length: the window's rolling hash, then the digest
  // of a window whose hash some secret of that length has.
  for (const std::size_t len : lengths) {
    std::uint64_t top = 1;  // kBase^(len-1)
    for (std::size_t i = 1; i < len; ++i) top *= kBase;
    std::uint64_t h = rolling_hash(text.substr(0, len));
    for (std::size_t at = 0;; ++at) {
      for (const auto& e : entries_) {
        if (e.size == len && e.rolling == h && sha256(text.substr(at, len)) == e.digest) found.push_back(e.name);
      }
      if (at + len >= text.size()) break;
      h = (h - top * static_cast<unsigned char>(text[at])) * kBase + static_cast<unsigned char>(text[at + len]);
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

Status secret_add(const Paths& paths, const std::string& name, const std::string& value) {
  BRIG_TRY(check_name(name));
  if (value.size() > kSecretMaxBytes) return Error(Errc::invalid, "secret is larger than 1 MiB", "store a smaller value");
  BRIG_TRY(fs::make_dirs(paths.secrets_dir(), 0700));
  ::chmod(paths.secrets_dir().c_str(), 0700);
  // The directory itself must not be a symlink planted somewhere else.
  struct stat st {};
  if (::lstat(paths.secrets_dir().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Errc::io, paths.secrets_dir() + " is not a directory", "remove it and retry");
  }
  const std::string tmp = paths.secret("." + name + ".tmp." + std::to_string(::getpid()));
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return errno_error("creating " + tmp, errno);
  std::size_t off = 0;
  while (off < value.size()) {
    ssize_t n = ::write(fd.get(), value.data() + off, value.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return errno_error("writing " + tmp, e);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), paths.secret(name).c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errno_error("storing secret " + name, e);
  }
  return {};
}

Result<std::vector<SecretInfo>> secret_list(const Paths& paths) {
  std::vector<SecretInfo> out;
  for (const auto& n : fs::list_names(paths.secrets_dir(), "")) {
    if (n.empty() || n[0] == '.') continue;
    struct stat st {};
    if (::lstat(paths.secret(n).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({n, static_cast<std::uint64_t>(st.st_size)});
  }
  return out;
}

Status secret_rm(const Paths& paths, const std::string& name, const std::vector<std::string>& running_users, bool force) {
  BRIG_TRY(check_name(name));
  if (!fs::exists(paths.secret(name))) {
    return Error(Errc::not_found, "no secret named " + str::quote(name), "brig secrets list");
  }
  BRIG_TRY(secret_unused(name, running_users, force, "brig secrets rm " + name + " --force"));
  if (::unlink(paths.secret(name).c_str()) != 0) return errno_error("removing secret " + name, errno);
  return {};
}

}  // namespace brig::engine
