#pragma once
// Writing files where staff asked and nowhere else: secrets (the site config, key files) and
// exports (statements, ward reports). Every file goes through a temp file in its folder, created
// O_EXCL | O_NOFOLLOW with its mode set by us whatever the umask, and is renamed into place, so
// a crash or a failure leaves no partial file and a planted symlink is never written through.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace labgate::gateway::files {

/// How write_atomically places the file.
struct WriteOptions {
  mode_t mode{0600};           ///< final mode; the temp file is 0600 until then
  std::optional<gid_t> group;  ///< give the file this group (before any byte is written)
  /// false: an existing file at the path is never replaced. true: a regular file is replaced;
  /// a symlink or anything else at the path is refused.
  bool replace{false};
};

/// What write_atomically did.
struct WriteResult {
  std::optional<std::string> error;  ///< why nothing was written; nullopt on success
  bool exists{false};                ///< refused because the path exists (replace = false)
  int group_errno{0};                ///< the group could not be set (the file keeps the caller's)
};

/// Writes `text` to a temp file in the same folder (O_EXCL | O_NOFOLLOW, 0600), fsyncs it, sets
/// the group and mode, renames it into place and fsyncs the folder. On failure the temp file is
/// removed and the path is untouched.
WriteResult write_atomically(const std::filesystem::path& path, std::string_view text,
                             const WriteOptions& options);

/// Makes `dir` ready to receive exports: creates it (0750) when missing; refuses a path that is
/// not a folder, and a folder other users may write to, unless it has the sticky bit and belongs
/// to this user (there, nobody else can replace or remove our files). Returns why not, or
/// nullopt.
std::optional<std::string> prepare_export_folder(const std::filesystem::path& dir);

/// `text` as part of a file name, without loss: ASCII letters, digits and '-' stay; every other
/// byte, '_' included, becomes "_xx" (two lowercase hex digits). Two different texts never give
/// the same name ("M'1" is "M_271", "M_1" is "M_5f1"), and the result has no '/' or '.'.
std::string file_name_part(std::string_view text);

/// Mode of exported files: the owner writes, the group (labgate) reads for reports.
inline constexpr mode_t kExportMode = 0640;

}  // namespace labgate::gateway::files
