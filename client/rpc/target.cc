#include "client/rpc/target.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tinylm {
namespace {

// The schemes gRPC's own resolvers know, as a target's prefix.
constexpr absl::string_view kSchemes[] = {
    "dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:", "xds:",
};

}  // namespace

std::string WithDefaultPort(absl::string_view target, int port) {
  const std::string as_given(target);
  if (target.empty() || absl::StrContains(target, "://")) return as_given;
  for (absl::string_view scheme : kSchemes) {
    if (absl::StartsWith(target, scheme)) return as_given;
  }
  if (absl::StartsWith(target, "[")) {
    // "[::1]" takes a port; "[::1]:8080" has one.
    if (!absl::EndsWith(target, "]")) return as_given;
  } else if (absl::StrContains(target, ':')) {
    return as_given;  // host:port, or a bare IPv6 address
  }
  return absl::StrCat(target, ":", port);
}

}  // namespace tinylm
