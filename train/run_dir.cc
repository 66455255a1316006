#include "train/run_dir.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "train/quote_path.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;

// What Train() writes into a run's directory.
constexpr const char* kRunFiles[] = {"checkpoint", "optimizer.pt", "state.json",
                                     "result.json", "metrics.csv"};

bool Exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

bool HoldsRun(const std::string& dir) {
  for (const char* file : kRunFiles) {
    if (Exists(fs::path(dir) / file)) return true;
  }
  return false;
}

bool HoldsResumableRun(const std::string& dir) {
  return Exists(fs::path(dir) / "state.json");
}

absl::Status CheckRunDirectory(const std::string& dir, bool resume,
                               bool overwrite) {
  if (resume) {
    if (HoldsResumableRun(dir)) return absl::OkStatus();
    return absl::NotFoundError(
        absl::StrCat("--resume: --out=", QuotePath(dir),
                     " holds no run to resume (no state.json)"));
  }
  if (overwrite || !HoldsRun(dir)) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      "--out=", QuotePath(dir),
      " already holds a run; pass --resume to continue it or --overwrite to "
      "replace it"));
}

absl::Status RemoveRun(const std::string& dir) {
  for (const char* file : kRunFiles) {
    const fs::path path = fs::path(dir) / file;
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          QuotePath(path.string()), ": cannot remove: ", ec.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace tinylm
