// The TinyLM gRPC service: handlers only. Each handler parses (wire.h),
// validates (validate.h), submits plain requests to the models' schedulers,
// and hands the streams to a reactor (reactors.h); errors become gRPC
// statuses in one place (grpc_status.h).
#ifndef TINYLM_SERVER_SERVICE_H_
#define TINYLM_SERVER_SERVICE_H_

#include <vector>

#include "server/engine/model_registry.h"
#include "server/validate.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

// Every method takes raw bytes, parsed by wire.h, so that malformed
// requests get a precise INVALID_ARGUMENT instead of gRPC's own answer.
using TinyLmRawService = v1::TinyLM::WithRawCallbackMethod_Generate<
    v1::TinyLM::WithRawCallbackMethod_TopK<
        v1::TinyLM::WithRawCallbackMethod_AttentionMaps<
            v1::TinyLM::WithRawCallbackMethod_Compare<
                v1::TinyLM::WithRawCallbackMethod_Tokenize<
                    v1::TinyLM::WithRawCallbackMethod_Detokenize<
                        v1::TinyLM::WithRawCallbackMethod_ListModels<
                            v1::TinyLM::Service>>>>>>>;

class TinyLmService final : public TinyLmRawService {
 public:
  // `registry` outlives the service.
  TinyLmService(ModelRegistry* registry, const ServiceLimits& limits)
      : registry_(registry), limits_(limits) {}

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
  ModelRegistry* registry_;
  const ServiceLimits limits_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_SERVICE_H_
