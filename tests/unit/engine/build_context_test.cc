// The build context: docker's .dockerignore rules, and what gets staged.
#include "brig/engine/build_context.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "unit/engine/engine_test_util.h"

namespace brig::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::slurp;
using testing::spit;
using testing::TempDir;
namespace stdfs = std::filesystem;

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct MatchCase {
  std::string file, path;
  bool ignored;
};

// docker's documented examples first, then the corners of its reader and matcher.
std::vector<MatchCase> match_cases() {
  const std::string docs = "# comment\n*/temp*\n*/*/temp*\ntemp?\n";
  const std::string deep_stars = repeat("**/", 10) + "x";
  const std::string deep_path = repeat("a/", 300);
  const std::string stars = repeat("*a", 12) + "*b";
  const std::string as = repeat("a", 5000);
  return {
      {docs, "somedir/temporary.txt", true},
      {docs, "somedir/temp", true},
      {docs, "somedir/subdir/temporary.txt", true},
      {docs, "tempa", true},
      {docs, "tempb/inside", true},
      {docs, "temp", false},
      {docs, "tempab", false},
      {docs, "temporary.txt", false},
      {docs, "a/b/c/temp.txt", false},
      {docs, "# comment", false},
      {"**/*.go", "main.go", true},
      {"**/*.go", "a/b/c.go", true},
      {"**/*.go", "a/b.gox", false},
      {"*.md\n!README.md\n", "README.md", false},
      {"*.md\n!README.md\n", "CHANGES.md", true},
      {"*.md\n!README.md\n", "docs/guide.md", false},  // anchored at the root, unlike .gitignore
      {"*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", true},
      {"*.md\n!README*.md\nREADME-secret.md\n", "README-a.md", false},
      {"*.md\n!README*.md\nREADME-secret.md\n", "notes.md", true},
      {"*.md\nREADME-secret.md\n!README*.md\n", "README-secret.md", false},
      {"*\n!src\n", "src/main.c", false},
      {"*\n!src\n", "docs/x", true},
      // "!": the last matching line decides.
      {"!foo\nfoo\n", "foo", true},
      {"foo\n!foo\n", "foo", false},
      {"foo\n!foo/keep\n", "foo", true},
      {"foo\n!foo/keep\n", "foo/keep", false},
      {"foo\n!foo/keep\n", "foo/keep/deeper", false},
      {"foo\n!foo/keep\n", "foo/other", true},
      {"foo\n!*/keep\n", "foo/keep", false},
      // A parent directory's match covers what is in it.
      {"foo", "foo/bar.txt", true},
      {"foo", "a/foo", false},
      {"foo", "foobar", false},
      {"*", "a/b", true},
      // Cleaned like filepath.Clean; a leading '/' dropped; "dir/" is "dir".
      {"/anchored", "anchored", true},
      {"/anchored", "a/anchored", false},
      {"/a/b", "a/b", true},
      {"dir/", "dir", true},
      {"dir/", "dir/x", true},
      {"./a", "a", true},
      {"a/../b", "b", true},
      {"a/../b", "a", false},
      {"a//b/./c", "a/b/c", true},
      {"*\n! ./a\n", "a", false},
      {"*\na/../!b\n", "b", false},  // the '!' is looked for after cleaning, as docker does
      {"!../../**\n", "x", true},    // "!../../**" cleans to "**"
      // Comments only in column 1; blank lines; whitespace; CRLF; a BOM.
      {"#foo\nbar\n", "#foo", false},
      {"#foo\nbar\n", "bar", true},
      {" #foo\n", "#foo", true},
      {"\\#foo\n", "#foo", true},
      {"\n\n  \t\n  foo  \t\n", "foo", true},
      {"foo\r\nbar\r\n", "bar", true},
      {"\xEF\xBB\xBF"
       "foo\n",
       "foo", true},
      // Escapes.
      {"foo\\*", "foo*", true},
      {"foo\\*", "foox", false},
      {"\\[x\\]", "[x]", true},
      {"a\\?", "ab", false},
      // '*' and '?' stop at '/'.
      {"a?b", "a/b", false},
      {"a*b", "a/b", false},
      {"a*b", "axxb", true},
      {"caf?", "caf\xC3\xA9", true},  // '?' is one character, not one byte
      // Classes: '^' negates, '!' does not.
      {"[a-c]at", "bat", true},
      {"[a-c]at", "dat", false},
      {"[^a]x", "bx", true},
      {"[^a]x", "ax", false},
      {"[!a]x", "!x", true},
      {"[!a]x", "bx", false},
      {"[\\]]", "]", true},
      // "**".
      {"foo/**", "foo", false},
      {"foo/**", "foo/x", true},
      {"foo/**", "foo/a/b", true},
      {"a/**/b", "a/b", true},
      {"a/**/b", "a/x/y/b", true},
      {"a/**/b", "a/xb", false},
      {"**", "anything/at/all", true},
      {"**/foo", "foo", true},
      {"**/foo", "a/b/foo", true},
      {"**/foo", "a/foo/bar", true},
      {"**/foo", "xfoo", false},
      {"**foo", "xfoo", true},  // docker's suffix shortcut
      {"**foo", "a/bfoo", true},
      {"a**b", "ab", true},
      {"a**b", "a/x/b", true},
      {"a**b", "axb", false},
      // Hostile patterns: a backtracking matcher would never finish these.
      {deep_stars, deep_path + "y", false},
      {deep_stars, deep_path + "x", true},
      {stars, as, false},
      {stars, as + "b", true},
      {"**/" + stars + "/**", deep_path + as, false},
  };
}

