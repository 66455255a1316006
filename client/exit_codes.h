// The program's exit codes (listed in --help) and how errors map to them.
#ifndef TINYLM_CLIENT_EXIT_CODES_H_
#define TINYLM_CLIENT_EXIT_CODES_H_

#include "absl/status/status.h"

namespace tinylm {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,            // anything else (server error, file not written)
  kExitInvalidArgument = 2,  // bad command line, or a value the server refused
  kExitUnreachable = 3,      // no server at --server (or it is shutting down)
  kExitUnknownModel = 4,     // --model (or --models) not loaded by the server
  kExitTimeout = 5,          // no answer within --timeout
  kExitBusy = 6,             // the server's queue or a size limit was full
  kExitNotServing = 7,       // health: the server or model is not SERVING
  kExitUnauthenticated = 8,  // the server refused the credentials
  kExitInterrupted = 130,    // Ctrl-C cancelled the call
};

// The exit code for an error of the client (absl codes as gRPC's).
int ExitCodeFor(const absl::Status& status);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_EXIT_CODES_H_
