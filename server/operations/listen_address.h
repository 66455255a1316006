// "HOST:PORT" parsing shared by the server's listening flags.
#ifndef TINYLM_SERVER_OPERATIONS_LISTEN_ADDRESS_H_
#define TINYLM_SERVER_OPERATIONS_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

struct ListenAddress {
  std::string host;  // without the brackets of an IPv6 address
  int port = 0;      // 0: any free port
};

// "127.0.0.1:9090", "localhost:0", "[::1]:9090". INVALID_ARGUMENT naming
// `flag` otherwise.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view flag,
                                                 absl::string_view address);

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_LISTEN_ADDRESS_H_
