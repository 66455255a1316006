// Ctrl-C cancels the call in flight instead of killing the program, so the
// server learns at once that nobody waits for the answer and the terminal
// is left tidy.
//
// A signal handler may do almost nothing (no locks, no gRPC), so SIGINT
// only writes a byte into a pipe; a watcher thread reads it and calls
// ClientContext::TryCancel, after which the call ends with CANCELLED. A
// second Ctrl-C gets the default action (the handler is one-shot), should
// something hang.
#ifndef TINYLM_CLIENT_RPC_INTERRUPT_H_
#define TINYLM_CLIENT_RPC_INTERRUPT_H_

#include <grpcpp/client_context.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace tinylm {

// While alive, SIGINT cancels `context`. One at a time per process (the
// handler has a single pipe); construct it after the context and let it die
// before the context. Not copyable.
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(grpc::ClientContext* context);
  ~CancelOnInterrupt();
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

  // Whether Ctrl-C was pressed (and the call cancelled).
  bool interrupted() const { return interrupted_.load(); }

 private:
  void Watch(grpc::ClientContext* context);

  int pipe_[2] = {-1, -1};
  struct sigaction previous_ {};
  bool installed_ = false;
  std::atomic<bool> interrupted_{false};
  std::thread watcher_;
};

}  // namespace tinylm

#endif  // TINYLM_CLIENT_RPC_INTERRUPT_H_
