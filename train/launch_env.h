// Where this process stands in a data-parallel job, read from the
// environment that torchrun, a Kubernetes PyTorchJob and other launchers
// give each process: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
// MASTER_PORT (the names of torch.distributed's env:// rendezvous), and
// GLOO_SOCKET_IFNAME where it is set.
//
// Only this file reads them, so that everything else takes plain values
// and the tests need no environment.
#ifndef TINYLM_TRAIN_LAUNCH_ENV_H_
#define TINYLM_TRAIN_LAUNCH_ENV_H_

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace tinylm {

struct LaunchEnv {
  int rank = 0;        // RANK: this process, 0 .. world_size-1
  int world_size = 1;  // WORLD_SIZE: processes in the job
  int local_rank = 0;  // LOCAL_RANK: this process on its machine (GPU index)
  std::string master_addr;     // MASTER_ADDR: host of rank 0's rendezvous store
  int master_port = 0;         // MASTER_PORT
  std::string gloo_interface;  // GLOO_SOCKET_IFNAME; "" = the host's address
};

// Looks up one variable; null when unset (std::getenv's contract).
using EnvLookup = std::function<const char*(const char*)>;

// nullopt when WORLD_SIZE is unset: a run of one process that joins no
// group. With WORLD_SIZE set (1 too: a group of one), RANK, MASTER_ADDR and
// MASTER_PORT are required and LOCAL_RANK defaults to 0. InvalidArgument
// naming the variable and its value for one that is missing or malformed.
absl::StatusOr<std::optional<LaunchEnv>> ReadLaunchEnv(
    const EnvLookup& lookup = std::getenv);

// Rank 0 checks and writes the run's directory, logs and saves; so does
// the only process of a run without a launch.
inline bool IsRankZero(const std::optional<LaunchEnv>& launch) {
  return !launch.has_value() || launch->rank == 0;
}

}  // namespace tinylm

#endif  // TINYLM_TRAIN_LAUNCH_ENV_H_
