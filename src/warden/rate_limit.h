// A token bucket: one per cell, with its own lock (no global one on the hot
// path). The clock is a parameter of the *_at forms, so tests drive time.
#pragma once

#include <chrono>
#include <mutex>

namespace brig::warden {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: unlimited. A change of rate or burst refills the bucket to
  // `burst`; the same values again leave it as it is (a reload keeps it).
  void configure(double rate, double burst) { configure_at(rate, burst, Clock::now()); }
  void configure_at(double rate, double burst, Clock::time_point now);

  // Takes a token; false (and, if given, the seconds until one is available
  // in *retry_after) when the bucket is empty.
  bool take(double* retry_after) { return take_at(Clock::now(), retry_after); }
  bool take_at(Clock::time_point now, double* retry_after);

 private:
  std::mutex mu_;
  double rate_ = 0, burst_ = 0, tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace brig::warden
