#include "labgate/gateway/files/files.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace labgate::gateway::files {

namespace fs = std::filesystem;

WriteResult write_atomically(const fs::path& path, std::string_view text,
                             const WriteOptions& options) {
  WriteResult result;
  if (options.replace) {
    // rename() would replace a symlink itself rather than write through it, but a link at an
    // export's name is somebody's plan for that name: refuse it and say so.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      result.error = S_ISLNK(st.st_mode)
                         ? path.string() + " is a symbolic link; refusing to write through it"
                         : path.string() + " exists and is not a regular file";
      return result;
    }
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // A random name: a leftover or a planted file of a known name cannot block or redirect us.
  std::array<unsigned char, 6> r{};
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1) {
    result.error = "the random generator failed";
    return result;
  }
  std::string suffix;
  for (unsigned char byte : r) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", byte);
    suffix += two;
  }
  const fs::path tmp = dir / ("." + path.filename().string() + "." + suffix + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    result.error = "cannot create " + tmp.string() + ": " + std::strerror(errno);
    return result;
  }
  auto fail = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
    result.error = what + ": " + std::strerror(err);
    return result;
  };
  if (options.group && ::fchown(fd, static_cast<uid_t>(-1), *options.group) != 0)
    result.group_errno = errno;
  // The temp file was created 0600 whatever the umask; only now does it get its final mode.
  if (::fchmod(fd, options.mode) != 0) {
    const int err = errno;
    ::close(fd);
    return fail("chmod " + tmp.string(), err);
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return fail("cannot write " + tmp.string(), err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return fail("cannot write " + tmp.string(), err);
  }
  if (::close(fd) != 0) return fail("cannot write " + tmp.string(), errno);
  const int renamed = options.replace ? ::rename(tmp.c_str(), path.c_str())
                                      : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(),
                                                    RENAME_NOREPLACE);
  if (renamed != 0) {
    const int err = errno;
    result.exists = err == EEXIST;
    return fail("cannot rename " + tmp.string() + " to " + path.string(), err);
  }
  // The rename is durable only once the folder's entry is on disk too.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return result;
}

std::optional<std::string> prepare_export_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                    fs::perm_options::replace, ec);
    if (ec) return "cannot set the mode of " + dir.string() + ": " + ec.message();
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return "cannot open " + dir.string() + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return dir.string() + " is not a folder";
  const bool others_write = (st.st_mode & S_IWOTH) != 0;
  const bool sticky_and_ours = (st.st_mode & S_ISVTX) != 0 && st.st_uid == ::geteuid();
  if (others_write && !sticky_and_ours)
    return dir.string() +
           " can be written by other users, who could replace what is exported there; use a "
           "folder of your own (or one with the sticky bit that belongs to you)";
  return std::nullopt;
}

std::string file_name_part(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const bool keep =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (keep) {
      out += c;
      continue;
    }
    const auto b = static_cast<unsigned char>(c);
    out += '_';
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace labgate::gateway::files
