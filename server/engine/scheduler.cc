#include "server/engine/scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <optional>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "server/engine/analysis.h"
#include "server/engine/intervened_decoder.h"
#include "server/engine/step_graph.h"

namespace tinylm {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

StreamEvent ErrorEvent(absl::Status status) {
  StreamEvent event;
  event.kind = StreamEvent::Kind::kError;
  event.status = std::move(status);
  return event;
}

// Runs `fn`; a torch error becomes INTERNAL naming `what`.
template <typename Fn>
absl::Status Guarded(const char* what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(what, " failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, " failed: ", e.what()));
  }
}

}  // namespace

struct Scheduler::Sequence {
  std::shared_ptr<Job> job;
  int64_t slot = -1;
  std::vector<int64_t> tokens;  // prompt, then generated ids
  int64_t prompt_tokens = 0;
  TextAssembler text;
  absl::Time admitted;
  absl::Time first_token;
  absl::Time last_token;  // for the inter-token latency metric
  bool done = false;
  // Pipelined decoding: rows in launched steps not yet finished (0 or 1),
  // and the row of the newest.
  int rows_in_flight = 0;
  int64_t launched_row = -1;
  // Generation with interventions: steps beside the batch.
  std::unique_ptr<IntervenedDecoder> intervened;

  const GenerationRequest& request() const { return job->request; }
  // Whether its tokens may come from pipelined steps (StepRunner::Launch).
  bool pipelinable(const StepRunner& runner) const {
    return !intervened && runner.CanLaunch(request().sampling, request().top_n);
  }
  int64_t generated() const { return tokens.size() - prompt_tokens; }

  // How its next token is drawn.
  SampleRow NextSampleRow() const {
    SampleRow row;
    row.params = request().sampling;
    row.position = tokens.size();  // where the drawn token will sit
    row.history = &tokens;
    return row;
  }
};

Scheduler::Scheduler(Transformer model, const Tokenizer* tokenizer,
                     const SchedulerOptions& options)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      options_(options),
      queue_(options.max_queued),
      clock_(options_.metrics.get()) {
  for (int64_t slot = options.max_batch - 1; slot >= 0; --slot) {
    free_slots_.push_back(slot);
  }
}

Scheduler::~Scheduler() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    Transformer model, const Tokenizer* tokenizer,
    const SchedulerOptions& options) {
  std::unique_ptr<Scheduler> scheduler(
      new Scheduler(std::move(model), tokenizer, options));
  const absl::Status status = scheduler->PrepareSteps();
  if (!status.ok()) return status;
  return scheduler;
}

absl::Status Scheduler::PrepareSteps() {
  return Guarded("preparing the model steps", [&] {
    at::NoGradGuard no_grad;
    const bool graphs =
        options_.cuda_graphs &&
        CudaGraphsAvailable(model_->parameters().front().device());
    const bool static_shapes =
        options_.step_shapes == StepShapes::kStatic ||
        (options_.step_shapes == StepShapes::kAuto && graphs);
    runner_ = static_shapes
                  ? MakeStaticStepRunner(model_, options_.max_batch, graphs,
                                         options_.fused_decode)
                  : MakeDynamicStepRunner(model_, options_.max_batch);
    // One request's worth of work through every stage before serving.
    const std::vector<int64_t> tokens = {0, 0};
    const std::vector<int64_t> prompt = {0};
    runner_->Prefill({{&prompt, 0}});
    // Both ways of choosing: sampled with alternatives, and greedy without
    // (the device sampler's two paths, for a fused step).
    SampleRow greedy;
    greedy.params = GreedySampling();
    runner_->DecodeAndSample({{&tokens, 0}}, {SampleRow()}, {1});
    runner_->DecodeAndSample({{&tokens, 0}}, {greedy}, {0});
    pipelined_ = options_.decode_pipeline == DecodePipeline::kOn ||
                 (options_.decode_pipeline == DecodePipeline::kAuto &&
                  runner_->launches_ahead());
    admit_every_steps_ = options_.admit_every_steps > 0
                             ? options_.admit_every_steps
                             : (pipelined_ ? 8 : 1);
    if (pipelined_) {  // a launched step, and one fed from it
      runner_->Launch({{0, 1, 0, -1}});
      runner_->Launch({{0, 2, 0, 0}});
      runner_->Finish();
      runner_->Finish();
    }
  });
}

