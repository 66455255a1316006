#include "tools/bench/load_generator.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "proto/finish_reason.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {
namespace bench {
namespace {

// Releases all streams into the measured phase together; the last one to
// arrive fixes the common start time.
class StartBarrier {
 public:
  explicit StartBarrier(int parties) : waiting_(parties) {}

  Clock::time_point ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) {
      start_ = Clock::now();
      cv_.notify_all();
    } else {
      cv_.wait(lock, [this] { return waiting_ == 0; });
    }
    return start_;
  }

  // Valid once every party has arrived.
  Clock::time_point start() {
    std::lock_guard<std::mutex> lock(mu_);
    return start_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
  Clock::time_point start_;
};

void SetSampling(const SamplingOptions& s, int64_t ordinal,
                 v1::SamplingParams* out) {
  // Temperature is always sent: unset means 1.0 on the server, not greedy.
  out->set_temperature(static_cast<float>(s.temperature));
  out->set_top_k(s.top_k);
  if (s.top_p != 1) out->set_top_p(static_cast<float>(s.top_p));
  out->set_min_p(static_cast<float>(s.min_p));
  if (s.repetition_penalty != 1) {
    out->set_repetition_penalty(static_cast<float>(s.repetition_penalty));
  }
  if (s.seed >= 0) out->set_seed(static_cast<uint64_t>(s.seed + ordinal));
}

// Shared by the streams of one run.
struct RunState {
  const std::vector<Prompt>* prompts;
  const LoadOptions* options;
  std::atomic<int64_t> issued{0};    // requests sent, warm-up included
  std::atomic<int64_t> measured{0};  // measured requests claimed
  bool greedy = false;
  std::mutex mu;  // guards the members below
  std::map<std::string, int64_t> warmup_errors;
  Outputs* outputs;
  int64_t greedy_mismatches = 0;
};

RequestRecord OneRequest(v1::TinyLM::Stub* stub, RunState* state) {
  const LoadOptions& options = *state->options;
  const int64_t ordinal = state->issued.fetch_add(1);
  const int64_t prompt_index =
      ordinal % static_cast<int64_t>(state->prompts->size());
  v1::GenerateRequest request;
  request.set_model(options.model);
  const Prompt& prompt = (*state->prompts)[prompt_index];
  request.mutable_token_ids()->mutable_ids()->Add(prompt.begin(), prompt.end());
  request.set_max_new_tokens(options.max_new_tokens);
  request.set_max_tokens_per_message(options.max_tokens_per_message);
  SetSampling(options.sampling, ordinal, request.mutable_sampling());

  RequestRecord record;
  record.token_times.reserve(options.max_new_tokens);
  std::vector<int32_t> ids;
  ids.reserve(options.max_new_tokens);
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options.request_timeout));
  record.start = Clock::now();
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub->Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    const Clock::time_point now = Clock::now();
    if (response.has_token()) {
      ++record.token_messages;
      record.token_times.push_back(now);
      ids.push_back(response.token().id());
    } else if (response.has_tokens()) {  // tokens that waited: one arrival
      ++record.token_messages;
      for (const v1::GeneratedToken& token : response.tokens().tokens()) {
        record.token_times.push_back(now);
        ids.push_back(token.id());
      }
    } else if (response.has_summary()) {
      const v1::GenerateSummary& summary = response.summary();
      record.finish_reason = FinishReasonLabel(summary.finish_reason());
      record.server_ttft_ms = summary.timings().time_to_first_token_ms();
      record.server_queue_ms = summary.timings().queue_ms();
    }
  }
  const grpc::Status status = reader->Finish();
  record.end = Clock::now();
  record.ok = status.ok();
  if (!record.ok) {
    record.error_code = StatusCodeName(status.error_code());
  } else {
    std::lock_guard<std::mutex> lock(state->mu);
    auto [known, added] = state->outputs->emplace(prompt_index, ids);
    if (!added && state->greedy && known->second != ids) {
      ++state->greedy_mismatches;
    }
  }
  return record;
}

// One stream: warm-up, the common start, then requests until the deadline
// or until the run's request count is used up.
void Stream(const std::shared_ptr<grpc::Channel>& channel, RunState* state,
            StartBarrier* barrier, std::vector<RequestRecord>* records) {
  const LoadOptions& options = *state->options;
  std::unique_ptr<v1::TinyLM::Stub> stub = v1::TinyLM::NewStub(channel);
  for (int i = 0; i < options.warmup_requests; ++i) {
    const RequestRecord record = OneRequest(stub.get(), state);
    if (!record.ok) {
      std::lock_guard<std::mutex> lock(state->mu);
      ++state->warmup_errors[record.error_code];
    }
  }
  const Clock::time_point start = barrier->ArriveAndWait();
  const Clock::time_point deadline =
      start + absl::ToChronoNanoseconds(options.duration);
  while (true) {
    if (options.requests > 0) {
      if (state->measured.fetch_add(1) >= options.requests) break;
    } else if (Clock::now() >= deadline) {
      break;
    }
    records->push_back(OneRequest(stub.get(), state));
  }
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  if (index < 0 || index >= static_cast<int>(std::size(kNames))) {
    return "CODE_" + std::to_string(index);
  }
  return kNames[index];
}

LoadResult RunLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const std::vector<Prompt>& prompts,
                   const LoadOptions& options, Outputs* outputs) {
  RunState state;
  state.prompts = &prompts;
  state.options = &options;
  state.greedy = options.sampling.temperature == 0;
  state.outputs = outputs;
  StartBarrier barrier(options.concurrency);
  std::vector<std::vector<RequestRecord>> per_stream(options.concurrency);
  std::vector<std::thread> threads;
  threads.reserve(options.concurrency);
  for (int s = 0; s < options.concurrency; ++s) {
    threads.emplace_back(Stream, channels[s % channels.size()], &state,
                         &barrier, &per_stream[s]);
  }
  for (std::thread& t : threads) t.join();

  LoadResult result;
  for (std::vector<RequestRecord>& records : per_stream) {
    for (RequestRecord& r : records) result.records.push_back(std::move(r));
  }
  // The window ends when the last measured request does (at the deadline
  // at the earliest), so every measured token counts. Cutting at the
  // deadline instead would count nothing of requests longer than the run:
  // equal-length requests in a closed loop move in waves (all prefill,
  // then all decode), and a short window may hold only a prefill.
  result.window.start = barrier.start();
  result.window.end = result.window.start;
  if (options.requests == 0) {
    result.window.end += absl::ToChronoNanoseconds(options.duration);
  }
  for (const RequestRecord& r : result.records) {
    result.window.end = std::max(result.window.end, r.end);
  }
  result.warmup_errors = std::move(state.warmup_errors);
  result.greedy_mismatches = state.greedy_mismatches;
  return result;
}

}  // namespace bench
}  // namespace tinylm
