#include "server/rpc/reactors.h"

#include <utility>

#include "server/operations/refusals.h"
#include "server/rpc/convert.h"
#include "server/rpc/wire.h"
#include "server/rpc/write_pump.h"

namespace tinylm {
namespace {

class FailedWriteReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit FailedWriteReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* FailedWriter(
    const grpc::Status& status) {
  return new FailedWriteReactor(status);
}

// ---------------------------------------------------------- GenerateReactor

GenerateReactor* GenerateReactor::Start(
    std::shared_ptr<GenerationStream> stream, const Tokenizer* tokenizer,
    std::shared_ptr<CallRecord> call, WritePump* pump,
    int64_t tokens_per_message) {
  std::shared_ptr<GenerateReactor> reactor(new GenerateReactor(
      std::move(stream), tokenizer, std::move(call), tokens_per_message));
  reactor->self_ = reactor;
  std::weak_ptr<GenerateReactor> weak = reactor;
  // The wake-up runs on the scheduler thread: it only hands over.
  reactor->stream_->SetWakeup([weak, pump] {
    pump->Post([weak] {
      if (auto r = weak.lock()) r->Pump();
    });
  });
  return reactor.get();
}

GenerateReactor::GenerateReactor(std::shared_ptr<GenerationStream> stream,
                                 const Tokenizer* tokenizer,
                                 std::shared_ptr<CallRecord> call,
                                 int64_t tokens_per_message)
    : stream_(std::move(stream)),
      tokenizer_(tokenizer),
      call_(std::move(call)),
      tokens_per_message_(tokens_per_message) {}

void GenerateReactor::Pump() {
  StreamEvent event;
  if (!stream_->TryBeginWrite(&event)) return;
  response_.Clear();
  switch (event.kind) {
    case StreamEvent::Kind::kToken:
      more_.clear();
      stream_->TakeMoreTokens(tokens_per_message_ - 1, &more_);
      call_->CountStreamedToken();
      if (more_.empty()) {
        FillToken(event.token, *tokenizer_, response_.mutable_token());
      } else {
        v1::GeneratedTokens* tokens = response_.mutable_tokens();
        FillToken(event.token, *tokenizer_, tokens->add_tokens());
        for (const TokenEvent& token : more_) {
          call_->CountStreamedToken();
          FillToken(token, *tokenizer_, tokens->add_tokens());
        }
      }
      SerializeResponse(response_, &bytes_);
      StartWrite(&bytes_);
      return;
    case StreamEvent::Kind::kDone:
      FillSummary(event.summary, *tokenizer_, response_.mutable_summary());
      SerializeResponse(response_, &bytes_);
      call_->AddSummary(event.summary);
      StartWriteAndFinish(&bytes_, grpc::WriteOptions(),
                          call_->End(absl::OkStatus()));
      return;
    case StreamEvent::Kind::kError:
      // The write slot stays taken: nothing follows the last event.
      Finish(call_->End(event.status));
      return;
  }
}

void GenerateReactor::OnWriteDone(bool ok) {
  if (!ok) stream_->Cancel();  // the client is gone
  stream_->EndWrite();
  Pump();
}

void GenerateReactor::OnCancel() { stream_->Cancel(); }

void GenerateReactor::OnDone() {
  stream_->Cancel();  // no-op when the stream already ended
  stream_->ClearWakeup();
  std::shared_ptr<GenerateReactor> last_reference = std::move(self_);
}

// ----------------------------------------------------------- CollectReactor

CollectReactor* CollectReactor::Start(
    std::vector<std::shared_ptr<GenerationStream>> streams, Respond respond,
    std::shared_ptr<CallRecord> call, WritePump* pump) {
  std::shared_ptr<CollectReactor> reactor(new CollectReactor(
      std::move(streams), std::move(respond), std::move(call)));
  reactor->self_ = reactor;
  std::weak_ptr<CollectReactor> weak = reactor;
  for (size_t i = 0; i < reactor->streams_.size(); ++i) {
    reactor->streams_[i]->SetWakeup([weak, i, pump] {
      if (auto r = weak.lock()) r->OnEvent(i, pump);
    });
  }
  return reactor.get();
}

CollectReactor::CollectReactor(
    std::vector<std::shared_ptr<GenerationStream>> streams, Respond respond,
    std::shared_ptr<CallRecord> call)
    : streams_(std::move(streams)),
      respond_(std::move(respond)),
      call_(std::move(call)),
      summaries_(streams_.size()),
      errors_(streams_.size()),
      remaining_(streams_.size()) {}

void CollectReactor::OnEvent(size_t index, WritePump* pump) {
  StreamEvent event;
  // Only final events arrive (stream_tokens is off); the slot stays taken.
  if (!streams_[index]->TryBeginWrite(&event)) return;
  if (event.kind == StreamEvent::Kind::kError) {
    errors_[index] = event.status;
  } else if (event.summary.reason == FinishReason::kCancelled) {
    errors_[index] = ShuttingDown();
  } else {
    summaries_[index] = std::move(event.summary);
  }
  if (remaining_.fetch_sub(1) != 1) return;
  std::weak_ptr<CollectReactor> weak = self_;
  pump->Post([weak] {
    if (auto r = weak.lock()) r->Complete();
  });
}

void CollectReactor::Complete() {
  for (const absl::Status& error : errors_) {
    if (!error.ok()) return Finish(call_->End(error));
  }
  for (const Summary& summary : summaries_) call_->AddSummary(summary);
  Finish(call_->End(respond_(summaries_)));
}

void CollectReactor::OnCancel() {
  for (auto& stream : streams_) stream->Cancel();
}

void CollectReactor::OnDone() {
  for (auto& stream : streams_) {
    stream->Cancel();
    stream->ClearWakeup();
  }
  std::shared_ptr<CollectReactor> last_reference = std::move(self_);
}

}  // namespace tinylm