void Scheduler::Start() { thread_ = std::thread([this] { Loop(); }); }

absl::Status Scheduler::Submit(std::shared_ptr<Job> job) {
  return queue_.Push(std::move(job));
}

void Scheduler::Shutdown() {
  if (stopping_.exchange(true)) return;
  queue_.Close();
  if (thread_.joinable()) {
    thread_.join();  // the loop drains on its way out
  } else {
    DrainForShutdown();  // never started
  }
}

void Scheduler::Loop() {
  pthread_setname_np(pthread_self(), "tinylm-sched");  // for top -H, perf
  at::NoGradGuard no_grad;  // thread-local
  while (!stopping_.load()) {
    const bool idle = active_.empty();
    if (idle || ++steps_since_admission_ >= admit_every_steps_) {
      Admit(queue_.Take(free_slots_.size(), /*wait=*/idle));
      steps_since_admission_ = 0;
    }
    DropStopped();
    if (!active_.empty()) DecodeStep();
    Retire();
    if (options_.metrics) options_.metrics->OnSlotsInUse(active_.size());
  }
  DrainForShutdown();
}

void Scheduler::Admit(std::vector<std::shared_ptr<Job>> jobs) {
  std::vector<Sequence*> fresh;
  for (std::shared_ptr<Job>& job : jobs) {
    auto seq = std::make_unique<Sequence>();
    seq->job = std::move(job);
    seq->tokens = seq->request().prompt;
    seq->prompt_tokens = seq->tokens.size();
    seq->text = TextAssembler(seq->request().stop);
    seq->admitted = absl::Now();
    if (seq->request().max_new_tokens == 0) {  // analysis of the prompt only
      Complete(*seq, FinishReason::kLength, "");
      continue;
    }
    if (!seq->request().interventions.empty()) {
      const absl::Status status = Guarded("preparing the interventions", [&] {
        seq->intervened = std::make_unique<IntervenedDecoder>(
            model_, seq->request().interventions);
      });
      if (!status.ok()) {
        Fail(*seq, status);
        continue;
      }
    }
    seq->slot = free_slots_.back();
    free_slots_.pop_back();
    fresh.push_back(seq.get());
    active_.push_back(std::move(seq));
  }
  DropStopped();  // cancelled or expired while queued: no prefill
  std::vector<Sequence*> live;
  for (Sequence* seq : fresh) {
    if (!seq->done) live.push_back(seq);
  }
  if (!live.empty()) RunStep(live, /*prefill=*/true);
  Retire();
}

void Scheduler::DropStopped() {
  const absl::Time now = absl::Now();
  for (auto& seq : active_) {
    if (seq->done) continue;
    if (seq->job->stream->cancelled()) {
      Fail(*seq, absl::CancelledError("the client cancelled the request"));
    } else if (now > seq->request().deadline) {
      Fail(*seq, absl::DeadlineExceededError(absl::StrCat(
                     "deadline exceeded after ", seq->generated(),
                     " generated tokens")));
    }
  }
}

void Scheduler::DecodeStep() {
  auto live = [&] {
    std::vector<Sequence*> seqs;
    for (auto& seq : active_) {
      if (!seq->done) seqs.push_back(seq.get());
    }
    return seqs;
  };
  std::vector<Sequence*> seqs = live();
  if (pipelined_ && std::all_of(seqs.begin(), seqs.end(), [&](Sequence* s) {
        return s->pipelinable(*runner_);
      })) {
    return LaunchStep(seqs);
  }
  FinishLaunched();
  seqs = live();
  if (!seqs.empty()) RunStep(seqs, /*prefill=*/false);
}

