// Child processes for the client's end-to-end tests: run a program and
// collect its output and exit code, or keep one running (the server, or a
// client to interrupt) and read its output as it comes.
#ifndef TINYLM_TESTS_CLIENT_PROCESS_H_
#define TINYLM_TESTS_CLIENT_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tinylm {

struct ProcessResult {
  int exit_code = -1;  // 128 + N when killed by signal N
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (a path) with `argv`, stdin from `input`, in `cwd` ("" =
// here), and waits for it.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::string& input = "",
                                         const std::string& cwd = "");

// A running child with stdout on a pipe (stderr on a pipe too unless
// `inherit_stderr`). Kills the child on destruction if still running.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Start(
      const std::vector<std::string>& argv, bool inherit_stderr = false);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Reads stdout until a complete line contains `needle`, and returns that
  // line; an error at EOF or once `limit` passes (so that a broken child
  // fails the test instead of hanging it).
  absl::StatusOr<std::string> ReadLine(const std::string& needle,
                                       absl::Duration limit);

  // Sends `signal`, reads the rest of stdout and stderr, waits for exit.
  ProcessResult Signal(int signal);

  // Waits for exit, collecting the rest of the output.
  ProcessResult Wait();

 private:
  ChildProcess() = default;
  friend absl::StatusOr<ProcessResult> RunProcess(
      const std::vector<std::string>& argv, const std::string& input,
      const std::string& cwd);

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string out_text_, err_text_;
};

}  // namespace tinylm

#endif  // TINYLM_TESTS_CLIENT_PROCESS_H_
