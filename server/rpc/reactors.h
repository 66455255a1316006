// gRPC callback reactors that carry engine streams to clients.
//
// GenerateReactor: streams one GenerationStream, one write in flight; the
// stream's wake-up hook and OnWriteDone both pump the next event. Messages
// travel as bytes (the service's methods are raw, see wire.h).
// CollectReactor: a unary call waiting for the final events of one or more
// streams (TopK, AttentionMaps, Compare), then filling the response on the
// write pump (a response may be megabytes: not on the scheduler thread that
// delivers the last event).
// Both own themselves (self_) until OnDone; the hooks hold weak pointers.
// Each ends its call through the call's record (call_record.h), which it
// keeps, with the call's admission tickets, until OnDone.
// Client cancellation (and deadlines, which gRPC reports as cancellation)
// set the streams' cancel flags; the scheduler then ends the work.
#ifndef TINYLM_SERVER_RPC_REACTORS_H_
#define TINYLM_SERVER_RPC_REACTORS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "models/tokenizer.h"
#include "server/operations/call_record.h"
#include "server/engine/stream.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

class WritePump;

class GenerateReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `stream` is already submitted; `tokenizer` outlives the call.
  // Writes run on `pump`'s threads (and gRPC's, after each write).
  // Up to `tokens_per_message` waiting tokens go in one message.
  static GenerateReactor* Start(std::shared_ptr<GenerationStream> stream,
                                const Tokenizer* tokenizer,
                                std::shared_ptr<CallRecord> call,
                                WritePump* pump, int64_t tokens_per_message);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  GenerateReactor(std::shared_ptr<GenerationStream> stream,
                  const Tokenizer* tokenizer, std::shared_ptr<CallRecord> call,
                  int64_t tokens_per_message);
  void Pump();

  std::shared_ptr<GenerateReactor> self_;
  std::shared_ptr<GenerationStream> stream_;
  const Tokenizer* tokenizer_;
  std::shared_ptr<CallRecord> call_;
  const int64_t tokens_per_message_;
  std::vector<TokenEvent> more_;  // the tokens after the first of a write
  v1::GenerateResponse response_;
  grpc::ByteBuffer bytes_;  // response_ serialized: the write in flight
};

// A write reactor that only reports `status` (a rejected Generate).
grpc::ServerWriteReactor<grpc::ByteBuffer>* FailedWriter(
    const grpc::Status& status);

class CollectReactor : public grpc::ServerUnaryReactor {
 public:
  // Fills the response from the summaries (in stream order); its status
  // becomes the call's. Runs on `pump`'s threads.
  using Respond = std::function<absl::Status(const std::vector<Summary>&)>;

  static CollectReactor* Start(
      std::vector<std::shared_ptr<GenerationStream>> streams, Respond respond,
      std::shared_ptr<CallRecord> call, WritePump* pump);

  void OnCancel() override;
  void OnDone() override;

 private:
  CollectReactor(std::vector<std::shared_ptr<GenerationStream>> streams,
                 Respond respond, std::shared_ptr<CallRecord> call);
  // Takes stream `index`'s final event; the last one posts Complete.
  void OnEvent(size_t index, WritePump* pump);
  void Complete();

  std::shared_ptr<CollectReactor> self_;
  std::vector<std::shared_ptr<GenerationStream>> streams_;
  Respond respond_;
  std::shared_ptr<CallRecord> call_;
  // Slot i is written once by stream i's hook before `remaining_` drops.
  std::vector<Summary> summaries_;
  std::vector<absl::Status> errors_;
  std::atomic<int64_t> remaining_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_REACTORS_H_
