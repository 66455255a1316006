// tinylm health: asks the standard health service whether the server (or
// --model's service "tinylm.v1.TinyLM/<model>") is SERVING. Exit 0 only
// then; 7 for any other status, 3 when nobody answers.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/command.h"
#include "client/rpc/health_check.h"
#include "client/text/json_output.h"

namespace tinylm {

absl::Status RunHealth(CommandContext& context) {
  const std::string& model = context.options.model;
  const std::string service =
      model.empty() ? "" : absl::StrCat("tinylm.v1.TinyLM/", model);
  ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
  const absl::Status status =
      Call(context.Settings(), [&](grpc::ClientContext* call) {
        return CheckHealth(context.channel, call, service, &serving);
      });
  // The health service's NOT_FOUND means it knows no such service.
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat(
        "unknown model \"", model, "\": the server reports no health for ",
        service, " (see tinylm models)"));
  }
  if (!status.ok()) return status;
  const std::string name = ServingStatusName(serving);
  if (context.options.json) {
    PrintJson({{"server", context.options.server},
               {"service", service},
               {"status", name}});
  } else {
    std::cout << name << std::endl;
  }
  if (serving != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::FailedPreconditionError(
        absl::StrCat(context.options.server, " reports ", name,
                     model.empty() ? "" : absl::StrCat(" for model ", model)));
  }
  return absl::OkStatus();
}

}  // namespace tinylm