void Scheduler::LaunchStep(const std::vector<Sequence*>& seqs) {
  // Until the launch is done: the previous step's tokens below are kTokens.
  std::optional<ActivityTimer> launching(std::in_place, clock_,
                                         SchedulerActivity::kLaunch);
  std::vector<LaunchRow> rows;
  std::vector<Sequence*> members;
  for (Sequence* seq : seqs) {
    // A token chosen in the launched step, not handled yet, is fed on the
    // device; a sequence whose last token it is needs no further step.
    const int64_t pending = seq->rows_in_flight;
    if (seq->generated() + pending >= seq->request().max_new_tokens) continue;
    LaunchRow row;
    row.slot = seq->slot;
    row.position = int64_t(seq->tokens.size()) - 1 + pending;
    if (pending > 0) {
      row.feed = seq->launched_row;
    } else {
      row.token = seq->tokens.back();
    }
    row.sampling = seq->request().sampling;
    row.top_n = seq->request().top_n;
    row.history = &seq->tokens;
    rows.push_back(row);
    members.push_back(seq);
  }
  if (!rows.empty()) {
    const absl::Status status =
        Guarded("model step", [&] { runner_->Launch(rows); });
    if (!status.ok()) {
      for (Sequence* seq : members) Fail(*seq, status);
      return;
    }
    if (options_.metrics) options_.metrics->OnStep(rows.size(), false);
    for (size_t i = 0; i < members.size(); ++i) {
      ++members[i]->rows_in_flight;
      members[i]->launched_row = i;
    }
    launched_.push_back(std::move(members));
  }
  launching.reset();
  // The previous step's tokens, handled while this one runs.
  if (launched_.size() > 1 || (rows.empty() && !launched_.empty())) {
    FinishOldest();
  }
}

void Scheduler::FinishOldest() {
  const std::vector<Sequence*> members = std::move(launched_.front());
  launched_.pop_front();
  std::vector<SampledToken> tokens;
  absl::Status status;
  {
    ActivityTimer waiting(clock_, SchedulerActivity::kWait);
    status = Guarded("model step", [&] { tokens = runner_->Finish(); });
  }
  ActivityTimer handling(clock_, SchedulerActivity::kTokens);
  for (size_t i = 0; i < members.size(); ++i) {
    Sequence& seq = *members[i];
    --seq.rows_in_flight;
    if (seq.done) continue;  // ended earlier: the row was spare
    if (status.ok()) {
      Accept(seq, tokens[i]);
    } else {
      Fail(seq, status);
    }
  }
}

void Scheduler::FinishLaunched() {
  while (!launched_.empty()) FinishOldest();
}

void Scheduler::RunStep(const std::vector<Sequence*>& all, bool prefill) {
  std::vector<Sequence*> seqs;  // the batch: those without interventions
  for (Sequence* seq : all) {
    if (seq->intervened) {
      RunIntervened(*seq);
    } else {
      seqs.push_back(seq);
    }
  }
  if (seqs.empty()) return;
  std::vector<StepRow> rows;
  std::vector<SampleRow> sample_rows;
  std::vector<int64_t> top_n;
  for (Sequence* seq : seqs) {
    rows.push_back({&seq->tokens, seq->slot});
    sample_rows.push_back(seq->NextSampleRow());
    top_n.push_back(seq->request().top_n);
  }
  std::vector<SampledToken> sampled;
  absl::Status status;
  {
    ActivityTimer stepping(clock_, SchedulerActivity::kStep);
    status = Guarded("model step", [&] {
      sampled = prefill ? runner_->PrefillAndSample(rows, sample_rows, top_n)
                        : runner_->DecodeAndSample(rows, sample_rows, top_n);
    });
  }
  if (status.ok() && options_.metrics) {
    options_.metrics->OnStep(seqs.size(), prefill);
  }
  ActivityTimer handling(clock_, SchedulerActivity::kTokens);
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (status.ok()) {
      Accept(*seqs[i], sampled[i]);
    } else {
      Fail(*seqs[i], status);
    }
  }
}

void Scheduler::RunIntervened(Sequence& seq) {
  SampledToken token;
  InterventionEffect effect;
  absl::Status status;
  {
    ActivityTimer stepping(clock_, SchedulerActivity::kStep);
    status = Guarded("intervened step", [&] {
      const IntervenedDecoder::Step step = seq.intervened->Next(seq.tokens);
      token = SampleTokens(step.logits, {seq.NextSampleRow()},
                           seq.request().top_n)[0];
      effect = step.effect;
    });
  }
  ActivityTimer handling(clock_, SchedulerActivity::kTokens);
  if (!status.ok()) return Fail(seq, status);
  Accept(seq, token, &effect);
}

