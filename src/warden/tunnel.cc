#include "tunnel.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace brig::warden {
namespace {

using Clock = std::chrono::steady_clock;

// Small while idle (thousands of tunnels wait in it), large once a read fills
// it (bulk transfer: fewer, larger syscalls).
constexpr std::size_t kIdleBuf = 16 * 1024, kBulkBuf = 256 * 1024;
// Bytes a splice pipe holds (fcntl F_SETPIPE_SZ; the default is 64 KiB).
constexpr int kPipeBytes = 256 * 1024;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return;
    r = fds[0];
    w = fds[1];
    (void)::fcntl(w, F_SETPIPE_SZ, kPipeBytes);  // best effort: the default size works too
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return r >= 0; }
};

// Moves bytes from `from` to `to` through a pipe until EOF or an error.
// Returns false if no pipe could be made (nothing was moved then).
awaitable<bool> splice_loop(Socket& from, Socket& to, std::uint64_t& bytes, Clock::time_point& last) {
  Pipe pipe;
  if (!pipe.ok()) co_return false;
  error_code ec;
  from.native_non_blocking(true, ec);
  if (!ec) to.native_non_blocking(true, ec);
  if (ec) co_return false;
  std::size_t pending = 0;  // bytes in the pipe
  bool eof = false;
  while (!eof || pending > 0) {
    if (!eof) {
      const ssize_t n = ::splice(from.native_handle(), nullptr, pipe.w, nullptr, kPipeBytes,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        pending += static_cast<std::size_t>(n);
        bytes += static_cast<std::uint64_t>(n);
        last = Clock::now();
      } else if (n == 0) {
        eof = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN) {
        break;
      } else if (pending == 0) {  // nothing to read yet and nothing to write
        co_await from.async_wait(Socket::wait_read, use_ec(ec));
        if (ec) break;
        continue;
      }
    }
    if (pending > 0) {
      const ssize_t n = ::splice(pipe.r, nullptr, to.native_handle(), nullptr, pending,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        pending -= static_cast<std::size_t>(n);
        last = Clock::now();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        co_await to.async_wait(Socket::wait_write, use_ec(ec));
        if (ec) break;
      } else {
        break;
      }
    }
  }
  co_return true;
}

// One direction of a tunnel: copies until EOF or error, then half-closes.
template <class From, class To>
awaitable<void> pump(From& from, To& to, std::uint64_t& bytes, Clock::time_point& last) {
  constexpr bool kTcp = std::is_same_v<From, TcpStream> && std::is_same_v<To, TcpStream>;
  std::vector<char> buf(kIdleBuf);
  for (;;) {
    error_code ec;
    const std::size_t n = co_await from.async_read_some(asio::buffer(buf), use_ec(ec));
    if (n > 0) {
      bytes += n;
      last = Clock::now();
      error_code wec;
      co_await asio::async_write(to, asio::buffer(buf.data(), n), use_ec(wec));
      last = Clock::now();
      if (wec) break;
    }
    if (ec) break;
    if (n == buf.size()) {
      if constexpr (kTcp) {
        // Bulk: the kernel moves the rest without copying it through warden.
        std::vector<char>().swap(buf);
        if (co_await splice_loop(from.socket(), to.socket(), bytes, last)) break;
        buf.resize(kBulkBuf);
      } else if (buf.size() < kBulkBuf) {
        buf.resize(kBulkBuf);
      }
    }
  }
  error_code ignored;
  beast::get_lowest_layer(to).socket().shutdown(Socket::shutdown_send, ignored);
  beast::get_lowest_layer(from).socket().shutdown(Socket::shutdown_receive, ignored);
}

template <class A, class B>
awaitable<void> run_tunnel(A& a, B& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a, std::chrono::milliseconds idle) {
  auto ex = co_await asio::this_coro::executor;
  // The idle rule is the tunnel's (below), not each read's.
  beast::get_lowest_layer(a).expires_never();
  beast::get_lowest_layer(b).expires_never();
  struct State {
    explicit State(const Executor& e) : wake(e) {}
    Timer wake;
    Clock::time_point last = Clock::now();
    int running = 2;
  };
  auto st = std::make_shared<State>(ex);
  auto finish = [st] {
    if (--st->running == 0) st->wake.cancel();
  };
  asio::co_spawn(ex, [&, st, finish]() -> awaitable<void> { co_await pump(a, b, a_to_b, st->last); finish(); }, asio::detached);
  asio::co_spawn(ex, [&, st, finish]() -> awaitable<void> { co_await pump(b, a, b_to_a, st->last); finish(); }, asio::detached);
  // Watchdog: wakes at the idle deadline, closes both ends if nothing moved
  // since, then waits for both directions to end.
  bool closed = false;
  while (st->running > 0) {
    error_code ec;
    st->wake.expires_at(closed ? Clock::time_point::max() : st->last + idle);
    co_await st->wake.async_wait(use_ec(ec));
    if (!closed && st->running > 0 && Clock::now() >= st->last + idle) {
      beast::get_lowest_layer(a).socket().close(ec);
      beast::get_lowest_layer(b).socket().close(ec);
      closed = true;
    }
  }
}

}  // namespace

awaitable<void> tunnel(TcpStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

awaitable<void> tunnel(TlsStream& a, TlsStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

}  // namespace brig::warden