TEST(IgnoreMatcher, MatchesAsDockerDoes) {
  for (const MatchCase& c : match_cases()) {
    SCOPED_TRACE("patterns " + ::testing::PrintToString(c.file) + " path " + ::testing::PrintToString(c.path));
    auto m = IgnoreMatcher::parse(c.file);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(m->ignored(c.path), c.ignored);
  }
}

TEST(IgnoreMatcher, BadPatternsNameTheLine) {
  struct Case {
    std::string file, message;
  };
  const std::vector<Case> cases = {
      {"ok\n[abc\n", "line 2: invalid pattern \"[abc\": '[' without a closing ']'"},
      {"# c\n\n[a-\n", "line 3: invalid pattern \"[a-\": '[' without a closing ']'"},
      {"foo\\", "line 1: invalid pattern \"foo\\\\\": a '\\' at the end escapes nothing"},
      {"!", "line 1: invalid pattern \"!\": a lone '!' re-includes nothing"},
      {"!/", "line 1: invalid pattern \"!/\": a lone '!' re-includes nothing"},
      {"[]", "line 1: invalid pattern \"[]\": bad character class"},
      {"[z-a]", "line 1: invalid pattern \"[z-a]\": bad range in character class"},
  };
  for (const Case& c : cases) {
    auto m = IgnoreMatcher::parse(c.file);
    ASSERT_FALSE(m.ok()) << c.file;
    EXPECT_EQ(m.error().code(), Errc::invalid);
    EXPECT_EQ(m.error().message(), c.message);
    EXPECT_THAT(m.error().fix(), HasSubstr("line"));
  }
}

TEST(IgnoreMatcher, MayReincludeUnderOnlyWhenANegationCanMatchBeneath) {
  struct Case {
    std::string file, dir;
    bool may;
  };
  const std::vector<Case> cases = {
      {"foo\n!foo/keep\n", "foo", true}, {"foo\n!foo/keep\n", "foo/other", false},
      {"foo\n", "foo", false},           {"!foo/keep\nfoo\n", "foo", false},  // the later "foo" decides for all beneath
      {"foo\n!*/keep\n", "foo", true},   {"foo\n!**/keep\n", "foo", true},
      {"foo\n!bar\n", "foo", false},     {"**/node_modules\n!**/node_modules/keep\n", "a/node_modules", true},
      {"*\n!src/**\n", "src", true},     {"*\n!src/**\n", "docs", false},
  };
  for (const Case& c : cases) {
    auto m = IgnoreMatcher::parse(c.file);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_TRUE(m->ignored(c.dir)) << c.file << " " << c.dir;
    EXPECT_EQ(m->may_reinclude_under(c.dir), c.may) << c.file << " " << c.dir;
  }
}

