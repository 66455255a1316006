// The workbench page (workbench.html, compiled into the binary), served at
// GET / by the HTTP face.
#ifndef TINYLM_SERVER_HTTP_WORKBENCH_PAGE_H_
#define TINYLM_SERVER_HTTP_WORKBENCH_PAGE_H_

#include "absl/strings/string_view.h"

namespace tinylm {

absl::string_view WorkbenchPage();

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_WORKBENCH_PAGE_H_
