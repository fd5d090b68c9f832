#include "brig/engine/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/unique_fd.h"
#include "brig/spec/validate.h"

namespace brig::engine {
namespace {

Status check_name(const std::string& name) {
  if (auto why = spec::check_secret_name(name)) {
    return Error(Errc::usage, "invalid secret name " + str::quote(name) + ": " + *why,
                 "use letters, digits, '.', '_' and '-', e.g. openai-key");
  }
  return {};
}

// FIPS 180-4. The round constants: the first 32 bits of the fractional parts
// of the cube roots of the first 64 primes.
constexpr std::uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(std::uint32_t h[8], const std::uint8_t* p) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = std::uint32_t(p[4 * i]) << 24 | std::uint32_t(p[4 * i + 1]) << 16 | std::uint32_t(p[4 * i + 2]) << 8 |
           std::uint32_t(p[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
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
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t n = data.size();
  for (; n >= 64; n -= 64, p += 64) sha256_block(h, p);
  // The tail, a 1 bit, zeros, the length in bits (big-endian): one or two blocks.
  std::uint8_t tail[128] = {};
  if (n > 0) std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const std::size_t blocks = n + 9 <= 64 ? 1 : 2;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) tail[blocks * 64 - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
  for (std::size_t b = 0; b < blocks; ++b) sha256_block(h, tail + 64 * b);
  Digest out{};
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(h[i] >> (24 - 8 * j));
  }
  return out;
}

Status secret_unused(const std::string& name, const std::vector<std::string>& running_users, bool force,
                     const std::string& retry) {
  if (running_users.empty() || force) return {};
  return Error(Errc::exists, "secret " + name + " is mounted in running cell(s): " + str::join(running_users, ", "),
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
