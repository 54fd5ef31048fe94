#include "test_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace labgate::testing {

std::string random_key_hex() {
  // std::random_device reads the kernel's random source on Linux (getrandom).
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (int i = 0; i < 8; ++i) {
    std::uint32_t word = rd();
    for (int j = 0; j < 8; ++j) {
      hex.push_back(kHex[word & 0xf]);
      word >>= 4;
    }
  }
  return hex;
}

const std::string& test_key() {
  static const std::string key = random_key_hex();
  return key;
}

const std::string& test_command_key() {
  static const std::string key = [] {
    std::string k;
    do {
      k = random_key_hex();
    } while (k == test_key());
    return k;
  }();
  return key;
}

void write_private_file(const std::filesystem::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
  // An existing file keeps its mode through O_CREAT; force it.
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
}

}  // namespace labgate::testing
