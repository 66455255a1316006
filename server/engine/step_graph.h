// CapturedStep: a model step with fixed shapes that reads and writes only
// tensors allocated before it runs, replayed as a CUDA graph.
//
// Eager decoding of a small model is bound by kernel launches: each of the
// few hundred kernels of a step costs more to launch than to run. A CUDA
// graph records the step's kernels once and launches them all with one
// call; the step then reads whatever its input buffers hold at replay time.
//
// Graphs need LibTorch 2.x built with CUDA and a CUDA device. Elsewhere (and
// when capture is off) Run() calls the step eagerly, so the same code is
// exercised on CPU by the tests.
#ifndef TINYLM_SERVER_ENGINE_STEP_GRAPH_H_
#define TINYLM_SERVER_ENGINE_STEP_GRAPH_H_

#include <cstdint>
#include <functional>
#include <memory>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace tinylm {

// True when this build can capture CUDA graphs on `device`.
bool CudaGraphsAvailable(c10::Device device);

// Device memory shared by the graphs of one model. Their replays must not
// overlap (one scheduler thread runs them in turn), and the output of one
// is only valid until the next replay of any graph of the pool.
class GraphPool {
 public:
  // `capture` false (or no CUDA graphs here): steps run eagerly.
  GraphPool(c10::Device device, bool capture);
  GraphPool(const GraphPool&) = delete;
  GraphPool& operator=(const GraphPool&) = delete;

  bool capturing() const { return capturing_; }

 private:
  friend class CapturedStep;
  c10::Device device_;
  bool capturing_ = false;
  unsigned long long id_[2] = {0, 0};  // the allocator's memory pool id
};

class CapturedStep {
 public:
  using Step = std::function<at::Tensor()>;

  // Runs `step` once to warm up (lazy initialisation such as a BLAS
  // handle's must not happen inside a capture), then captures it into a
  // graph when the pool captures. May throw c10::Error.
  CapturedStep(Step step, GraphPool& pool);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // The step's output for the current contents of its input buffers.
  at::Tensor Run();

  // Kernels (graph nodes) of the captured step; 0 when it runs eagerly.
  int64_t kernel_count() const { return kernel_count_; }

 private:
  struct Graph;
  Step step_;
  std::unique_ptr<Graph> graph_;
  at::Tensor output_;
  int64_t kernel_count_ = 0;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_STEP_GRAPH_H_
