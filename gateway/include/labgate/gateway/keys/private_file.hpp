#pragma once
// Writing a file that holds secrets (the site config, the DESFire key file) so that it is never
// readable by others, never half-written, and never written through a planted symlink. The
// work is files::write_atomically; these names keep the key code's vocabulary.

#include <filesystem>
#include <string_view>

#include "labgate/gateway/files/files.hpp"

namespace labgate::gateway::keys {

/// How write_private_file places the file (mode 0600 unless told otherwise).
using PrivateFileOptions = files::WriteOptions;
/// What write_private_file did.
using PrivateFileResult = files::WriteResult;

/// files::write_atomically, for files that hold secrets.
inline PrivateFileResult write_private_file(const std::filesystem::path& path,
                                            std::string_view text,
                                            const PrivateFileOptions& options) {
  return files::write_atomically(path, text, options);
}

}  // namespace labgate::gateway::keys
