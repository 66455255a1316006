// ReadLaunchEnv (train/launch_env.h): the environment torchrun gives each
// rank, and a clear error naming the variable for every way it can be
// wrong.
#include "train/launch_env.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::optional<LaunchEnv>> Read(
    const std::map<std::string, std::string>& vars) {
  return ReadLaunchEnv([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

const std::map<std::string, std::string> kTorchrun = {{"RANK", "3"},
                                                      {"WORLD_SIZE", "8"},
                                                      {"LOCAL_RANK", "3"},
                                                      {"MASTER_ADDR", "node0"},
                                                      {"MASTER_PORT", "29500"}};

std::map<std::string, std::string> With(const std::string& name,
                                        const char* value) {
  std::map<std::string, std::string> vars = kTorchrun;
  if (value == nullptr) {
    vars.erase(name);
  } else {
    vars[name] = value;
  }
  return vars;
}

TEST(LaunchEnvTest, WithoutWorldSizeThereIsNoLaunch) {
  absl::StatusOr<std::optional<LaunchEnv>> env = Read({{"RANK", "1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE(env->has_value());
}

TEST(LaunchEnvTest, ReadsTorchrunsVariables) {
  absl::StatusOr<std::optional<LaunchEnv>> env = Read(kTorchrun);
  ASSERT_TRUE(env.ok() && env->has_value()) << env.status();
  const LaunchEnv& e = **env;
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 3);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 29500);
  EXPECT_EQ(e.gloo_interface, "");
  EXPECT_FALSE(IsRankZero(*env));
}

TEST(LaunchEnvTest, LocalRankDefaultsToZeroAndOneRankIsAGroup) {
  std::map<std::string, std::string> vars = With("LOCAL_RANK", nullptr);
  vars["RANK"] = "0";
  vars["WORLD_SIZE"] = "1";
  vars["GLOO_SOCKET_IFNAME"] = "eth1";
  absl::StatusOr<std::optional<LaunchEnv>> env = Read(vars);
  ASSERT_TRUE(env.ok() && env->has_value()) << env.status();
  EXPECT_EQ((*env)->local_rank, 0);
  EXPECT_EQ((*env)->world_size, 1);
  EXPECT_EQ((*env)->gloo_interface, "eth1");
  EXPECT_TRUE(IsRankZero(*env));
}

TEST(LaunchEnvTest, MalformedOrMissingVariablesAreNamed) {
  const struct {
    const char* name;
    const char* value;  // null: unset
    const char* message;
  } cases[] = {
      {"WORLD_SIZE", "two", "WORLD_SIZE=\"two\" must be a whole number"},
      {"WORLD_SIZE", "0", "WORLD_SIZE=\"0\" must be a whole number from 1"},
      {"WORLD_SIZE", "", "WORLD_SIZE=\"\" must be"},
      {"RANK", nullptr, "RANK is not set but WORLD_SIZE=8 is"},
      {"RANK", "8",
       "RANK=\"8\" must be a whole number from 0 to 7 "
       "(WORLD_SIZE=8)"},
      {"RANK", "-1", "RANK=\"-1\""},
      {"LOCAL_RANK", "x", "LOCAL_RANK=\"x\""},
      {"MASTER_ADDR", nullptr, "MASTER_ADDR is not set"},
      {"MASTER_ADDR", "", "MASTER_ADDR is empty"},
      {"MASTER_PORT", nullptr, "MASTER_PORT is not set"},
      {"MASTER_PORT", "99999",
       "MASTER_PORT=\"99999\" must be a whole number "
       "from 1 to 65535"},
  };
  for (const auto& c : cases) {
    const absl::Status status = Read(With(c.name, c.value)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace tinylm
