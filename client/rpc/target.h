// The port a --server target gets when it names none.
//
// gRPC dials a target without a port ("localhost", "10.0.0.2", "[::1]")
// on 443, the HTTPS port, where no tinylm server listens; people mean the
// server's own default. Targets in gRPC's URI forms say what they mean and
// are left alone.
#ifndef TINYLM_CLIENT_RPC_TARGET_H_
#define TINYLM_CLIENT_RPC_TARGET_H_

#include <string>

#include "absl/strings/string_view.h"

namespace tinylm {

// The port tinylm-server listens on unless --listen says otherwise.
inline constexpr int kServerDefaultPort = 50051;

// `target` with ":`port`" appended when it is a host name, an IPv4 address
// or a bracketed IPv6 address without a port. Unchanged: anything with a
// port, URIs (dns:///host, unix:path, ipv4:addr, ipv6:addr, ...), and a
// bare IPv6 address (its colons cannot be told from a port's).
std::string WithDefaultPort(absl::string_view target, int port);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_RPC_TARGET_H_
