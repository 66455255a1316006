#include "server/rpc/attention_stream_reactor.h"

#include <algorithm>
#include <utility>

#include "server/operations/refusals.h"
#include "server/rpc/convert_inspection.h"
#include "server/rpc/service_limits.h"
#include "server/rpc/wire.h"
#include "server/rpc/write_pump.h"

namespace tinylm {

AttentionStreamReactor* AttentionStreamReactor::Start(
    std::shared_ptr<GenerationStream> stream, const Tokenizer* tokenizer,
    Options options, std::shared_ptr<CallRecord> call, WritePump* pump) {
  std::shared_ptr<AttentionStreamReactor> reactor(new AttentionStreamReactor(
      std::move(stream), tokenizer, std::move(options), std::move(call)));
  reactor->self_ = reactor;
  std::weak_ptr<AttentionStreamReactor> weak = reactor;
  // The wake-up runs on the scheduler thread: it only hands over.
  reactor->stream_->SetWakeup([weak, pump] {
    pump->Post([weak] {
      if (auto r = weak.lock()) r->OnFinal();
    });
  });
  return reactor.get();
}

AttentionStreamReactor::AttentionStreamReactor(
    std::shared_ptr<GenerationStream> stream, const Tokenizer* tokenizer,
    Options options, std::shared_ptr<CallRecord> call)
    : stream_(std::move(stream)),
      tokenizer_(tokenizer),
      options_(std::move(options)),
      call_(std::move(call)) {}

void AttentionStreamReactor::OnFinal() {
  StreamEvent event;
  // Only the final event arrives (stream_tokens is off); the slot stays
  // taken, so this runs once.
  if (!stream_->TryBeginWrite(&event)) return;
  if (event.kind == StreamEvent::Kind::kError) {
    return Finish(call_->End(event.status));
  }
  if (event.summary.reason == FinishReason::kCancelled) {
    return Finish(call_->End(ShuttingDown()));
  }
  summary_ = std::move(event.summary);
  call_->AddSummary(summary_);
  const std::vector<AttentionMatrix>& maps = summary_.analysis->maps;
  const int64_t row_bytes = maps.front().size * (options_.half ? 2 : 4);
  // Validation made sure one row fits.
  rows_per_message_ = std::max<int64_t>(
      1, (options_.max_message_bytes - kMapMessageOverhead) / row_bytes);
  int64_t messages = 0;
  for (const AttentionMatrix& m : maps) {
    messages += (m.rows + rows_per_message_ - 1) / rows_per_message_;
  }

  v1::AttentionMapsChunk chunk;
  v1::AttentionMapsHeader* header = chunk.mutable_header();
  std::vector<int64_t> tokens = options_.prompt;
  tokens.insert(tokens.end(), summary_.generated.begin(),
                summary_.generated.end());
  for (int64_t id : tokens) {
    header->add_token_ids(id);
    header->add_tokens(tokenizer_->DisplayPiece(id));
  }
  header->set_prompt_tokens(options_.prompt.size());
  header->set_messages(messages);
  FillStats(summary_.analysis->stats, header->mutable_attention_stats());
  Write(chunk, messages == 0);
}

void AttentionStreamReactor::WriteNext() {
  const std::vector<AttentionMatrix>& maps = summary_.analysis->maps;
  while (map_ < maps.size() && row_ >= maps[map_].rows) {
    ++map_;
    row_ = 0;
  }
  const AttentionMatrix& m = maps[map_];
  const int64_t rows = std::min(rows_per_message_, m.rows - row_);
  v1::AttentionMapsChunk chunk;
  FillMapRows(m, options_.half, m.row_begin + row_, rows, chunk.mutable_map());
  row_ += rows;
  bool last = row_ >= m.rows;
  for (size_t later = map_ + 1; last && later < maps.size(); ++later) {
    last = maps[later].rows == 0;
  }
  Write(chunk, last);
}

void AttentionStreamReactor::Write(const v1::AttentionMapsChunk& chunk,
                                   bool last) {
  SerializeResponse(chunk, &bytes_);
  if (last) {
    finishing_ = true;
    StartWriteAndFinish(&bytes_, grpc::WriteOptions(),
                        call_->End(absl::OkStatus()));
  } else {
    StartWrite(&bytes_);
  }
}

void AttentionStreamReactor::OnWriteDone(bool ok) {
  if (finishing_) return;
  if (!ok) {
    stream_->Cancel();
    return Finish(call_->End(
        absl::CancelledError("the client stopped reading the maps")));
  }
  WriteNext();
}

void AttentionStreamReactor::OnCancel() { stream_->Cancel(); }

void AttentionStreamReactor::OnDone() {
  stream_->Cancel();  // no-op when the stream already ended
  stream_->ClearWakeup();
  std::shared_ptr<AttentionStreamReactor> last_reference = std::move(self_);
}

}  // namespace tinylm