// What a staging directory holds: "dir/" for directories, "link@" for symlinks.
std::set<std::string> tree(const std::string& root) {
  std::set<std::string> out;
  for (auto it = stdfs::recursive_directory_iterator(root); it != stdfs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().lexically_relative(root).string();
    if (it->is_symlink()) {
      rel += "@";
    } else if (it->is_directory()) {
      rel += "/";
    }
    out.insert(rel);
  }
  return out;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class BuildContextStaging : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string ctx = tmp.path() + "/ctx";
  std::string stage = tmp.path() + "/stage";
  std::vector<std::string> warnings;

  void SetUp() override {
    stdfs::create_directories(ctx);
    stdfs::create_directories(stage);
  }
  void link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), (ctx + "/" + rel).c_str()), 0) << rel;
  }
  static BuildContextOptions options(const std::string& dir, const std::string& containerfile = "") {
    BuildContextOptions o;
    o.dir = dir;
    o.containerfile = containerfile;
    return o;
  }
  Result<BuildContext> assemble(BuildContextOptions opts = {}) {
    if (opts.dir.empty()) opts.dir = ctx;
    return assemble_context(opts, stage, [this](const std::string& line) { warnings.push_back(line); });
  }
};

TEST_F(BuildContextStaging, StagesWhatTheIgnoreFileKeeps) {
  spit(ctx + "/.containerignore", "# build outputs\n*.log\nbuild\n!build/keep.txt\nsecret/\nContainerfile\n**/*.tmp\n");
  spit(ctx + "/Containerfile", "FROM scratch\n");
  spit(ctx + "/a.txt", "a");
  spit(ctx + "/b.log", "log");
  spit(ctx + "/build/out.bin", "bin");
  spit(ctx + "/build/keep.txt", "keep");
  spit(ctx + "/build/sub/x", "x");
  spit(ctx + "/secret/key", "key");
  spit(ctx + "/src/main.c", "int main;");
  spit(ctx + "/src/c.log", "c");
  spit(ctx + "/src/deep/z.tmp", "z");
  spit(ctx + "/.git/HEAD", "ref");
  // Never opened: an ignored directory no "!" reaches is not descended.
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod((ctx + "/build/sub").c_str(), 0), 0);
  }

  auto r = assemble();
  ::chmod((ctx + "/build/sub").c_str(), 0755);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", ".git/", ".git/HEAD", "a.txt", "build/",
                                                "build/keep.txt", "src/", "src/c.log", "src/deep/", "src/main.c"}));
  EXPECT_EQ(slurp(stage + "/build/keep.txt"), "keep");
  EXPECT_EQ(r->ignore_file, ".containerignore");
  EXPECT_EQ(r->staged, stage);
  EXPECT_EQ(r->files, 6u);
  EXPECT_EQ(r->bytes, stdfs::file_size(ctx + "/.containerignore") + 3 + 1 + 4 + 9 + 1);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST_F(BuildContextStaging, ReincludesThroughWildcardNegations) {
  spit(ctx + "/.containerignore", "foo\n!*/keep\n");
  spit(ctx + "/foo/keep", "k");
  spit(ctx + "/foo/other", "o");
  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", "foo/", "foo/keep"}));
}

TEST_F(BuildContextStaging, DropsSymlinksThatLeaveTheContext) {
  // A sibling directory stands in for ~/.ssh.
  const std::string key = tmp.path() + "/home/.ssh/id_rsa";
  spit(key, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
  spit(ctx + "/a.txt", "hello");
  spit(ctx + "/sub/f", "f");
  spit(ctx + "/.containerignore", "ignored_out\n");
  link("a.txt", "in_file");
  link("sub", "in_dir");
  link("../a.txt", "sub/up");
  link("in_file", "chain_in");
  link(".", "self_root");
  link(key, "abs_out");
  link("../home/.ssh/id_rsa", "rel_out");
  link("../home/.ssh", "out_dir");
  link("rel_out", "chain_out");
  link("missing.txt", "dangling");
  link("loop_b", "loop_a");
  link("loop_a", "loop_b");
  link("/etc/passwd", "ignored_out");

  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", "a.txt", "chain_in@", "in_dir@", "in_file@",
                                                "self_root@", "sub/", "sub/f", "sub/up@"}));
  EXPECT_EQ(stdfs::read_symlink(stage + "/in_file"), "a.txt");
  EXPECT_EQ(stdfs::read_symlink(stage + "/in_dir"), "sub");
  EXPECT_EQ(stdfs::read_symlink(stage + "/sub/up"), "../a.txt");
  EXPECT_THAT(r->dropped_links,
              ElementsAre("abs_out", "chain_out", "dangling", "loop_a", "loop_b", "out_dir", "rel_out"));
  EXPECT_THAT(warnings,
              ElementsAre("dropped symlink abs_out -> " + key + ": it points outside the build context",
                          "dropped symlink chain_out -> rel_out: it points outside the build context",
                          "dropped symlink dangling -> missing.txt: its target does not exist",
                          "dropped symlink loop_a -> loop_b: it loops", "dropped symlink loop_b -> loop_a: it loops",
                          "dropped symlink out_dir -> ../home/.ssh: it points outside the build context",
                          "dropped symlink rel_out -> ../home/.ssh/id_rsa: it points outside the build context"));
  for (const auto& e : stdfs::recursive_directory_iterator(stage)) {
    if (e.is_regular_file() && !e.is_symlink()) {
      EXPECT_THAT(slurp(e.path()), Not(HasSubstr("PRIVATE KEY"))) << e.path();
    }
  }
}

