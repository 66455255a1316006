// AttentionStreamReactor: StreamAttentionMaps' writer. It waits for the
// engine's final event of one stream (the maps, computed in one analysis
// forward), then writes a header (tokens, statistics, message count) and
// one message per layer and head, splitting a map into row blocks where it
// would pass `max_message_bytes`. One write in flight; each message is
// made when the previous one is written, so only the engine's result is
// held in memory, never its serialized copy. Owns itself until OnDone;
// ends the call through its record; client cancellation sets the stream's
// cancel flag.
#ifndef TINYLM_SERVER_RPC_ATTENTION_STREAM_REACTOR_H_
#define TINYLM_SERVER_RPC_ATTENTION_STREAM_REACTOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "models/tokenizer.h"
#include "server/engine/stream.h"
#include "server/operations/call_record.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

class WritePump;

class AttentionStreamReactor
    : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  struct Options {
    std::vector<int64_t> prompt;  // the prompt's ids
    bool half = false;            // float16 maps
    int64_t max_message_bytes = 0;
  };

  // `stream` is already submitted; `tokenizer` outlives the call. The
  // first message is made on `pump`'s threads, later ones on gRPC's.
  static AttentionStreamReactor* Start(std::shared_ptr<GenerationStream> stream,
                                       const Tokenizer* tokenizer,
                                       Options options,
                                       std::shared_ptr<CallRecord> call,
                                       WritePump* pump);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  AttentionStreamReactor(std::shared_ptr<GenerationStream> stream,
                         const Tokenizer* tokenizer, Options options,
                         std::shared_ptr<CallRecord> call);
  // The final event arrived: the header goes out, or the call ends.
  void OnFinal();
  // Writes the next row block, or the last one with the call's end.
  void WriteNext();
  void Write(const v1::AttentionMapsChunk& chunk, bool last);

  std::shared_ptr<AttentionStreamReactor> self_;
  std::shared_ptr<GenerationStream> stream_;
  const Tokenizer* tokenizer_;
  const Options options_;
  std::shared_ptr<CallRecord> call_;
  Summary summary_;         // the maps; written once by OnFinal
  int64_t rows_per_message_ = 1;
  size_t map_ = 0;          // the next block: map index and first row
  int64_t row_ = 0;
  bool finishing_ = false;  // the last write is out: nothing follows
  grpc::ByteBuffer bytes_;  // the write in flight
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_ATTENTION_STREAM_REACTOR_H_
