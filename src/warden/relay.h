// Relaying one HTTP message (request or response) whose head has been read:
// small bodies of known length are read whole and leave with their head in
// one write; anything else (chunked, SSE, large) streams as it arrives,
// never buffered whole. Private to module warden.
#pragma once

#include <limits>
#include <memory>
#include <span>
#include <string>

#include "asio.h"
#include "http_checks.h"
#include "secrets.h"

namespace brig::warden {

// Bodies stream through, so no limit. (Beast 1.74 treats body_limit(none) as
// "always exceeded" for Content-Length messages: use the largest value instead.)
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

// Bodies up to this size with a Content-Length go out with their header.
constexpr std::uint64_t kCoalesceLimit = 64 * 1024;

// Whether the message whose head `p` has read has no body or a small one of
// known length: such a message is read whole and sent in one write.
template <bool isRequest>
bool fits_one_write(const http::parser<isRequest, http::buffer_body>& p) {
  const auto length = p.content_length();
  return p.is_done() || (length && *length <= kCoalesceLimit);
}

// For a message that fits_one_write: appends its head (serialized by hand)
// and its whole body to `wire`.
template <bool isRequest, class In>
awaitable<error_code> read_whole(In& in, beast::flat_buffer& in_buf, http::parser<isRequest, http::buffer_body>& p,
                                 std::string& wire, std::uint64_t& bytes, std::chrono::milliseconds idle) {
  const std::uint64_t length = p.is_done() ? 0 : *p.content_length();
  wire.reserve(512 + length);
  serialize_head(wire, p.get());
  if (p.is_done()) co_return error_code{};
  const std::size_t head = wire.size();
  wire.resize(head + length);
  p.get().body().data = wire.data() + head;
  p.get().body().size = length;
  error_code ec;
  while (!p.is_done() && p.get().body().size > 0) {
    beast::get_lowest_layer(in).expires_after(idle);
    co_await http::async_read_some(in, in_buf, p, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  }
  if (!p.is_done()) co_return http::error::body_limit;  // more body than its Content-Length: cannot happen
  bytes += length;
  co_return ec;
}

// What relay_body returns when `scan` found a needle: nothing from that
// piece on was sent.
inline error_code scanned_out() { return make_error_code(boost::system::errc::permission_denied); }

// Relays one message (request or response) with a buffer_body parser whose
// header has been read: header first, then the body as it arrives. With
// `scan`, the body is fed to it and the relay stops (scanned_out()) before
// sending a piece in which it finds a needle.
template <bool isRequest, class In, class Out>
awaitable<error_code> relay_body(In& in, beast::flat_buffer& in_buf, http::parser<isRequest, http::buffer_body>& p,
                                 Out& out, std::uint64_t& bytes, std::chrono::milliseconds idle,
                                 NeedleScanner* scan = nullptr) {
  error_code ec;
  // The common case, no body or a small one of known length: head and body
  // leave in one write (one syscall, one packet).
  if (fits_one_write(p)) {
    std::string wire;
    ec = co_await read_whole(in, in_buf, p, wire, bytes, idle);
    if (ec) co_return ec;
    if (scan && scan->feed(wire)) co_return scanned_out();
    beast::get_lowest_layer(out).expires_after(idle);
    co_await asio::async_write(out, asio::buffer(wire), use_ec(ec));
    co_return ec;
  }
  // Anything else (chunked, SSE, large or unknown length): the head now, so
  // the peer sees it without waiting for the first body bytes, then the body
  // as it arrives.
  http::serializer<isRequest, http::buffer_body> sr{p.get()};
  beast::get_lowest_layer(out).expires_after(idle);
  co_await http::async_write_header(out, sr, use_ec(ec));
  if (ec) co_return ec;
  // Coroutine locals must not be C arrays (GCC 12 coroutine bug); not zeroed: it is overwritten.
  constexpr std::size_t kBuf = 16384;
  auto buf_owner = std::make_unique_for_overwrite<char[]>(kBuf);
  std::span<char> buf(buf_owner.get(), kBuf);
  while (!p.is_done()) {
    p.get().body().data = buf.data();
    p.get().body().size = buf.size();
    beast::get_lowest_layer(in).expires_after(idle);
    co_await http::async_read_some(in, in_buf, p, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
    const std::size_t n = buf.size() - p.get().body().size;
    if (n == 0 && !p.is_done()) continue;
    if (scan && n && scan->feed(std::string_view(buf.data(), n))) co_return scanned_out();
    p.get().body().data = n ? buf.data() : nullptr;
    p.get().body().size = n;
    p.get().body().more = !p.is_done();
    bytes += n;
    beast::get_lowest_layer(out).expires_after(idle);
    co_await http::async_write(out, sr, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  }
  if (!sr.is_done()) {
    p.get().body().data = nullptr;
    p.get().body().size = 0;
    p.get().body().more = false;
    co_await http::async_write(out, sr, use_ec(ec));
    if (ec == http::error::need_buffer) ec = {};
  }
  co_return ec;
}

}  // namespace brig::warden
