#include "client/rpc/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace tinylm {
namespace {

constexpr char kInterrupt = 'i';
constexpr char kQuit = 'q';

// The write end of the active watcher's pipe; -1 when none.
std::atomic<int> g_interrupt_fd{-1};

void OnInterrupt(int) {
  const int saved = errno;  // the interrupted code may look at errno
  const int fd = g_interrupt_fd.load();
  if (fd >= 0) {
    const char byte = kInterrupt;
    [[maybe_unused]] ssize_t n = write(fd, &byte, 1);
  }
  errno = saved;
}

}  // namespace

CancelOnInterrupt::CancelOnInterrupt(grpc::ClientContext* context) {
  if (pipe2(pipe_, O_CLOEXEC) != 0) return;  // then Ctrl-C simply kills
  g_interrupt_fd.store(pipe_[1]);
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  watcher_ = std::thread([this, context] { Watch(context); });
}

CancelOnInterrupt::~CancelOnInterrupt() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
  g_interrupt_fd.store(-1);
  if (watcher_.joinable()) {
    const char byte = kQuit;
    [[maybe_unused]] ssize_t n = write(pipe_[1], &byte, 1);
    watcher_.join();
  }
  for (int fd : pipe_) {
    if (fd >= 0) close(fd);
  }
}

void CancelOnInterrupt::Watch(grpc::ClientContext* context) {
  char byte = 0;
  ssize_t n;
  do {
    n = read(pipe_[0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && byte == kInterrupt) {
    interrupted_.store(true);
    context->TryCancel();
  }
}

}  // namespace tinylm
