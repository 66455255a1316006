// What the unary handlers of the service (service.cc,
// service_inspection.cc) share: the Plan a handler makes of a valid
// request, and Unary, which checks, parses, runs the handler's body and
// answers. Only those two files include this.
#ifndef TINYLM_SERVER_RPC_UNARY_CALL_H_
#define TINYLM_SERVER_RPC_UNARY_CALL_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "server/rpc/reactors.h"
#include "server/rpc/service.h"
#include "server/rpc/wire.h"
#include "server/rpc/write_pump.h"

namespace tinylm {

inline grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

inline std::vector<ValidRequest> One(ValidRequest request) {
  std::vector<ValidRequest> out;
  out.push_back(std::move(request));
  return out;
}

// What a unary handler does with a valid request: wait for engine streams
// (none for the synchronous ones), then fill the response from their
// summaries.
template <typename Response>
struct Plan {
  std::vector<std::shared_ptr<GenerationStream>> streams;
  std::function<absl::Status(const std::vector<Summary>&, Response&)> fill;
};

// Checks the call may proceed, parses the request, runs `body` (request,
// record -> Plan), and answers with the filled response serialized into
// `raw_response`: at once when the plan waits for no stream, else from the
// write pump once every stream has ended. Every end goes through the call's
// record.
template <typename Request, typename Response, typename Body>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                TinyLmService::Call call,
                                const grpc::ByteBuffer* raw_request,
                                grpc::ByteBuffer* raw_response,
                                WritePump* pump, Body body) {
  CallRecord& record = *call.record;
  if (!call.allowed.ok()) return Finished(context, record.End(call.allowed));
  Request request;
  const absl::Status parsed = ParseRequest(*raw_request, &request);
  if (!parsed.ok()) return Finished(context, record.End(parsed));
  absl::StatusOr<Plan<Response>> plan = body(request, record);
  if (!plan.ok()) return Finished(context, record.End(plan.status()));
  auto respond = [fill = std::move(plan->fill),
                  raw_response](const std::vector<Summary>& summaries) {
    Response response;
    const absl::Status status = fill(summaries, response);
    if (status.ok()) SerializeResponse(response, raw_response);
    return status;
  };
  if (plan->streams.empty()) {
    return Finished(context, record.End(respond({})));
  }
  return CollectReactor::Start(std::move(plan->streams), std::move(respond),
                               std::move(call.record), pump);
}

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_UNARY_CALL_H_
