// Early-return helpers for absl::Status and absl::StatusOr.
//
// Debian 12's abseil (20220623) predates absl/status/status_macros.h, so
// tinylm carries these two small macros of its own.
#ifndef TINYLM_UTIL_STATUS_MACROS_H_
#define TINYLM_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the calling function if `expr` (an absl::Status) is not OK.
#define TINYLM_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status tinylm_status_ = (expr);           \
    if (!tinylm_status_.ok()) return tinylm_status_;  \
  } while (false)

#define TINYLM_STATUS_CONCAT_INNER_(a, b) a##b
#define TINYLM_STATUS_CONCAT_(a, b) TINYLM_STATUS_CONCAT_INNER_(a, b)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its error.
#define TINYLM_ASSIGN_OR_RETURN(lhs, expr)                                   \
  TINYLM_ASSIGN_OR_RETURN_IMPL_(                                             \
      TINYLM_STATUS_CONCAT_(tinylm_statusor_, __LINE__), lhs, expr)

#define TINYLM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()

#endif  // TINYLM_UTIL_STATUS_MACROS_H_
