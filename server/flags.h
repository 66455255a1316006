// tinylm-server's command line: the flags (defined in flags.cc and nowhere
// else), their parsing, and their conversion to ServerOptions.
#ifndef TINYLM_SERVER_FLAGS_H_
#define TINYLM_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server.h"

namespace tinylm {

// Exit code of an invalid command line (a flag that does not parse, a value
// out of range, a file that cannot be used).
inline constexpr int kExitBadFlags = 2;

// Parses the command line; exits with kExitBadFlags (after absl's message)
// for an unknown flag or a value that does not parse, and with 0 after
// --help. Returns the positional arguments.
std::vector<char*> ParseServerFlags(int argc, char** argv);

// The options the flags ask for, files (TLS, token) read and checked.
// INVALID_ARGUMENT naming the flag for anything unusable.
absl::StatusOr<ServerOptions> ServerOptionsFromFlags();

absl::StatusOr<absl::Duration> ShutdownGraceFromFlags();

}  // namespace tinylm

#endif  // TINYLM_SERVER_FLAGS_H_
