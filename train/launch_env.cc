#include "train/launch_env.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/quote.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

// A job larger than this is a typo, not a job.
constexpr int kMaxWorldSize = 1 << 20;

// The whole-number variable `name` in [min, max], nullopt when unset;
// `context` ends the message of a bad value.
absl::StatusOr<std::optional<int>> ReadInt(const EnvLookup& lookup,
                                           const char* name, int min, int max,
                                           const std::string& context = "") {
  const char* value = lookup(name);
  if (value == nullptr) return std::nullopt;
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=", Quote(value), " must be a whole number from ",
                     min, " to ", max, context));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<std::optional<LaunchEnv>> ReadLaunchEnv(
    const EnvLookup& lookup) {
  TINYLM_ASSIGN_OR_RETURN(std::optional<int> world_size,
                          ReadInt(lookup, "WORLD_SIZE", 1, kMaxWorldSize));
  if (!world_size.has_value()) return std::nullopt;
  LaunchEnv env;
  env.world_size = *world_size;
  auto missing = [&](const char* name) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is not set but WORLD_SIZE=", env.world_size,
        " is: launchers such as torchrun set RANK, WORLD_SIZE, MASTER_ADDR "
        "and MASTER_PORT together"));
  };
  TINYLM_ASSIGN_OR_RETURN(
      std::optional<int> rank,
      ReadInt(lookup, "RANK", 0, env.world_size - 1,
              absl::StrCat(" (WORLD_SIZE=", env.world_size, ")")));
  if (!rank.has_value()) return missing("RANK");
  env.rank = *rank;
  TINYLM_ASSIGN_OR_RETURN(std::optional<int> local_rank,
                          ReadInt(lookup, "LOCAL_RANK", 0, kMaxWorldSize - 1));
  env.local_rank = local_rank.value_or(0);
  const char* addr = lookup("MASTER_ADDR");
  if (addr == nullptr) return missing("MASTER_ADDR");
  if (*addr == '\0') {
    return absl::InvalidArgumentError(
        "MASTER_ADDR is empty: it names the host of rank 0");
  }
  env.master_addr = addr;
  TINYLM_ASSIGN_OR_RETURN(std::optional<int> port,
                          ReadInt(lookup, "MASTER_PORT", 1, 65535));
  if (!port.has_value()) return missing("MASTER_PORT");
  env.master_port = *port;
  if (const char* ifname = lookup("GLOO_SOCKET_IFNAME")) {
    env.gloo_interface = ifname;
  }
  return env;
}

}  // namespace tinylm
