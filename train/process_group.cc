#include "train/process_group.h"

#include <torch/version.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "util/quote.h"

// The backends this build has (train/CMakeLists.txt).
#ifdef TINYLM_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef TINYLM_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/cuda/nccl.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace tinylm {
namespace {

// LibTorch 2 moved the collectives from ProcessGroup into a Backend, which
// is what Gloo and NCCL implement there; in 1.13 they are ProcessGroups.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

std::string What(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

}  // namespace

struct ProcessGroup::Impl {
  Impl(c10::Device device, std::string where, int64_t timeout_s)
      : device(device), where(std::move(where)), timeout_s(timeout_s) {}

  // An error of collective `what` on this rank.
  absl::Status Failure(const char* what, const std::exception& e) const {
    return absl::AbortedError(absl::StrCat(
        "data parallel: ", what, " failed on ", where,
        " (another rank failed or stopped, or it waited longer than "
        "--dist_timeout_s=",
        timeout_s, "): ", What(e)));
  }

  const c10::Device device;
  const std::string where;  // "rank R of N"
  const int64_t timeout_s;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> backend;
  std::mutex mu;
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;  // guarded by mu
  absl::Status error;  // the first failure; guarded by mu
};

absl::Status ProcessGroup::CheckBackend(c10::Device device, int world_size) {
#ifdef TINYLM_WITH_NCCL
  // The size of ProcessGroupNCCL::Options, which this file allocates and
  // LibTorch fills, depends on the NCCL version of nccl.h: it must be that
  // of the nccl.h LibTorch was compiled with, whose version it reports.
  const uint64_t built = torch::cuda::nccl::version();
  const uint64_t here = (uint64_t(NCCL_MAJOR) << 32) | (NCCL_MINOR << 16);
  if (device.is_cuda() && (built >> 16) != (here >> 16)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "WORLD_SIZE=", world_size, ": this build's nccl.h is NCCL ", NCCL_MAJOR,
        ".", NCCL_MINOR, " but its LibTorch was built with NCCL ", built >> 32,
        ".", (built >> 16) & 0xffff,
        "; rebuild with NCCL_INCLUDE_DIR naming that version's headers"));
  }
#else
  if (device.is_cuda()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "WORLD_SIZE=", world_size,
        ": data parallel on CUDA needs c10d's NCCL backend, which this build "
        "lacks (a LibTorch without NCCL, or no nccl.h when it was built)"));
  }
#endif
#ifndef TINYLM_WITH_GLOO
  if (!device.is_cuda()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "WORLD_SIZE=", world_size,
        ": data parallel on the CPU needs c10d's Gloo backend, which this "
        "build lacks (its LibTorch came without Gloo's headers); train on "
        "CUDA"));
  }
#endif
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Join(
    const LaunchEnv& env, c10::Device device, int64_t timeout_s) {
  const absl::Status backend_ok = CheckBackend(device, env.world_size);
  if (!backend_ok.ok()) return backend_ok;
  auto impl = std::make_unique<Impl>(
      device, absl::StrCat("rank ", env.rank, " of ", env.world_size),
      timeout_s);
  const std::chrono::milliseconds timeout(timeout_s * 1000);
  auto failed = [&](const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "data parallel: the rendezvous of ", impl->where, " at MASTER_ADDR=",
        Quote(env.master_addr), " MASTER_PORT=", env.master_port,
        env.gloo_interface.empty()
            ? ""
            : absl::StrCat(" through GLOO_SOCKET_IFNAME=",
                           Quote(env.gloo_interface)),
        " failed within --dist_timeout_s=", timeout_s, ": ", What(e)));
  };
  // First the store, which rank 0 serves; then the backend, which
  // connects to every other rank through it.
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
#ifdef TINYLM_WITH_NCCL
    if (device.is_cuda()) {
      // NCCL and the CUDA caching allocator work on the current device.
      c10::cuda::set_device(device.index());
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = timeout;
      impl->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          impl->store, env.rank, env.world_size, nccl);
    }
#endif
#ifdef TINYLM_WITH_GLOO
    if (!device.is_cuda()) {
      auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo->devices.push_back(
          env.gloo_interface.empty()
              ? c10d::ProcessGroupGloo::createDefaultDevice()
              : c10d::ProcessGroupGloo::createDeviceForInterface(
                    env.gloo_interface));
      impl->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(
          impl->store, env.rank, env.world_size, gloo);
    }
#endif
  } catch (const std::exception& e) {
    return failed(e);
  }
  return std::unique_ptr<ProcessGroup>(
      new ProcessGroup(env.rank, env.world_size, std::move(impl)));
}

ProcessGroup::ProcessGroup(int rank, int size, std::unique_ptr<Impl> impl)
    : rank_(rank), size_(size), impl_(std::move(impl)) {}

ProcessGroup::~ProcessGroup() {
#if TORCH_VERSION_MAJOR >= 2
  // LibTorch 2 expects a group to be shut down (or, after a failure,
  // aborted, which does not wait for the other ranks) before it is freed.
  try {
    if (impl_->error.ok()) {
      impl_->backend->shutdown();
    } else {
      impl_->backend->abort();
    }
  } catch (const std::exception&) {
    // Leaving anyway; the run's own status has been reported.
  }
#endif
}

c10::Device ProcessGroup::device() const { return impl_->device; }

void ProcessGroup::StartSum(const at::Tensor& tensor) {
  std::vector<at::Tensor> tensors = {tensor};
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->error.ok()) return;
  try {
    impl_->pending.push_back(
        impl_->backend->allreduce(tensors, c10d::AllreduceOptions()));
  } catch (const std::exception& e) {
    impl_->error = impl_->Failure("all-reduce", e);
  }
}

absl::Status ProcessGroup::WaitAll() {
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    pending.swap(impl_->pending);
  }
  absl::Status error;
  for (const auto& work : pending) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      if (error.ok()) error = impl_->Failure("all-reduce", e);
    }
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->error.ok()) impl_->error = error;
  return impl_->error;
}

absl::Status ProcessGroup::Sum(at::Tensor& tensor) {
  at::Tensor here = tensor.to(impl_->device).contiguous();
  StartSum(here);
  const absl::Status status = WaitAll();
  if (!here.is_same(tensor)) tensor.copy_(here);
  return status;
}

absl::Status ProcessGroup::Broadcast(at::Tensor& tensor) {
  at::Tensor here = tensor.to(impl_->device).contiguous();
  std::vector<at::Tensor> tensors = {here};
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->error.ok()) return impl_->error;
  }
  try {
    impl_->backend->broadcast(tensors, c10d::BroadcastOptions())->wait();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->error = impl_->Failure("broadcast", e);
    return impl_->error;
  }
  if (!here.is_same(tensor)) tensor.copy_(here);
  return absl::OkStatus();
}

}  // namespace tinylm
