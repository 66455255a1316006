// TextAssembler: turns a sequence's token bytes into releasable text.
//
// Two reasons to hold bytes back:
//   - byte-fallback tokens may carry part of a UTF-8 character: text is
//     released only as complete UTF-8 (bytes that can never become valid
//     UTF-8 are released as U+FFFD);
//   - stop strings: a suffix that could be the start of a stop string waits
//     until it is decided, so the output never contains a stop string.
// Single-threaded (owned by one sequence of the scheduler).
#ifndef TINYLM_SERVER_ENGINE_TEXT_ASSEMBLER_H_
#define TINYLM_SERVER_ENGINE_TEXT_ASSEMBLER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tinylm {

class TextAssembler {
 public:
  explicit TextAssembler(std::vector<std::string> stops = {});

  struct Result {
    std::string released;  // valid UTF-8, possibly empty
    bool stopped = false;  // a stop string appeared; nothing more to add
    std::string stop;      // which one
  };
  Result Append(absl::string_view bytes);

  // Releases everything held (end of the sequence); an incomplete UTF-8
  // tail becomes U+FFFD.
  std::string Flush();

  // Everything released so far.
  const std::string& text() const { return text_; }

 private:
  // Bytes of pending_ that could start a stop string (a suffix that is a
  // proper prefix of one).
  size_t StopPrefixLength() const;
  std::string Release(size_t n);  // the first n pending bytes

  std::vector<std::string> stops_;
  std::string pending_;  // received, not yet released
  std::string text_;
};

// Length of the longest prefix of `bytes` that is valid UTF-8 ending on a
// character boundary, treating invalid bytes as complete (they are replaced
// by SanitizeUtf8). Only a truncated trailing sequence is excluded.
size_t CompleteUtf8Prefix(absl::string_view bytes);

// `bytes` with each invalid or truncated sequence replaced by U+FFFD.
std::string SanitizeUtf8(absl::string_view bytes);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_TEXT_ASSEMBLER_H_
