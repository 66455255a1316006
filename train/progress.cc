#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tinylm {

ProgressBar::ProgressBar(int64_t total, bool enabled)
    : total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(int64_t first, int64_t done, double elapsed_s,
                         const std::string& status) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? int(kWidth * done / total_) : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  const double rate = elapsed_s > 0 ? (done - first) / elapsed_s : 0;
  const std::string eta =
      rate > 0 ? FormatDuration((total_ - done) / rate) : "?";
  std::fprintf(stderr, "%s[%s] %lld/%lld %s ETA %s%s", tty_ ? "\r\033[K" : "",
               bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), status.c_str(), eta.c_str(),
               tty_ ? "" : "\n");
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (enabled_ && tty_) std::fputc('\n', stderr);
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) {
    return absl::StrFormat("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
  }
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrCat(s, "s");
}

}  // namespace tinylm
