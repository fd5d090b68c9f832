// The pure half of `brig image build`: which files of a build context the
// .containerignore (or .dockerignore) keeps, and staging exactly those into a
// directory podman builds from. A symlink that resolves outside the context is
// dropped, so a build cannot read the host's files through one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"

namespace brig::engine {

// docker's .dockerignore rules, as moby/patternmatcher and its ignore-file
// reader apply them:
// - one pattern a line; a line starting with '#' (in column 1) is a comment;
//   blank lines are skipped; whitespace around a pattern is trimmed;
// - a pattern is cleaned like Go's filepath.Clean ("./a", "a/", "a/b/.." all
//   become "a") and a leading '/' is dropped: every pattern is anchored at the
//   context root ("*.md" matches README.md, not docs/x.md). So "dir/" also
//   matches a file named dir, as in docker (no git-style directory-only rule);
// - '*' matches a run of non-'/' characters, '?' one, "[a-z]"/"[^a-z]" a class
//   ('!' is not a negation there), '\' escapes; "**" matches any number of
//   directories including none ("**/x", "a/**/b", "a/**"); a leading "**"
//   followed by plain text matches any path ending in that text (docker's
//   "**foo" matches "xfoo");
// - a path is matched by a pattern that matches it or one of its parent
//   directories; "!" re-includes; the last matching pattern decides.
// Matching runs a set-of-states automaton over the path: time is linear in
// the path's length times the pattern's, whatever the input.
class IgnoreMatcher {
 public:
  // Errc::invalid naming the line for a pattern docker would refuse
  // (unterminated '[', bad range, trailing '\', a lone "!").
  static Result<IgnoreMatcher> parse(std::string_view text);

  // REQUIRES: rel is context-relative with '/' separators, no leading "./"
  // or "/", no trailing '/'. A directory and a file of the same name match
  // alike (docker's rules never look at the kind).
  bool ignored(std::string_view rel) const;

  // False only when no "!" pattern can re-include anything under the ignored
  // directory `rel`, so the walker may skip it. Unlike docker's walkers, which
  // descend only for a "!" pattern that starts with the directory's own name,
  // this answers for wildcards too ("dir" then "!*/keep" keeps dir/keep).
  bool may_reinclude_under(std::string_view rel) const;

  IgnoreMatcher();
  ~IgnoreMatcher();
  IgnoreMatcher(IgnoreMatcher&&) noexcept;
  IgnoreMatcher& operator=(IgnoreMatcher&&) noexcept;

 private:
  struct Pattern;
  std::vector<Pattern> patterns_;
};

struct BuildContextOptions {
  std::string dir;            // the context directory (must exist, must be a dir)
  std::string containerfile;  // the Containerfile the build uses (may be outside dir)
  std::uint64_t warn_bytes = 500ull << 20;
  std::uint64_t max_bytes = 2ull << 30;
};

struct BuildContext {
  std::string staged;  // the staging directory, filled
  // The ignore file used: "<containerfile>.containerignore" or
  // "<containerfile>.dockerignore" (docker's Dockerfile-specific ignore file,
  // beside the Containerfile), else ".containerignore" or ".dockerignore" in
  // the context; "" when there is none.
  std::string ignore_file;
  std::uint64_t bytes = 0;  // total regular-file bytes staged
  std::size_t files = 0;    // regular files staged
  // Context-relative paths of the symlinks dropped: resolving outside the
  // context, dangling, or looping.
  std::vector<std::string> dropped_links;
};

// Walks `dir` and copies what the ignore file keeps into `staging` (an empty
// directory the caller made), calling warn(line) for each warning as it
// happens. Regular files keep their mode bits (not their owner), directories
// their modes; symlinks resolving inside the context are staged as symlinks
// with the same target text and never descended; fifos, sockets and devices
// are skipped with a warning. Ignored files are never opened; an ignored
// directory is not descended unless a "!" pattern could re-include something
// in it (the ignore file and the Containerfile themselves may be ignored).
// The size is decided from each file's st_size before it is opened: warns
// once past warn_bytes, and fails with Errc::invalid before staging a file
// that would take the total past max_bytes.
Result<BuildContext> assemble_context(const BuildContextOptions& opts, const std::string& staging,
                                      const std::function<void(const std::string&)>& warn);

// The Containerfile: `file_flag` (-f, relative to the working directory) when
// given, else DIR/Containerfile, else DIR/Dockerfile. Errc::not_found with a
// fix when there is none.
Result<std::string> find_containerfile(const std::string& dir, const std::string& file_flag);

}  // namespace brig::engine
