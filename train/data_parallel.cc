#include "train/data_parallel.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "train/gradient_sync.h"
#include "train/process_group.h"
#include "util/device.h"
#include "util/status_macros.h"

namespace tinylm {

absl::StatusOr<c10::Device> ReplicaDevice(
    const std::string& device, const std::optional<LaunchEnv>& launch) {
  TINYLM_ASSIGN_OR_RETURN(c10::Device resolved, ResolveDevice(device));
  if (!launch.has_value()) return resolved;
  // One GPU per process of a machine; an explicit cuda:N is taken as given.
  if (resolved.is_cuda() && (device == "cuda" || device == "auto")) {
    const int64_t count = int64_t(torch::cuda::device_count());
    if (launch->local_rank >= count) {
      return absl::FailedPreconditionError(absl::StrCat(
          "LOCAL_RANK=", launch->local_rank, " picks cuda:", launch->local_rank,
          " for --device=", device, ", but only ", count, " CUDA device",
          count == 1 ? " is" : "s are", " present"));
    }
    resolved = c10::Device(c10::kCUDA,
                           static_cast<c10::DeviceIndex>(launch->local_rank));
  }
  TINYLM_RETURN_IF_ERROR(
      ProcessGroup::CheckBackend(resolved, launch->world_size));
  return resolved;
}

DataParallel::DataParallel() = default;

DataParallel::DataParallel(std::unique_ptr<ProcessGroup> group)
    : group_(std::move(group)) {}

DataParallel::~DataParallel() = default;

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Join(
    const LaunchEnv& launch, c10::Device device, int64_t timeout_s) {
  TINYLM_ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group,
                          ProcessGroup::Join(launch, device, timeout_s));
  return std::unique_ptr<DataParallel>(new DataParallel(std::move(group)));
}

int DataParallel::rank() const { return group_ ? group_->rank() : 0; }

int DataParallel::world_size() const { return group_ ? group_->size() : 1; }

absl::Status DataParallel::Replicate(FlatParameters& flat,
                                     torch::optim::Optimizer* optimizer,
                                     std::vector<double>* numbers) {
  if (group_ == nullptr) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  for (at::Tensor buffer : {flat.decayed().front(), flat.undecayed().front()}) {
    TINYLM_RETURN_IF_ERROR(group_->Broadcast(buffer));
  }
  if (optimizer == nullptr) return absl::OkStatus();
  at::Tensor values = at::tensor(*numbers, at::kDouble);
  TINYLM_RETURN_IF_ERROR(group_->Broadcast(values));
  numbers->assign(values.data_ptr<double>(),
                  values.data_ptr<double>() + values.numel());
  // The optimizer's state travels as its serialized bytes, which keeps
  // this independent of the optimizer's kind: first their count, then
  // them.
  std::string bytes;
  if (is_rank_zero()) {
    std::ostringstream out;
    torch::save(*optimizer, out);
    bytes = out.str();
  }
  at::Tensor size = at::tensor({int64_t(bytes.size())}, at::kLong);
  TINYLM_RETURN_IF_ERROR(group_->Broadcast(size));
  at::Tensor data = at::empty({size.item<int64_t>()}, at::kByte);
  if (is_rank_zero())
    std::copy(bytes.begin(), bytes.end(), data.data_ptr<uint8_t>());
  TINYLM_RETURN_IF_ERROR(group_->Broadcast(data));
  if (is_rank_zero()) return absl::OkStatus();
  try {
    std::istringstream in(std::string(
        reinterpret_cast<const char*>(data.data_ptr<uint8_t>()), data.numel()));
    torch::load(*optimizer, in, group_->device());
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat(
        "data parallel: rank ", rank(),
        " cannot read rank 0's optimizer state: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

void DataParallel::SyncGradients(torch::nn::Module& module,
                                 FlatParameters& flat, double bucket_mb) {
  if (group_ == nullptr) return;
  sync_ = std::make_unique<GradientSync>(
      module.parameters(),
      std::vector<at::Tensor>{flat.decayed().front().grad(),
                              flat.undecayed().front().grad()},
      *group_, int64_t(bucket_mb * (1 << 20)));
}

void DataParallel::BeginStep(int64_t backward_passes) {
  if (sync_ != nullptr) sync_->BeginStep(backward_passes);
}

absl::Status DataParallel::FinishStep() {
  return sync_ != nullptr ? sync_->FinishStep() : absl::OkStatus();
}

absl::Status DataParallel::Sum(at::Tensor& tensor) {
  return group_ != nullptr ? group_->Sum(tensor) : absl::OkStatus();
}

}  // namespace tinylm
