// .containerignore / .dockerignore patterns (build_context.h): docker's
// reader and moby/patternmatcher's rules, matched by a set-of-states automaton
// rather than a backtracking regexp so that no pattern can make matching slow.
#include <algorithm>
#include <cstdint>

#include "brig/core/strings.h"
#include "brig/engine/build_context.h"

namespace brig::engine {

namespace {

// A byte that is not valid UTF-8 stands for itself, apart from every code point.
constexpr char32_t kInvalidByte = 0x110000;

// Paths and patterns are matched by code point, as Go's regexp does ('?' is
// one character, not one byte).
std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    out.push_back(ok ? cp : kInvalidByte + c);
    i += ok ? len : 1;
  }
  return out;
}

// Go's strings.TrimSpace for the ASCII whitespace it trims.
std::string_view trim_space(std::string_view s) {
  constexpr std::string_view ws = " \t\n\v\f\r";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Go's filepath.Clean: no empty or "." elements, ".." folded, no trailing '/'.
std::string clean(std::string_view p) {
  const bool rooted = !p.empty() && p[0] == '/';
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= p.size();) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view part = p.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

struct Range {
  char32_t lo, hi;
};

struct Token {
  // literal: `ch`; one: '?'; set: "[...]"; run: '*'; dirs: "**/" or a "**"
  // inside ("(.*/)?" in docker's regexp); rest: a final "**" (".*").
  enum class Kind : std::uint8_t { literal, one, set, run, dirs, rest };
  Kind kind = Kind::literal;
  char32_t ch = 0;
  bool negated = false;
  std::vector<Range> ranges;
};
using Kind = Token::Kind;

}  // namespace

struct IgnoreMatcher::Pattern {
  bool exclusion = false;
  // docker's suffix shortcut: "**" then plain text matches any path ending
  // in the text after the "**" (or, for "**/x", the path "x").
  bool suffix_only = false;
  std::u32string suffix;
  std::vector<Token> tokens;

  static Result<Pattern> compile(std::string_view cleaned);
  // The pattern matches `path` or one of its parent directories.
  bool matches(const std::u32string& path) const;
  // Some path starting with `prefix` could still match.
  bool live_after(const std::u32string& prefix) const;
};

namespace {

// The positions of a pattern's tokens the input can be at: a Thompson
// simulation, one pass over the path whatever the pattern.
class States {
 public:
  explicit States(const std::vector<Token>& tokens)
      : tokens_(tokens), cur_(tokens.size() + 1), next_(tokens.size() + 1) {
    cur_[0] = kAt;
    close(cur_);
  }

  void step(char32_t c) {
    std::fill(next_.begin(), next_.end(), 0);
    live_ = false;
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (cur_[i] & kAt) {
        switch (t.kind) {
          case Kind::literal:
            set(i + 1, kAt, c == t.ch);
            break;
          case Kind::one:
            set(i + 1, kAt, c != '/');
            break;
          case Kind::set:
            set(i + 1, kAt, in_set(t, c));
            break;
          case Kind::run:
            set(i, kAt, c != '/');
            break;
          case Kind::rest:
            set(i, kAt, true);
            break;
          case Kind::dirs:
            set(i, kInDirs, true);
            set(i + 1, kAt, c == '/');
            break;
        }
      }
      if (cur_[i] & kInDirs) {
        set(i, kInDirs, true);
        set(i + 1, kAt, c == '/');
      }
    }
    close(next_);
    cur_.swap(next_);
  }
  bool accepting() const { return (cur_.back() & kAt) != 0; }
  bool dead() const { return !live_; }

 private:
  // At a token's start; or inside a "**/" that has taken characters and
  // ends only with a '/' (so "a/**/b" does not match "a/xb").
  static constexpr unsigned char kAt = 1, kInDirs = 2;

  static bool in_set(const Token& t, char32_t c) {
    const bool in = std::any_of(t.ranges.begin(), t.ranges.end(), [c](auto r) { return r.lo <= c && c <= r.hi; });
    return in != t.negated;
  }
  void set(std::size_t i, unsigned char state, bool on) {
    if (!on) return;
    next_[i] |= state;
    live_ = true;
  }
  // '*' and both "**" forms may match nothing: at their start is at the next token's.
  void close(std::vector<unsigned char>& s) const {
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      if ((s[i] & kAt) && tokens_[i].kind >= Kind::run) s[i + 1] |= kAt;
    }
  }

  const std::vector<Token>& tokens_;
  std::vector<unsigned char> cur_, next_;
  bool live_ = true;
};

// One element of a character class, as Go's filepath.Match reads it.
Result<char32_t> class_char(const std::u32string& p, std::size_t& i) {
  const Error bad(Errc::invalid, "bad character class");
  if (i == p.size()) return Error(Errc::invalid, "'[' without a closing ']'");
  if (p[i] == '-' || p[i] == ']') return bad;
  if (p[i] == '\\' && ++i == p.size()) return Error(Errc::invalid, "'[' without a closing ']'");
  const char32_t c = p[i++];
  if (i == p.size()) return Error(Errc::invalid, "'[' without a closing ']'");
  return c;
}

Result<Token> parse_class(const std::u32string& p, std::size_t& i) {
  Token t;
  t.kind = Kind::set;
  if (i < p.size() && p[i] == '^') {
    t.negated = true;
    ++i;
  }
  while (true) {
    if (i < p.size() && p[i] == ']' && !t.ranges.empty()) {
      ++i;
      return t;
    }
    auto lo = class_char(p, i);
    if (!lo) return lo.error();
    char32_t hi = *lo;
    if (p[i] == '-') {
      auto h = class_char(p, ++i);
      if (!h) return h.error();
      hi = *h;
    }
    if (hi < *lo) return Error(Errc::invalid, "bad range in character class");
    t.ranges.push_back({*lo, hi});
  }
}

}  // namespace

