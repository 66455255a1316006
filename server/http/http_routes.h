// The HTTP face's handlers (http_endpoint.h): each reads an HTTP request,
// makes its gRPC call through the bridge, and writes the HTTP response.
#ifndef TINYLM_SERVER_HTTP_HTTP_ROUTES_H_
#define TINYLM_SERVER_HTTP_HTTP_ROUTES_H_

#include <string>

#include "httplib.h"
#include "server/http/json_rpc_bridge.h"

namespace tinylm {

// POST /tinylm.v1.TinyLM/<Method>, the method in req.matches[1].
void HandleConnect(JsonRpcBridge& bridge, const httplib::Request& req,
                   httplib::Response& res);
// POST /v1/completions
void HandleCompletions(JsonRpcBridge& bridge, const httplib::Request& req,
                       httplib::Response& res);
// GET /v1/models
void HandleModels(JsonRpcBridge& bridge, const httplib::Request& req,
                  httplib::Response& res);

// The request's bearer token (Authorization header) as gRPC metadata.
CallOptions CallOptionsOf(const httplib::Request& req);
// The Content-Type without parameters, lower case ("" when absent).
std::string MediaTypeOf(const httplib::Request& req);

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_HTTP_ROUTES_H_
