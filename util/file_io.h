// Whole-file reads and crash-safe writes, with errors that name the path.
// Plain POSIX I/O; no torch here.
#ifndef TINYLM_UTIL_FILE_IO_H_
#define TINYLM_UTIL_FILE_IO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// The whole content of the regular file `path`. NotFound if it does not
// exist, FailedPrecondition if it is not a regular file, Internal on I/O
// errors.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Whether `path` is a regular file (links followed); false on any error.
bool IsRegularFile(const std::string& path);

// Writes `contents` to `path` (replaced if present) and flushes it to disk,
// so that a later rename publishes complete data.
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// Renames `from` to `to` atomically (same file system).
absl::Status RenameFile(const std::string& from, const std::string& to);

// WriteFile to `path` + ".tmp", then RenameFile onto `path`: readers see the
// old file or the complete new one, never a partial one.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// Writes several (path, contents) files as one: each goes to path + ".tmp"
// first, and only when all are written are they renamed, so a failure
// leaves whatever was there before intact (the temporary files removed).
absl::Status WriteFilesTogether(
    const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace tinylm

#endif  // TINYLM_UTIL_FILE_IO_H_