TEST_F(BuildContextStaging, ALinkWhoseTextLeavesTheContextIsDroppedEvenIfItComesBack) {
  // outside/back -> ctx/a.txt: the staged text would name a file outside.
  spit(ctx + "/a.txt", "a");
  stdfs::create_directories(tmp.path() + "/outside");
  ASSERT_EQ(::symlink((ctx + "/a.txt").c_str(), (tmp.path() + "/outside/back").c_str()), 0);
  link("../outside/back", "via_outside");
  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_THAT(r->dropped_links, ElementsAre("via_outside"));
  EXPECT_EQ(tree(stage), (std::set<std::string>{"a.txt"}));
}

TEST_F(BuildContextStaging, TheIgnoreFileAndContainerfileMayIgnoreThemselves) {
  spit(ctx + "/.dockerignore", "Containerfile\n.dockerignore\n");
  spit(ctx + "/Containerfile", "FROM scratch\n");
  spit(ctx + "/app.py", "print()\n");
  auto r = assemble(options(ctx, ctx + "/Containerfile"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ignore_file, ".dockerignore");
  EXPECT_EQ(tree(stage), (std::set<std::string>{"app.py"}));
}

TEST_F(BuildContextStaging, ContainerignoreWinsOverDockerignore) {
  spit(ctx + "/.containerignore", "a.txt\n");
  spit(ctx + "/.dockerignore", "b.txt\n");
  spit(ctx + "/a.txt", "a");
  spit(ctx + "/b.txt", "b");
  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ignore_file, ".containerignore");
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", ".dockerignore", "b.txt"}));
}

TEST_F(BuildContextStaging, TheContainerfilesOwnIgnoreFileComesFirst) {
  const std::string file = tmp.path() + "/elsewhere/app.Containerfile";
  spit(file, "FROM scratch\n");
  spit(file + ".dockerignore", "a.txt\n");
  spit(ctx + "/.containerignore", "b.txt\n");
  spit(ctx + "/a.txt", "a");
  spit(ctx + "/b.txt", "b");
  auto r = assemble(options(ctx, file));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ignore_file, file + ".dockerignore");
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", "b.txt"}));
}

TEST_F(BuildContextStaging, AbortsAtTheLimitWithoutReadingTheFile) {
  spit(ctx + "/small.txt", "x");
  const std::string big = ctx + "/big.bin";
  const int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, (2ll << 30) + 1), 0);  // sparse: nothing to read, nothing read
  ::close(fd);
  auto r = assemble();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(), "build context is larger than 2 GB (at big.bin)");
  EXPECT_THAT(r.error().fix(), HasSubstr(".containerignore"));
  EXPECT_FALSE(testing::exists(stage + "/big.bin"));
  EXPECT_THAT(warnings, IsEmpty());
}

TEST_F(BuildContextStaging, WarnsOnceOverTheWarningSize) {
  for (const char* name : {"a", "b", "c"}) spit(ctx + "/" + name, std::string(600, 'x'));
  BuildContextOptions small = options(ctx);
  small.warn_bytes = 1 << 10;
  small.max_bytes = 4 << 10;
  auto r = assemble(small);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->bytes, 1800u);
  EXPECT_THAT(
      warnings,
      ElementsAre("build context is over 1 KB; add a .containerignore to leave out what the image does not need"));

  spit(ctx + "/d", std::string(3000, 'x'));
  stdfs::remove_all(stage);
  stdfs::create_directories(stage);
  r = assemble(small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "build context is larger than 4 KB (at d)");
}