Result<IgnoreMatcher::Pattern> IgnoreMatcher::Pattern::compile(std::string_view cleaned) {
  Pattern pat;
  const std::u32string p = decode(cleaned);
  bool wild_after_lead = false;  // anything but plain text after a leading "**"
  for (std::size_t i = 0; i < p.size();) {
    const char32_t c = p[i++];
    Token t;
    if (c == '*' && i < p.size() && p[i] == '*') {
      if (++i < p.size() && p[i] == '/') ++i;
      t.kind = i == p.size() ? Kind::rest : Kind::dirs;
    } else if (c == '*') {
      t.kind = Kind::run;
    } else if (c == '?') {
      t.kind = Kind::one;
    } else if (c == '\\') {
      if (i == p.size()) return Error(Errc::invalid, "a '\\' at the end escapes nothing");
      t.ch = p[i++];
    } else if (c == '[') {
      auto set = parse_class(p, i);
      if (!set) return set.error();
      t = std::move(*set);
    } else {
      t.ch = c;
    }
    // docker's regexp-or-not test: escapes and ']' count as pattern syntax too.
    if (!pat.tokens.empty() && (t.kind != Kind::literal || c == '\\' || c == ']')) wild_after_lead = true;
    pat.tokens.push_back(std::move(t));
  }
  if (!pat.tokens.empty() && pat.tokens[0].kind >= Kind::dirs && !wild_after_lead) {
    pat.suffix_only = true;
    pat.suffix = p.substr(2);
  }
  return pat;
}

bool IgnoreMatcher::Pattern::matches(const std::u32string& path) const {
  if (suffix_only) {
    auto hit = [this](std::u32string_view s) {
      return s.ends_with(suffix) || (!suffix.empty() && suffix[0] == '/' && s == std::u32string_view(suffix).substr(1));
    };
    for (std::size_t k = 0; k < path.size(); ++k) {
      if (path[k] == '/' && hit(std::u32string_view(path).substr(0, k))) return true;
    }
    return hit(path);
  }
  States s(tokens);
  for (const char32_t c : path) {
    if (c == '/' && s.accepting()) return true;  // a parent directory matches
    s.step(c);
    if (s.dead()) return false;
  }
  return s.accepting();
}

bool IgnoreMatcher::Pattern::live_after(const std::u32string& prefix) const {
  if (suffix_only) return true;
  States s(tokens);
  for (const char32_t c : prefix) {
    s.step(c);
    if (s.dead()) return false;
  }
  return true;
}

IgnoreMatcher::IgnoreMatcher() = default;
IgnoreMatcher::~IgnoreMatcher() = default;
IgnoreMatcher::IgnoreMatcher(IgnoreMatcher&&) noexcept = default;
IgnoreMatcher& IgnoreMatcher::operator=(IgnoreMatcher&&) noexcept = default;

Result<IgnoreMatcher> IgnoreMatcher::parse(std::string_view text) {
  IgnoreMatcher m;
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < text.size();) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    if (line.starts_with('#')) continue;  // only in column 1, as docker reads it
    const std::string_view raw = trim_space(line);
    if (raw.empty()) continue;

    // docker's reader cleans the pattern (after any '!') and drops a leading
    // '/'; the matcher cleans it again with the '!' on, and only then looks
    // for the '!' (so "!../x" ends up as "x", and "a/../!b" as "!b").
    std::string p(raw[0] == '!' ? trim_space(raw.substr(1)) : raw);
    if (!p.empty()) {
      p = clean(p);
      if (p.size() > 1 && p[0] == '/') p.erase(0, 1);
    }
    if (raw[0] == '!') p = clean("!" + p);
    auto bad = [&](const std::string& why) {
      return Error(Errc::invalid,
                   "line " + std::to_string(line_no) + ": invalid pattern " + str::quote(raw) + ": " + why,
                   "fix or remove line " + std::to_string(line_no) + " (a '\\' makes the next character literal)");
    };
    const bool exclusion = p[0] == '!';
    if (exclusion && p.size() == 1) return bad("a lone '!' re-includes nothing");
    auto pat = Pattern::compile(exclusion ? std::string_view(p).substr(1) : std::string_view(p));
    if (!pat) return bad(pat.error().message());
    pat->exclusion = exclusion;
    m.patterns_.push_back(std::move(*pat));
  }
  return m;
}

bool IgnoreMatcher::ignored(std::string_view rel) const {
  const std::u32string path = decode(rel);
  bool matched = false;
  for (const Pattern& p : patterns_) {
    // Only a pattern that could change the answer is tried: the last match wins.
    if (p.exclusion != matched) continue;
    if (p.matches(path)) matched = !p.exclusion;
  }
  return matched;
}

bool IgnoreMatcher::may_reinclude_under(std::string_view rel) const {
  std::u32string path = decode(rel);
  // Every pattern that matches `rel` matches all beneath it too (as a parent),
  // so only a "!" after the last of them can decide for something beneath.
  std::size_t first = 0;
  for (std::size_t i = patterns_.size(); i-- > 0;) {
    if (patterns_[i].matches(path)) {
      first = i + 1;
      break;
    }
  }
  path.push_back('/');
  for (std::size_t i = first; i < patterns_.size(); ++i) {
    if (patterns_[i].exclusion && patterns_[i].live_after(path)) return true;
  }
  return false;
}

}  // namespace brig::engine
