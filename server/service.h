// The TinyLM gRPC service: handlers only. Each handler validates (validate.h),
// submits plain requests to the models' schedulers, and hands the streams
// to a reactor (reactors.h); errors become gRPC statuses in one place
// (grpc_status.h).
#ifndef TINYLM_SERVER_SERVICE_H_
#define TINYLM_SERVER_SERVICE_H_

#include <vector>

#include "server/engine/model_registry.h"
#include "server/validate.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

class TinyLmService final : public v1::TinyLM::CallbackService {
 public:
  // `registry` outlives the service.
  TinyLmService(ModelRegistry* registry, const ServiceLimits& limits)
      : registry_(registry), limits_(limits) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context,
      const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* TopK(grpc::CallbackServerContext* context,
                                 const v1::TopKRequest* request,
                                 v1::TopKResponse* response) override;
  grpc::ServerUnaryReactor* AttentionMaps(
      grpc::CallbackServerContext* context,
      const v1::AttentionMapsRequest* request,
      v1::AttentionMapsResponse* response) override;
  grpc::ServerUnaryReactor* Compare(grpc::CallbackServerContext* context,
                                    const v1::CompareRequest* request,
                                    v1::CompareResponse* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(
      grpc::CallbackServerContext* context,
      const v1::DetokenizeRequest* request,
      v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const v1::ListModelsRequest* request,
      v1::ListModelsResponse* response) override;

 private:
  ModelRegistry* registry_;
  const ServiceLimits limits_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_SERVICE_H_
