#include "util/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tinylm {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path,
                        int error) {
  std::string message = absl::StrCat(path, ": ", what, ": ", strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

// Closes the descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now so that the caller sees the error close() may report.
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open", path, errno);
  struct stat info;
  if (fstat(fd.get(), &info) != 0) {
    return ErrnoError("cannot stat", path, errno);
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a regular file"));
  }
  std::string contents;
  contents.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = read(fd.get(), &contents[done], contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read failed", path, errno);
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  return contents;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  FileDescriptor fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoError("cannot create", path, errno);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write failed", path, errno);
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return ErrnoError("fsync failed", path, errno);
  if (fd.Close() != 0) return ErrnoError("close failed", path, errno);
  return absl::OkStatus();
}

bool IsRegularFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

absl::Status RenameFile(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoError(absl::StrCat("cannot rename to ", to), from, errno);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  const std::string temp = path + ".tmp";
  absl::Status written = WriteFile(temp, contents);
  if (!written.ok()) {
    std::remove(temp.c_str());
    return written;
  }
  return RenameFile(temp, path);
}

absl::Status WriteFilesTogether(
    const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [path, contents] : files) {
    absl::Status written = WriteFile(path + ".tmp", contents);
    if (!written.ok()) {
      for (const auto& file : files) std::remove((file.first + ".tmp").c_str());
      return written;
    }
  }
  for (const auto& file : files) {
    absl::Status renamed = RenameFile(file.first + ".tmp", file.first);
    if (!renamed.ok()) return renamed;
  }
  return absl::OkStatus();
}

}  // namespace tinylm