TEST_F(BuildContextStaging, SkipsFifosWithAWarning) {
  spit(ctx + "/.containerignore", "ignored_pipe\n");
  spit(ctx + "/a.txt", "a");
  ASSERT_EQ(::mkfifo((ctx + "/pipe").c_str(), 0644), 0);
  ASSERT_EQ(::mkfifo((ctx + "/ignored_pipe").c_str(), 0644), 0);
  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(tree(stage), (std::set<std::string>{".containerignore", "a.txt"}));
  EXPECT_THAT(warnings,
              ElementsAre("skipped the fifo pipe: a build context holds only files, directories and symlinks"));
}

TEST_F(BuildContextStaging, KeepsModes) {
  spit(ctx + "/run.sh", "#!/bin/sh\n");
  spit(ctx + "/secret", "s");
  spit(ctx + "/ro/inside", "i");
  spit(ctx + "/private/x", "x");
  ASSERT_EQ(::chmod((ctx + "/run.sh").c_str(), 0751), 0);
  ASSERT_EQ(::chmod((ctx + "/secret").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((ctx + "/ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((ctx + "/private").c_str(), 0700), 0);
  auto r = assemble();
  ::chmod((ctx + "/ro").c_str(), 0755);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(mode_of(stage + "/run.sh"), 0751u);
  EXPECT_EQ(mode_of(stage + "/secret"), 0600u);
  EXPECT_EQ(mode_of(stage + "/ro"), 0555u);
  EXPECT_EQ(mode_of(stage + "/private"), 0700u);
  EXPECT_EQ(slurp(stage + "/ro/inside"), "i");
  ::chmod((stage + "/ro").c_str(), 0755);  // so TempDir can clean up
}

TEST_F(BuildContextStaging, ABadIgnoreFileNamesFileAndLine) {
  spit(ctx + "/.containerignore", "ok\n[abc\n");
  auto r = assemble();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(),
            ctx + "/.containerignore: line 2: invalid pattern \"[abc\": '[' without a closing ']'");
}

TEST_F(BuildContextStaging, TheContextMustBeADirectory) {
  auto r = assemble(options(ctx + "/missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::not_found);
  spit(ctx + "/file", "f");
  r = assemble(options(ctx + "/file"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "build context " + ctx + "/file is not a directory");
}

TEST_F(BuildContextStaging, AStagingDirectoryInsideTheContextIsNotStagedIntoItself) {
  spit(ctx + "/a.txt", "a");
  stage = ctx + "/.stage";
  stdfs::create_directories(stage);
  auto r = assemble();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(tree(stage), (std::set<std::string>{"a.txt"}));
}

TEST(FindContainerfile, PrefersFlagThenContainerfileThenDockerfile) {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto none = find_containerfile(dir, "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::not_found);
  EXPECT_EQ(none.error().message(), "no Containerfile or Dockerfile in " + dir);
  EXPECT_EQ(none.error().fix(), "add a Containerfile to " + dir + " or pass -f FILE");

  spit(dir + "/Dockerfile", "FROM scratch\n");
  EXPECT_EQ(*find_containerfile(dir, ""), dir + "/Dockerfile");
  stdfs::create_directories(dir + "/Containerfile");  // a directory is not one
  EXPECT_EQ(*find_containerfile(dir, ""), dir + "/Dockerfile");
  stdfs::remove(dir + "/Containerfile");
  spit(dir + "/Containerfile", "FROM scratch\n");
  EXPECT_EQ(*find_containerfile(dir, ""), dir + "/Containerfile");

  spit(dir + "/other/Build.file", "FROM scratch\n");
  EXPECT_EQ(*find_containerfile(dir, dir + "/other/Build.file"), dir + "/other/Build.file");
  auto missing = find_containerfile(dir, dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  auto a_dir = find_containerfile(dir, dir + "/other");
  ASSERT_FALSE(a_dir.ok());
  EXPECT_EQ(a_dir.error().code(), Errc::invalid);
}

}  // namespace
}  // namespace brig::engine
