#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // dlmopen, LM_ID_NEWLM
#endif

#include "models/spm_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tinylm {
namespace {

bool FileExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// The directory of the running executable, or "" when /proc is missing.
std::string ExecutableDir() {
  char buffer[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return "";
  const std::string exe(buffer, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash);
}

std::string DlError() {
  const char* error = dlerror();
  return error != nullptr ? error : "unknown dynamic loader error";
}

template <typename Fn>
absl::Status Resolve(void* handle, const std::string& path, const char* name,
                     Fn& out) {
  dlerror();  // clear any stale error
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("tokenizer module '", path, "' lacks the function ", name,
                     ": ", DlError()));
  }
  out = reinterpret_cast<Fn>(symbol);
  return absl::OkStatus();
}

absl::Status ResolveAll(void* handle, SpmModule& m) {
  const std::string& p = m.path;
  for (absl::Status status : {
           Resolve(handle, p, "tinylm_spm_load", m.load),
           Resolve(handle, p, "tinylm_spm_free", m.free_model),
           Resolve(handle, p, "tinylm_spm_encode", m.encode),
           Resolve(handle, p, "tinylm_spm_decode", m.decode),
           Resolve(handle, p, "tinylm_spm_id_to_piece", m.id_to_piece),
           Resolve(handle, p, "tinylm_spm_piece_to_id", m.piece_to_id),
           Resolve(handle, p, "tinylm_spm_vocab_size", m.vocab_size),
           Resolve(handle, p, "tinylm_spm_bos_id", m.bos_id),
           Resolve(handle, p, "tinylm_spm_eos_id", m.eos_id),
           Resolve(handle, p, "tinylm_spm_unk_id", m.unk_id),
           Resolve(handle, p, "tinylm_spm_pad_id", m.pad_id),
           Resolve(handle, p, "tinylm_spm_is_byte", m.is_byte),
           Resolve(handle, p, "tinylm_spm_is_control", m.is_control),
           Resolve(handle, p, "tinylm_spm_is_unknown", m.is_unknown),
           Resolve(handle, p, "tinylm_spm_train", m.train),
           Resolve(handle, p, "tinylm_spm_free_ids", m.free_ids),
           Resolve(handle, p, "tinylm_spm_free_string", m.free_string),
       }) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// Loads one file into a fresh namespace. The caller holds the registry
// lock (dlerror is per thread, but loads are serialised anyway).
absl::StatusOr<std::unique_ptr<SpmModule>> LoadFile(const std::string& path) {
  void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load tokenizer module '", path, "': ", DlError()));
  }
  auto module = std::make_unique<SpmModule>();
  module->path = path;

  TinylmSpmAbiVersionFn abi_version = nullptr;
  absl::Status status =
      Resolve(handle, path, "tinylm_spm_abi_version", abi_version);
  if (status.ok() && abi_version() != TINYLM_SPM_ABI_VERSION) {
    status = absl::FailedPreconditionError(absl::StrCat(
        "tokenizer module '", path, "' has interface version ", abi_version(),
        ", this program needs ", TINYLM_SPM_ABI_VERSION,
        "; install the module built with this program"));
  }
  if (status.ok()) status = ResolveAll(handle, *module);
  if (!status.ok()) {
    // Nothing of the module is in use yet, so its namespace can go.
    dlclose(handle);
    return status;
  }
  return module;
}

}  // namespace

std::string SpmModule::TakeError(char* error) const {
  if (error == nullptr) return "unknown error (out of memory?)";
  std::string message(error);
  free_string(error);
  return message;
}

std::vector<std::string> SpmModuleCandidates() {
  const char* env = std::getenv("TINYLM_SPM_MODULE");
  if (env != nullptr && env[0] != '\0') return {env};
  const std::string dir = ExecutableDir();
  if (dir.empty()) return {};
  return {absl::StrCat(dir, "/", kSpmModuleFileName),
          absl::StrCat(dir, "/../lib/tinylm/", kSpmModuleFileName)};
}

absl::StatusOr<const SpmModule*> LoadSpmModule(
    const std::string& explicit_path) {
  std::vector<std::string> candidates;
  if (!explicit_path.empty()) {
    candidates = {explicit_path};
  } else {
    candidates = SpmModuleCandidates();
  }
  std::string found;
  for (const std::string& candidate : candidates) {
    if (FileExists(candidate)) {
      found = candidate;
      break;
    }
  }
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat("tokenizer module ", kSpmModuleFileName,
                     " not found (tried '", absl::StrJoin(candidates, "', '"),
                     "'); pass its path or set $TINYLM_SPM_MODULE"));
  }
  // The same file reached by two spellings must not take two namespaces.
  char resolved[PATH_MAX];
  const std::string path =
      realpath(found.c_str(), resolved) != nullptr ? resolved : found;

  // Leaked on purpose: modules live until exit (see the header), and
  // tokenizers may still be in use while static destructors run.
  static std::mutex* mu = new std::mutex;
  static auto* modules = new std::map<std::string, std::unique_ptr<SpmModule>>;
  std::lock_guard<std::mutex> lock(*mu);
  auto it = modules->find(path);
  if (it != modules->end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<SpmModule>> module = LoadFile(path);
  if (!module.ok()) return module.status();
  const SpmModule* loaded = module->get();
  (*modules)[path] = *std::move(module);
  return loaded;
}

}  // namespace tinylm
