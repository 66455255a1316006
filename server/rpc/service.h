// The TinyLM gRPC service: handlers only (the inspection calls in
// service_inspection.cc). Each handler parses (wire.h),
// validates (validate.h), submits plain requests to the models' schedulers,
// and hands the streams to a reactor (reactors.h); errors become gRPC
// statuses in one place (grpc_status.h).
#ifndef TINYLM_SERVER_RPC_SERVICE_H_
#define TINYLM_SERVER_RPC_SERVICE_H_

#include <memory>
#include <vector>

#include "server/operations/admission.h"
#include "server/operations/auth.h"
#include "server/operations/call_record.h"
#include "server/engine/model_registry.h"
#include "server/rpc/validate.h"
#include "server/rpc/write_pump.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

// Every method takes raw bytes, parsed by wire.h, so that malformed
// requests get a precise INVALID_ARGUMENT instead of gRPC's own answer.
using TinyLmRawService = v1::TinyLM::WithRawCallbackMethod_Generate<
    v1::TinyLM::WithRawCallbackMethod_TopK<
        v1::TinyLM::WithRawCallbackMethod_AttentionMaps<
            v1::TinyLM::WithRawCallbackMethod_StreamAttentionMaps<
                v1::TinyLM::WithRawCallbackMethod_Compare<
                    v1::TinyLM::WithRawCallbackMethod_LogitLens<
                        v1::TinyLM::WithRawCallbackMethod_Score<
                            v1::TinyLM::WithRawCallbackMethod_Tokenize<
                                v1::TinyLM::WithRawCallbackMethod_Detokenize<
                                    v1::TinyLM::WithRawCallbackMethod_ListModels<
                                        v1::TinyLM::Service>>>>>>>>>>;

// What the service checks and reports besides the requests themselves.
struct ServiceHooks {
  const BearerAuth* auth = nullptr;  // null: calls need no token
  CallObservers observers;           // metrics and request log
};

class TinyLmService final : public TinyLmRawService {
 public:
  // `registry` and what `hooks` point to outlive the service.
  TinyLmService(ModelRegistry* registry, const ServiceLimits& limits,
                const ServiceHooks& hooks = {});

  // Calls in flight on `model` (see admission.h).
  int64_t InFlight(const std::string& model) const {
    return admission_.InFlight(model);
  }

  // A call's record and whether it may proceed (authentication).
  struct Call {
    std::shared_ptr<CallRecord> record;
    absl::Status allowed;
  };

  using Raw = grpc::ByteBuffer;
  grpc::ServerWriteReactor<Raw>* Generate(grpc::CallbackServerContext* context,
                                          const Raw* request) override;
  grpc::ServerUnaryReactor* TopK(grpc::CallbackServerContext* context,
                                 const Raw* request, Raw* response) override;
  grpc::ServerUnaryReactor* AttentionMaps(grpc::CallbackServerContext* context,
                                          const Raw* request,
                                          Raw* response) override;
  grpc::ServerUnaryReactor* Compare(grpc::CallbackServerContext* context,
                                    const Raw* request, Raw* response) override;
  // The inspection calls (service_inspection.cc).
  grpc::ServerWriteReactor<Raw>* StreamAttentionMaps(
      grpc::CallbackServerContext* context, const Raw* request) override;
  grpc::ServerUnaryReactor* LogitLens(grpc::CallbackServerContext* context,
                                      const Raw* request,
                                      Raw* response) override;
  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context,
                                  const Raw* request, Raw* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const Raw* request,
                                     Raw* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const Raw* request,
                                       Raw* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const Raw* request,
                                       Raw* response) override;

 private:
  Call Begin(grpc::CallbackServerContext* context, const char* rpc);
  absl::Time Deadline(const grpc::CallbackServerContext* context) const;
  // Admits and queues every request, or none (see SubmitAll in .cc).
  absl::StatusOr<std::vector<std::shared_ptr<GenerationStream>>> Submit(
      std::vector<ValidRequest> requests, CallRecord& call);

  ModelRegistry* registry_;
  const ServiceLimits limits_;
  const ServiceHooks hooks_;
  Admission admission_;
  // Last: joined first, while everything its tasks touch still exists.
  WritePump write_pump_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_SERVICE_H_
