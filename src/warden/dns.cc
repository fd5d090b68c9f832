#include "dns.h"

namespace brig::warden::dns {
namespace {

constexpr std::size_t kHeader = 12;
constexpr std::size_t kMaxNameWire = 255;  // RFC 1035 3.1: length bytes and the root's zero included

// Flag bits of the header's second word (RFC 1035 4.1.1).
constexpr std::uint16_t kQR = 0x8000, kOpcode = 0x7800, kAA = 0x0400, kTC = 0x0200, kRD = 0x0100, kRA = 0x0080;

std::uint16_t u16_at(std::span<const std::uint8_t> m, std::size_t i) {
  return static_cast<std::uint16_t>((m[i] << 8) | m[i + 1]);
}

void put_u16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

bool hostname_byte(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Appends one label's text (lowercased, escaped as dig prints it) and says
// whether the label is one a policy can name.
bool append_label(std::span<const std::uint8_t> label, std::string& name) {
  bool ok = label.front() != '-' && label.back() != '-';
  for (std::uint8_t c : label) {
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c - 'A' + 'a');
    ok = ok && hostname_byte(c);
    if (c < 0x21 || c > 0x7e || c == '.' || c == '\\') {
      name += '\\';
      name += static_cast<char>('0' + c / 100);
      name += static_cast<char>('0' + c / 10 % 10);
      name += static_cast<char>('0' + c % 10);
    } else {
      name += static_cast<char>(c);
    }
  }
  return ok;
}

}  // namespace

Parsed parse_query(std::span<const std::uint8_t> msg) {
  Parsed out;
  if (msg.size() < kHeader || msg.size() > kMaxQuery) return out;
  Query& q = out.query;
  q.id = u16_at(msg, 0);
  q.flags = u16_at(msg, 2);
  // A response is never answered (no reflection loops between resolvers),
  // and a truncated query has no complete question to answer.
  if ((q.flags & kQR) != 0 || (q.flags & kTC) != 0) return out;
  // Checked before the counts: other opcodes (UPDATE) give them other meanings.
  if ((q.flags & kOpcode) != 0) {
    out.status = Parse::notimp;
    return out;
  }
  // No question (a cookie-only query) or several (which no resolver sends,
  // RFC 9619): drop rather than guess which one to answer.
  if (u16_at(msg, 4) != 1) return out;
  out.status = Parse::formerr;
  if (u16_at(msg, 6) != 0 || u16_at(msg, 8) != 0 || u16_at(msg, 10) > 1) return out;

  // The question name: each iteration consumes at least one byte, so the
  // loop is bounded by the message, and the text by 4 x 255 bytes.
  std::size_t pos = kHeader;
  bool valid = true;
  int labels = 0;
  std::string name;
  for (;;) {
    if (pos >= msg.size()) return out;
    const std::uint8_t len = msg[pos++];
    if (len == 0) break;
    if ((len & 0xc0) != 0) return out;  // a compression pointer or an extended label type
    if (pos + len - kHeader + 1 > kMaxNameWire || pos + len > msg.size()) return out;
    if (labels++ > 0) name += '.';
    valid = append_label(msg.subspan(pos, len), name) && valid;
    pos += len;
  }
  if (msg.size() - pos < 4) return out;
  // At least one label; labels are 1-63 bytes by construction, and 255 wire
  // bytes leave at most 253 characters of unescaped text.
  q.valid = valid && labels > 0;
  q.name = std::move(name);
  q.qtype = u16_at(msg, pos);
  q.qclass = u16_at(msg, pos + 2);
  q.question_end = pos + 4;  // an EDNS OPT record may follow: ignored
  out.status = Parse::ok;
  return out;
}

std::string answer(const Query& q, std::span<const std::uint8_t> msg, Rcode rcode,
                   const std::array<std::uint8_t, 4>* a, std::uint32_t ttl) {
  // Echo the question only if it parsed from this very message.
  const bool question = q.question_end > kHeader && q.question_end <= msg.size();
  const bool record = question && a != nullptr && rcode == Rcode::noerror && q.qtype == kTypeA;
  std::string out;
  out.reserve(kHeader + (question ? q.question_end - kHeader : 0) + (record ? 16 : 0));
  put_u16(out, q.id);
  // The opcode is copied as RFC 1035 asks (0 except in a NOTIMP answer).
  put_u16(out, static_cast<std::uint16_t>(kQR | (q.flags & kOpcode) | kAA | (q.flags & kRD) | kRA |
                                          (static_cast<std::uint16_t>(rcode) & 0x0f)));
  put_u16(out, question ? 1 : 0);
  put_u16(out, record ? 1 : 0);
  put_u16(out, 0);
  put_u16(out, 0);
  if (question) out.append(reinterpret_cast<const char*>(msg.data()) + kHeader, q.question_end - kHeader);
  if (record) {
    put_u16(out, static_cast<std::uint16_t>(0xc000 | kHeader));  // the name: a pointer to the question's
    put_u16(out, kTypeA);
    put_u16(out, kClassIN);
    put_u16(out, static_cast<std::uint16_t>(ttl >> 16));
    put_u16(out, static_cast<std::uint16_t>(ttl & 0xffff));
    put_u16(out, 4);
    out.append(reinterpret_cast<const char*>(a->data()), a->size());
  }
  return out;
}

}  // namespace brig::warden::dns
