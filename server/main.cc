// tinylm-server: serves the tinylm checkpoints over gRPC (tinylm.v1.TinyLM,
// grpc.health.v1, server reflection), optionally with TLS, a bearer token
// and a Prometheus /metrics endpoint (flags in flags.cc). SIGTERM or SIGINT
// stop it gracefully (exit 0); an invalid command line exits 2, a
// checkpoint that fails to load or a port that cannot be opened exits 1.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "server/flags.h"
#include "server/server.h"

namespace {

// --help lists the flags of server/ (absl's default: only main files').
void ConfigureUsage() {
  absl::SetProgramUsageMessage(
      "Serves tinylm checkpoints over gRPC. Flags and their defaults below; "
      "docs/operations.md explains limits, TLS, tokens, metrics and logs.");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "server/");
  };
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.rfind("server/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  usage.version_string = [] {
    return std::string("tinylm-server " TINYLM_VERSION " (commit " TINYLM_COMMIT
                       ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
}

// A bearer token sent in plaintext beyond this host can be read on the way.
bool Loopback(const std::string& listen) {
  return absl::StartsWith(listen, "127.") ||
         absl::StartsWith(listen, "localhost:") ||
         absl::StartsWith(listen, "[::1]:") ||
         absl::StartsWith(listen, "unix");
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so that every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ConfigureUsage();
  tinylm::ParseServerFlags(argc, argv);
  const absl::StatusOr<tinylm::ServerOptions> options =
      tinylm::ServerOptionsFromFlags();
  const absl::StatusOr<absl::Duration> grace = tinylm::ShutdownGraceFromFlags();
  for (const absl::Status& status : {options.status(), grace.status()}) {
    if (!status.ok()) {
      std::cerr << "tinylm-server: " << status.message() << "\n";
      return tinylm::kExitBadFlags;
    }
  }
  if (!options->auth_token.empty() && options->tls.cert_chain.empty() &&
      !Loopback(options->listen)) {
    std::cerr << "tinylm-server: warning: --auth_token_file without TLS on "
              << options->listen
              << ": the token travels in plaintext (add --tls_cert and "
                 "--tls_key)\n";
  }

  auto server = tinylm::TinyLmServer::Start(*options);
  if (!server.ok()) {
    std::cerr << "tinylm-server: " << server.status().message() << "\n";
    return 1;
  }
  if ((*server)->metrics_port() != 0) {
    std::cout << "tinylm-server: metrics at http://"
              << options->metrics_listen.substr(
                     0, options->metrics_listen.rfind(':'))
              << ":" << (*server)->metrics_port() << "/metrics" << std::endl;
  }
  std::cout << "tinylm-server: serving " << (*server)->registry().Names()
            << " from " << options->registry.checkpoints_dir
            << (options->tls.cert_chain.empty() ? "" : " with TLS")
            << " on port " << (*server)->port() << std::endl;
  // After the port line, which scripts and tests read first.
  if ((*server)->http_port() != 0) {
    std::cout << "tinylm-server: HTTP (Connect JSON, OpenAI /v1) on http_port "
              << (*server)->http_port() << std::endl;
  }
  for (const auto& model : (*server)->registry().models()) {
    std::cout << "tinylm-server: " << model->name << " on " << model->device
              << ": " << model->engine->step_description() << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "tinylm-server: signal " << signal_number << ", shutting down"
            << std::endl;
  (*server)->Shutdown(*grace);
  for (const auto& model : (*server)->registry().models()) {
    std::cout << "tinylm-server: " << model->name
              << " scheduler time: " << model->engine->time_report()
              << std::endl;
  }
  return 0;
}
