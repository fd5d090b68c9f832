#include "brig/warden/clienthello.h"

namespace brig::warden {
namespace {

// A bounds-checked big-endian reader over a byte range.
class Reader {
 public:
  Reader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}
  bool u8(std::size_t& v) { return get(1, v); }
  bool u16(std::size_t& v) { return get(2, v); }
  bool u24(std::size_t& v) { return get(3, v); }
  bool skip(std::size_t k) {
    if (k > n_) return false;
    p_ += k;
    n_ -= k;
    return true;
  }
  bool sub(std::size_t k, Reader& out) {
    if (k > n_) return false;
    out = Reader(p_, k);
    p_ += k;
    n_ -= k;
    return true;
  }
  const unsigned char* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  bool get(std::size_t k, std::size_t& v) {
    if (k > n_) return false;
    v = 0;
    for (std::size_t i = 0; i < k; ++i) v = (v << 8) | p_[i];
    p_ += k;
    n_ -= k;
    return true;
  }
  const unsigned char* p_;
  std::size_t n_;
};

}  // namespace

ClientHello parse_client_hello(std::string_view data) {
  ClientHello out;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.empty()) return out;
  if (p[0] != 22) {  // handshake record
    out.status = ClientHello::Status::not_tls;
    return out;
  }
  if (data.size() < 5) return out;
  if (p[1] != 3) {
    out.status = ClientHello::Status::not_tls;
    return out;
  }
  const std::size_t rec_len = (std::size_t{p[3]} << 8) | p[4];
  if (rec_len == 0 || rec_len > 16384) {
    out.status = ClientHello::Status::malformed;
    return out;
  }
  out.wanted = rec_len + 5;
  if (data.size() < out.wanted) return out;

  out.status = ClientHello::Status::malformed;
  Reader rec(p + 5, rec_len);
  std::size_t type = 0, len = 0;
  if (!rec.u8(type) || type != 1 || !rec.u24(len) || len > rec.size()) return out;  // ClientHello, whole in record
  Reader hello(nullptr, 0);
  if (!rec.sub(len, hello)) return out;
  std::size_t n = 0;
  if (!hello.skip(2 + 32)) return out;               // version, random
  if (!hello.u8(n) || !hello.skip(n)) return out;    // session id
  if (!hello.u16(n) || !hello.skip(n)) return out;   // cipher suites
  if (!hello.u8(n) || !hello.skip(n)) return out;    // compression methods
  if (hello.size() == 0) {                           // no extensions: no SNI
    out.status = ClientHello::Status::complete;
    return out;
  }
  Reader exts(nullptr, 0);
  if (!hello.u16(n) || !hello.sub(n, exts)) return out;
  while (exts.size() > 0) {
    std::size_t ext_type = 0, ext_len = 0;
    Reader ext(nullptr, 0);
    if (!exts.u16(ext_type) || !exts.u16(ext_len) || !exts.sub(ext_len, ext)) return out;
    if (ext_type != 0) continue;
    Reader list(nullptr, 0);
    if (!ext.u16(n) || !ext.sub(n, list)) return out;
    while (list.size() > 0) {
      std::size_t name_type = 0, name_len = 0;
      if (!list.u8(name_type) || !list.u16(name_len) || name_len > list.size()) return out;
      if (name_type == 0) {
        if (!out.sni.empty() || name_len == 0) return out;  // one host_name only
        out.sni.assign(reinterpret_cast<const char*>(list.data()), name_len);
      }
      list.skip(name_len);
    }
  }
  out.status = ClientHello::Status::complete;
  return out;
}

}  // namespace brig::warden
