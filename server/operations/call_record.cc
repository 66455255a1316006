#include "server/operations/call_record.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/operations/auth.h"
#include "server/operations/refusals.h"
#include "server/rpc/grpc_status.h"

namespace tinylm {
namespace {

constexpr size_t kMaxRequestIdLength = 128;
constexpr size_t kMaxModelLength = 256;

// 128 random bits as 32 hex digits.
std::string NewRequestId() {
  thread_local absl::BitGen bits;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(bits),
                         absl::Uniform<uint64_t>(bits));
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

bool UsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' ||
           c == '-';
  });
}

CallRecord::CallRecord(grpc::CallbackServerContext* context, std::string rpc,
                       const CallObservers& observers)
    : context_(context),
      rpc_(std::move(rpc)),
      observers_(observers),
      start_(absl::Now()),
      peer_(context->peer()) {
  const std::optional<absl::string_view> sent =
      ClientMetadata(*context, kRequestIdKey);
  request_id_ =
      sent && UsableRequestId(*sent) ? std::string(*sent) : NewRequestId();
  context_->AddInitialMetadata(kRequestIdKey, request_id_);
}

CallRecord::~CallRecord() {
  bool ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended = ended_;
  }
  if (!ended) {
    Record(ToGrpcStatus(EndedWithoutStatus()));
  }
}

void CallRecord::SetModel(absl::string_view model) {
  std::lock_guard<std::mutex> lock(mu_);
  // The name a client asked for may be anything; the log needs only enough
  // of it to recognise it.
  model_ = std::string(model.substr(0, kMaxModelLength));
}

void CallRecord::AddPromptTokens(int64_t tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += tokens;
}

void CallRecord::Hold(Admission::Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  tickets_.push_back(std::move(ticket));
}

void CallRecord::CountStreamedToken() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!first_streamed_) first_streamed_ = absl::Now();
  ++streamed_tokens_;
}

void CallRecord::AddSummary(const Summary& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  summarized_ = true;
  generated_tokens_ += summary.generated_tokens();
  if (!summary.generated.empty()) {
    // A Compare reports its slowest model.
    ttft_ms_ = std::max(ttft_ms_.value_or(0.0), summary.time_to_first_token_ms);
  }
}

grpc::Status CallRecord::End(const absl::Status& status) {
  const grpc::Status out = ToGrpcStatus(status);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return out;
    ended_ = true;
  }
  context_->AddTrailingMetadata(kRequestIdKey, request_id_);
  if (const std::optional<absl::Duration> retry = RetryAfter(status)) {
    const std::string ms = absl::StrCat(absl::ToInt64Milliseconds(*retry));
    context_->AddTrailingMetadata(kRetryAfterKey, ms);
    // The same hint in the key gRPC's own retry policies obey.
    context_->AddTrailingMetadata(kRetryPushbackKey, ms);
  }
  Record(out);
  return out;
}

void CallRecord::Record(const grpc::Status& status) {
  const absl::Time now = absl::Now();
  const std::string code = absl::StatusCodeToString(
      static_cast<absl::StatusCode>(status.error_code()));
  RequestLogEntry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    entry.model = model_;
    entry.prompt_tokens = prompt_tokens_;
    // A stream that ended early has no summary: its sent tokens count.
    entry.generated_tokens = summarized_ ? generated_tokens_ : streamed_tokens_;
    entry.ttft_ms = ttft_ms_;
    if (!entry.ttft_ms && first_streamed_) {
      entry.ttft_ms = Ms(*first_streamed_ - start_);
    }
  }
  if (observers_.metrics != nullptr) {
    observers_.metrics->CountRequest(rpc_, code, now - start_);
  }
  if (observers_.log == nullptr || !observers_.log->enabled()) return;
  entry.time = now;
  entry.request_id = request_id_;
  entry.rpc = rpc_;
  entry.code = code;
  entry.error = status.error_message();
  entry.peer = peer_;
  entry.total_ms = Ms(now - start_);
  observers_.log->Write(entry);
}

}  // namespace tinylm
