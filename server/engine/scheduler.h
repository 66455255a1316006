// Scheduler: one thread per model that owns the model's device work.
//
// Continuous batching: an iteration admits queued requests into free KV
// cache slots (one batched prefill for all newcomers; while others decode,
// only every SchedulerOptions::admit_every_steps steps), then advances every
// active sequence by one token with one batched decode step and one batched
// sampling call. Sequences join and leave at token boundaries; a finished,
// cancelled or expired sequence frees its slot at once. Cancel flags and
// deadlines are checked every iteration.
//
// Results are identical to decoding each request alone: rows never see each
// other (own slot, own positions), and sampling is seeded per (request,
// position).
//
// Pipelined decoding (scheduler_options.h): where no active request has
// interventions and the runner's Launch draws every request's tokens
// (StepRunner::CanLaunch), step n + 1 is launched before
// step n's tokens are handled, its tokens fed on the
// device; the host streams step n's tokens while the device runs step
// n + 1. A sequence that ends at step n wastes its row of step n + 1, and
// keeps its slot until that step is finished.
//
// Thread-safety: Submit() and Shutdown() may be called from any thread;
// everything else runs on the scheduler thread.
#ifndef TINYLM_SERVER_ENGINE_SCHEDULER_H_
#define TINYLM_SERVER_ENGINE_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/model.h"
#include "models/sampler.h"
#include "models/tokenizer.h"
#include "server/engine/activity_clock.h"
#include "server/engine/engine.h"
#include "server/engine/request_queue.h"
#include "server/engine/scheduler_options.h"
#include "server/engine/step_runner.h"
#include "server/engine/text_assembler.h"

namespace tinylm {

class Scheduler final : public Engine {
 public:
  // `tokenizer` must outlive the scheduler. Prepares the model steps (which
  // allocate the KV cache on the model's device and capture CUDA graphs
  // where they are used) and runs one prefill and one decode step through
  // them.
  // The thread starts with Start().
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      Transformer model, const Tokenizer* tokenizer,
      const SchedulerOptions& options);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Engine: Shutdown() also joins the thread.
  void Start() override;
  absl::Status Submit(std::shared_ptr<Job> job) override;
  void Shutdown() override;
  int64_t max_batch() const override { return options_.max_batch; }
  int64_t queued() const override { return queue_.size(); }
  std::string step_description() const override { return runner_->Describe(); }
  std::string time_report() const override { return clock_.Report(); }

 private:
  struct Sequence;

  Scheduler(Transformer model, const Tokenizer* tokenizer,
            const SchedulerOptions& options);
  absl::Status PrepareSteps();

  void Loop();
  void Admit(std::vector<std::shared_ptr<Job>> jobs);
  void DropStopped();
  void DecodeStep();
  void RunStep(const std::vector<Sequence*>& seqs, bool prefill);
  // Pipelined decoding (SchedulerOptions::decode_pipeline): launches the
  // next step of `seqs`, then handles the tokens of the step before it.
  void LaunchStep(const std::vector<Sequence*>& seqs);
  void FinishOldest();
  void FinishLaunched();  // every launched step
  // One step of a sequence with interventions (intervened_decoder.h).
  void RunIntervened(Sequence& seq);
  void Accept(Sequence& seq, const SampledToken& token,
              const InterventionEffect* effect = nullptr);
  void Complete(Sequence& seq, FinishReason reason, const std::string& stop);
  void Fail(Sequence& seq, absl::Status status);
  void Retire();
  void DrainForShutdown();

  Transformer model_;
  const Tokenizer* tokenizer_;
  const SchedulerOptions options_;
  std::unique_ptr<StepRunner> runner_;
  RequestQueue queue_;
  std::vector<std::unique_ptr<Sequence>> active_;  // scheduler thread only
  std::vector<int64_t> free_slots_;                // scheduler thread only
  // Pipelined decoding: whether it is on, and the launched steps not yet
  // finished (at most two), each its rows' sequences in row order.
  bool pipelined_ = false;
  std::deque<std::vector<Sequence*>> launched_;  // scheduler thread only
  // SchedulerOptions::admit_every_steps, resolved; decode steps since the
  // last admission.
  int64_t admit_every_steps_ = 1;
  int64_t steps_since_admission_ = 0;  // scheduler thread only
  ActivityClock clock_;  // the scheduler thread's time by activity
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_SCHEDULER_H_
