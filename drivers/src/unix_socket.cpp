#include "labgate/drivers/unix_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace labgate::drivers {

void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::system_error(errno, std::generic_category(), "cannot inspect " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw std::system_error(std::make_error_code(std::errc::file_exists),
                            path + " exists and is not a socket");
  }
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    throw std::system_error(std::make_error_code(std::errc::filename_too_long), path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) throw std::system_error(errno, std::generic_category(), "socket");
  const bool answered = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (answered) {
    throw std::system_error(std::make_error_code(std::errc::address_in_use),
                            path + " is in use by a running process");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::system_error(errno, std::generic_category(), "cannot remove stale " + path);
  }
}

std::string take_line(std::string& buffer, std::size_t n) {
  std::string line = buffer.substr(0, n > 0 ? n - 1 : 0);
  buffer.erase(0, n);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace labgate::drivers
