#include "server/engine/step_graph.h"

#include <utility>

#if defined(TINYLM_CUDA_GRAPHS)
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace tinylm {

#if defined(TINYLM_CUDA_GRAPHS)

struct CapturedStep::Graph {
  // keep_graph: the captured graph stays inspectable (node count) after
  // instantiation.
  at::cuda::CUDAGraph graph{/*keep_graph=*/true};
};

bool CudaGraphsAvailable(c10::Device device) { return device.is_cuda(); }

GraphPool::GraphPool(c10::Device device, bool capture)
    : device_(device), capturing_(capture && CudaGraphsAvailable(device)) {
  if (capturing_) {
    c10::cuda::CUDAGuard guard(device);
    const auto id = at::cuda::graph_pool_handle();
    id_[0] = id.first;
    id_[1] = id.second;
  }
}

CapturedStep::CapturedStep(Step step, GraphPool& pool)
    : step_(std::move(step)) {
  if (!pool.capturing()) {
    step_();  // warm-up, as on the graph path
    return;
  }
  c10::cuda::CUDAGuard device_guard(pool.device_);
  // Capture must run on a stream other than the default one.
  c10::cuda::CUDAStream stream =
      c10::cuda::getStreamFromPool(/*isHighPriority=*/false,
                                   pool.device_.index());
  c10::cuda::CUDAStreamGuard stream_guard(stream);
  step_();
  stream.synchronize();
  graph_ = std::make_unique<Graph>();
  // Thread-local mode: other models' threads may use the device meanwhile.
  graph_->graph.capture_begin({pool.id_[0], pool.id_[1]},
                              cudaStreamCaptureModeThreadLocal);
  output_ = step_();
  graph_->graph.capture_end();
  size_t nodes = 0;
  C10_CUDA_CHECK(
      cudaGraphGetNodes(graph_->graph.raw_cuda_graph(), nullptr, &nodes));
  kernel_count_ = static_cast<int64_t>(nodes);
  graph_->graph.instantiate();
  stream.synchronize();
}

at::Tensor CapturedStep::Run() {
  if (graph_ == nullptr) return step_();
  graph_->graph.replay();
  return output_;
}

#else  // no CUDA graphs in this build

struct CapturedStep::Graph {};

bool CudaGraphsAvailable(c10::Device) { return false; }

GraphPool::GraphPool(c10::Device device, bool) : device_(device) {}

CapturedStep::CapturedStep(Step step, GraphPool&) : step_(std::move(step)) {
  step_();  // warm-up, as on the graph path
}

at::Tensor CapturedStep::Run() { return step_(); }

#endif

CapturedStep::~CapturedStep() = default;

}  // namespace tinylm