void Scheduler::Accept(Sequence& seq, const SampledToken& token,
                       const InterventionEffect* effect) {
  const GenerationRequest& request = seq.request();
  if (seq.generated() == 0) seq.first_token = absl::Now();
  if (options_.metrics) {
    const absl::Time now = absl::Now();
    const bool first = seq.generated() == 0;
    options_.metrics->OnToken(first,
                              now - (first ? request.arrival : seq.last_token));
    seq.last_token = now;
  }
  seq.tokens.push_back(token.id);
  const bool eos = token.id == tokenizer_->eos_id();
  const bool length = seq.generated() >= request.max_new_tokens;

  TokenEvent event;
  event.id = token.id;
  event.index = seq.generated() - 1;
  event.raw = eos ? "" : tokenizer_->TokenBytes(token.id);
  const TextAssembler::Result text = seq.text.Append(event.raw);
  event.text = text.released;
  if (!text.stopped && (eos || length)) event.text += seq.text.Flush();
  event.logprob = token.logprob;
  event.alternatives = token.alternatives;  // request.top_n of them
  if (effect != nullptr) event.effect = *effect;
  if (request.stream_tokens) {
    StreamEvent out;
    out.token = std::move(event);
    seq.job->stream->Push(std::move(out));
  }
  if (text.stopped) {
    Complete(seq, FinishReason::kStop, text.stop);
  } else if (eos) {
    Complete(seq, FinishReason::kEos, "");
  } else if (length) {
    Complete(seq, FinishReason::kLength, "");
  }
}

void Scheduler::Complete(Sequence& seq, FinishReason reason,
                         const std::string& stop) {
  const GenerationRequest& request = seq.request();
  const absl::Time now = absl::Now();
  StreamEvent event;
  event.kind = StreamEvent::Kind::kDone;
  Summary& summary = event.summary;
  summary.reason = reason;
  summary.prompt_tokens = seq.prompt_tokens;
  summary.generated.assign(seq.tokens.begin() + seq.prompt_tokens,
                           seq.tokens.end());
  summary.text = seq.text.text();
  summary.stop = stop;
  summary.seed = request.sampling.seed;
  summary.queue_ms = Ms(seq.admitted - request.arrival);
  summary.time_to_first_token_ms =
      seq.generated() > 0 ? Ms(seq.first_token - request.arrival) : 0.0;
  summary.total_ms = Ms(now - request.arrival);
  if (seq.intervened) summary.effect = seq.intervened->total();
  if (request.analysis && reason != FinishReason::kCancelled) {
    const absl::Status status = Guarded("analysis", [&] {
      summary.analysis = Analyze(model_, seq.tokens, seq.prompt_tokens,
                                 *request.analysis, request.interventions);
    });
    if (!status.ok()) return Fail(seq, status);
  }
  seq.done = true;
  seq.job->stream->Push(std::move(event));
}

void Scheduler::Fail(Sequence& seq, absl::Status status) {
  seq.done = true;
  seq.job->stream->Push(ErrorEvent(std::move(status)));
}

void Scheduler::Retire() {
  // A sequence with a row in a launched step stays until it is finished.
  auto retired = [](const std::unique_ptr<Sequence>& s) {
    return s->done && s->rows_in_flight == 0;
  };
  for (auto& seq : active_) {
    if (retired(seq) && seq->slot >= 0) free_slots_.push_back(seq->slot);
  }
  active_.erase(std::remove_if(active_.begin(), active_.end(), retired),
                active_.end());
}

void Scheduler::DrainForShutdown() {
  FinishLaunched();
  for (auto& job : queue_.Take(queue_.size(), /*wait=*/false)) {
    job->stream->Push(ErrorEvent(
        absl::UnavailableError("the server is shutting down")));
  }
  for (auto& seq : active_) {
    if (!seq->done) Complete(*seq, FinishReason::kCancelled, "");
  }
  Retire();
}

}  // namespace tinylm
