// brig cell cp's rules (docker cp's), pure.
#include "brig/engine/cell_copy.h"

#include <gmock/gmock.h>

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using K = PathKind;

TEST(CpOperand, AColonBeforeAnySlashNamesACell) {
  EXPECT_EQ(parse_cp_operand("c1:/work/out.txt").cell, "c1");
  EXPECT_EQ(parse_cp_operand("c1:/work/out.txt").path, "/work/out.txt");
  EXPECT_EQ(parse_cp_operand("c1:rel").path, "rel");
  EXPECT_EQ(parse_cp_operand("./dir/a:b").cell, "");
  EXPECT_EQ(parse_cp_operand("./dir/a:b").path, "./dir/a:b");
  EXPECT_EQ(parse_cp_operand(":x").cell, "");
  EXPECT_EQ(parse_cp_operand("plain").cell, "");
}

TEST(CopyTarget, AFileGoesIntoAnExistingDirectoryUnderItsName) {
  EXPECT_EQ(*copy_target("/work/a.txt", K::file, "./out", K::dir), (CopyTarget{"./out", "a.txt"}));
  EXPECT_EQ(*copy_target("/work/a.txt", K::file, "./out/", K::dir), (CopyTarget{"./out", "a.txt"}));
}

TEST(CopyTarget, AFileBecomesDestOrReplacesTheFileDestNames) {
  EXPECT_EQ(*copy_target("/work/a.txt", K::file, "backup.txt", K::none), (CopyTarget{".", "backup.txt"}));
  EXPECT_EQ(*copy_target("/work/a.txt", K::file, "/tmp/x/b", K::file), (CopyTarget{"/tmp/x", "b"}));
}

TEST(CopyTarget, DestEndingInSlashMustBeAnExistingDirectory) {
  auto r = copy_target("/work/a.txt", K::file, "newdir/", K::none);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("does not exist"));
  auto f = copy_target("/work/a.txt", K::file, "afile/", K::file);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message(), HasSubstr("is a file"));
}

TEST(CopyTarget, ADirectoryBecomesANewDestNeverTheCurrentDirectory) {
  // The data-loss case: `cp cell:/work ./backup` must create ./backup.
  EXPECT_EQ(*copy_target("/work", K::dir, "./backup", K::none), (CopyTarget{".", "backup"}));
  EXPECT_EQ(*copy_target("/work/", K::dir, "backup", K::none), (CopyTarget{".", "backup"}));
}

TEST(CopyTarget, ADirectoryGoesIntoAnExistingDirectoryOrItsContentsWithSlashDot) {
  EXPECT_EQ(*copy_target("/work/src", K::dir, "/tmp/d", K::dir), (CopyTarget{"/tmp/d", "src"}));
  EXPECT_EQ(*copy_target("/work/src/.", K::dir, "/tmp/d", K::dir), (CopyTarget{"/tmp/d", "."}));
  EXPECT_EQ(*copy_target("/work/src/.", K::dir, "/tmp/new", K::none), (CopyTarget{"/tmp", "new"}));
}

TEST(CopyTarget, RefusesADirectoryOntoAFileAMissingSourceAndRoot) {
  EXPECT_EQ(copy_target("/work/src", K::dir, "f.txt", K::file).error().code(), Errc::usage);
  EXPECT_EQ(copy_target("/work/none", K::none, "x", K::none).error().code(), Errc::not_found);
  EXPECT_EQ(copy_target("/", K::dir, "x", K::none).error().code(), Errc::usage);
  EXPECT_EQ(copy_target("/work/a.txt/.", K::file, "x", K::none).error().code(), Errc::usage);
}

}  // namespace
}  // namespace brig::engine
