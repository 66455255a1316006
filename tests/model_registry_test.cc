// ModelRegistry (server/engine/model_registry.h): loading a checkpoints
// directory, and every way its listing can go wrong without the process
// going down.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "server/engine/model_registry.h"
#include "tests/scratch_dir.h"
#include "tests/test_checkpoints.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A checkpoints directory of its own under the scratch directory, holding
// a copy of the "base" test checkpoint.
std::string DirWithBase(const std::string& name) {
  const absl::StatusOr<std::string> test =
      TestCheckpointsDir(ScratchDir() + "/checkpoints");
  EXPECT_TRUE(test.ok()) << test.status();
  const fs::path dir = fs::path(ScratchDir()) / name;
  fs::create_directories(dir);
  fs::copy(fs::path(*test) / "base", dir / "base");
  return dir.string();
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> Load(const std::string& dir) {
  RegistryOptions options;
  options.checkpoints_dir = dir;
  options.device = "cpu";
  options.scheduler.max_batch = 1;
  return ModelRegistry::Load(options);
}

TEST(ModelRegistryTest, LoadsEveryCheckpointAndIgnoresOtherEntries) {
  const std::string dir = DirWithBase("plain");
  fs::create_directories(fs::path(dir) / "not-a-checkpoint");
  WriteScratchFile("plain/README", "notes\n");
  // A dangling link is nothing to load.
  ASSERT_EQ(symlink("/nonexistent", (dir + "/gone").c_str()), 0);
  auto registry = Load(dir);
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ((*registry)->Names(), "base");
  EXPECT_EQ((*registry)->models()[0]->device, "cpu");
  EXPECT_EQ((*registry)->models()[0]->dtype, "float32");
}

// These aborted the server (an uncaught std::filesystem::filesystem_error).
TEST(ModelRegistryTest, ALinkLoopBesideTheCheckpointsIsAnError) {
  const std::string dir = DirWithBase("sibling-loop");
  const std::string loop = dir + "/loop";
  ASSERT_EQ(symlink(loop.c_str(), loop.c_str()), 0);
  auto registry = Load(dir);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(registry.status().message()), HasSubstr(loop));
  EXPECT_THAT(std::string(registry.status().message()),
              HasSubstr("symbolic links"));
}

TEST(ModelRegistryTest, AConfigThatIsALinkLoopIsAnError) {
  const std::string dir = DirWithBase("config-loop");
  const std::string config = dir + "/looped/config.json";
  fs::create_directories(dir + "/looped");
  ASSERT_EQ(symlink(config.c_str(), config.c_str()), 0);
  auto registry = Load(dir);
  ASSERT_FALSE(registry.ok());
  EXPECT_THAT(std::string(registry.status().message()), HasSubstr(config));
}

TEST(ModelRegistryTest, MissingOrEmptyDirectoriesSaySo) {
  auto missing = Load(ScratchDir() + "/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("does not exist"));
  fs::create_directories(ScratchDir() + "/empty");
  auto empty = Load(ScratchDir() + "/empty");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(empty.status().message()),
              HasSubstr("no checkpoints"));
  auto file = Load(WriteScratchFile("a-file", "x"));
  EXPECT_THAT(std::string(file.status().message()),
              HasSubstr("is not a directory"));
}

TEST(ModelRegistryTest, UnknownNamesAreQuotedShort) {
  RegistryOptions options;
  options.checkpoints_dir = DirWithBase("select");
  options.device = "cpu";
  options.only = {std::string(10000, 'x')};
  auto registry = ModelRegistry::Load(options);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kNotFound);
  EXPECT_LT(registry.status().message().size(), 300u);
}

}  // namespace
}  // namespace tinylm
