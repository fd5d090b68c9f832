// libFuzzer target: the bytes a cell sends to warden's resolver, through the
// query parser and every kind of answer built from what it returns. Built by
// scripts/test.sh with clang (-DBRIG_FUZZ=ON) and run briefly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "warden/dns.h"

namespace {

using namespace brig::warden::dns;

bool hostname_text(const std::string& name) {
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

std::uint16_t u16_at(const std::string& s, std::size_t i) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[i]) << 8) | static_cast<std::uint8_t>(s[i + 1]));
}

void check_answer(const Query& q, std::span<const std::uint8_t> msg, Rcode rcode,
                  const std::array<std::uint8_t, 4>* a) {
  const std::string out = answer(q, msg, rcode, a, 60);
  const bool question = q.question_end > 12;
  const bool record = question && a != nullptr && rcode == Rcode::noerror && q.qtype == kTypeA;
  // Header, the question as sent, and the one A record: nothing else.
  const std::size_t want = 12 + (question ? q.question_end - 12 : 0) + (record ? 16 : 0);
  if (out.size() != want || out.size() > kMaxQuery + 16) __builtin_trap();
  if (u16_at(out, 0) != q.id) __builtin_trap();
  const std::uint16_t flags = u16_at(out, 2);
  if ((flags & 0x8000) == 0 || (flags & 0x0f) != static_cast<std::uint16_t>(rcode) || (flags & 0x0200) != 0)
    __builtin_trap();
  if (u16_at(out, 4) != (question ? 1 : 0) || u16_at(out, 6) != (record ? 1 : 0) || u16_at(out, 8) != 0 ||
      u16_at(out, 10) != 0)
    __builtin_trap();
  if (question && std::memcmp(out.data() + 12, msg.data() + 12, q.question_end - 12) != 0) __builtin_trap();
  // An answer is never read back as a query.
  const auto back = std::span(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
  if (parse_query(back).status != Parse::drop) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> msg(data, size);
  const Parsed p = parse_query(msg);
  const Query& q = p.query;
  Rcode rcode = Rcode::noerror;
  switch (p.status) {
    case Parse::drop:
      return 0;
    case Parse::formerr:
      rcode = Rcode::formerr;
      break;
    case Parse::notimp:
      rcode = Rcode::notimp;
      break;
    case Parse::ok:
      rcode = Rcode::noerror;
      if (q.question_end <= 12 || q.question_end > size || q.question_end > 12 + 255 + 4) __builtin_trap();
      // A valid name is plain hostname text within the limits; every name is
      // bounded by its escaped wire form.
      if (q.valid && (q.name.empty() || q.name.size() > 253 || !hostname_text(q.name))) __builtin_trap();
      if (q.name.size() > 4 * 255) __builtin_trap();
      break;
  }
  if (p.status != Parse::ok && (q.question_end != 0 || !q.name.empty())) __builtin_trap();
  if (q.id != ((data[0] << 8) | data[1])) __builtin_trap();
  const std::array<std::uint8_t, 4> addr{192, 0, 2, 1};
  check_answer(q, msg, rcode, nullptr);
  check_answer(q, msg, rcode, &addr);
  if (p.status == Parse::ok) {
    check_answer(q, msg, Rcode::nxdomain, nullptr);
    check_answer(q, msg, Rcode::refused, &addr);
  }
  return 0;
}
