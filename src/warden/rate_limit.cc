#include "rate_limit.h"

#include <algorithm>

namespace brig::warden {

void TokenBucket::configure_at(double rate, double burst, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (rate == rate_ && burst == burst_) return;
  rate_ = rate;
  burst_ = burst;
  tokens_ = burst;
  last_ = now;
}

bool TokenBucket::take_at(Clock::time_point now, double* retry_after) {
  std::lock_guard lock(mu_);
  if (rate_ <= 0) return true;
  // A clock that went backwards adds nothing (steady_clock does not, a test might).
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  if (retry_after) *retry_after = (1 - tokens_) / rate_;
  return false;
}

}  // namespace brig::warden
