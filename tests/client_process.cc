#include "tests/client_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tinylm {
namespace {

absl::Status Errno(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available on `fd` into `out`; false at EOF or error.
bool Drain(int fd, std::string* out) {
  char buffer[4096];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  if (n > 0) {
    out->append(buffer, n);
    return true;
  }
  return n < 0 && errno == EINTR;
}

// Reads the open descriptors among `fds` until all reach EOF.
void ReadAll(int* fds[2], std::string* texts[2]) {
  while (*fds[0] >= 0 || *fds[1] >= 0) {
    pollfd polls[2];
    int count = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (*fds[i] < 0) continue;
      polls[count] = {*fds[i], POLLIN, 0};
      which[count++] = i;
    }
    if (poll(polls, count, -1) < 0 && errno != EINTR) return;
    for (int j = 0; j < count; ++j) {
      if (polls[j].revents == 0) continue;
      const int i = which[j];
      if (!Drain(*fds[i], texts[i])) {
        close(*fds[i]);
        *fds[i] = -1;
      }
    }
  }
}

}  // namespace

absl::StatusOr<ChildProcess> ChildProcess::Start(
    const std::vector<std::string>& argv, bool inherit_stderr) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe");
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (!inherit_stderr) dup2(err[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  ChildProcess child;
  child.pid_ = pid;
  child.out_ = out[0];
  child.err_ = err[0];
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      out_(other.out_),
      err_(other.err_),
      out_text_(std::move(other.out_text_)),
      err_text_(std::move(other.err_text_)) {
  other.pid_ = -1;
  other.out_ = other.err_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) close(out_);
  if (err_ >= 0) close(err_);
}

absl::StatusOr<std::string> ChildProcess::ReadLine(const std::string& needle,
                                                   absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  size_t scanned = 0;  // lines before this offset are checked
  while (true) {
    for (size_t end = out_text_.find('\n', scanned); end != std::string::npos;
         end = out_text_.find('\n', scanned)) {
      const std::string line = out_text_.substr(scanned, end - scanned);
      scanned = end + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("no line with \"", needle, "\" on stdout within ",
                       absl::FormatDuration(limit), "; got: ", out_text_));
    }
    pollfd p = {out_, POLLIN, 0};
    const int ready = poll(&p, 1, absl::ToInt64Milliseconds(left) + 1);
    if (ready < 0 && errno != EINTR) return Errno("poll");
    if (ready > 0 && !Drain(out_, &out_text_)) {
      return absl::NotFoundError(absl::StrCat(
          "stdout ended without a line with \"", needle, "\": ", out_text_));
    }
  }
}

ProcessResult ChildProcess::Signal(int signal) {
  kill(pid_, signal);
  return Wait();
}

ProcessResult ChildProcess::Wait() {
  int* fds[2] = {&out_, &err_};
  std::string* texts[2] = {&out_text_, &err_text_};
  ReadAll(fds, texts);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return {ExitCode(status), out_text_, err_text_};
}

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::string& input,
                                         const std::string& cwd) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Errno("pipe");
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe");
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Small inputs only (a prompt): they fit the pipe's buffer.
  if (!input.empty()) {
    [[maybe_unused]] ssize_t n = write(in[1], input.data(), input.size());
  }
  close(in[1]);
  ChildProcess child;
  child.pid_ = pid;
  child.out_ = out[0];
  child.err_ = err[0];
  return child.Wait();
}

}  // namespace tinylm
