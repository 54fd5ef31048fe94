#pragma once
// Writing a file that holds secrets (the site config, the DESFire key file) so that it is never
// readable by others, never half-written, and never written through a planted symlink.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace labgate::gateway::keys {

/// How write_private_file places the file.
struct PrivateFileOptions {
  mode_t mode{0600};           ///< final mode; the temp file is 0600 until then
  std::optional<gid_t> group;  ///< give the file this group (before any byte is written)
  bool replace{false};         ///< false: an existing file at the path is never replaced
};

/// What write_private_file did.
struct PrivateFileResult {
  std::optional<std::string> error;  ///< why nothing was written; nullopt on success
  bool exists{false};                ///< refused because the path exists (replace = false)
  int group_errno{0};                ///< the group could not be set (the file keeps the caller's)
};

/// Writes `text` to a temp file in the same folder (O_EXCL | O_NOFOLLOW, 0600), fsyncs it, sets
/// the group and mode, renames it into place (without replacing unless `replace`) and fsyncs the
/// folder. On failure the temp file is removed and the path is untouched.
PrivateFileResult write_private_file(const std::filesystem::path& path, std::string_view text,
                                     const PrivateFileOptions& options);

}  // namespace labgate::gateway::keys
