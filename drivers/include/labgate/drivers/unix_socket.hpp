#pragma once
// Small pieces every line-oriented Unix-socket server of labgate shares (the simulated devices'
// control socket, the daemon's admin channel).

#include <cstddef>
#include <string>

namespace labgate::drivers {

/// Makes `path` free for bind(): removes a socket file nobody answers on any more (left by a
/// crash). Throws std::system_error when the path is not a socket, or a running process still
/// accepts on it (it must not be stolen).
void remove_stale_socket(const std::string& path);

/// Takes the first `n` bytes of `buffer` (one line, ending in '\n', as read_until reports it)
/// and returns the line without its "\n" or "\r\n".
std::string take_line(std::string& buffer, std::size_t n);

}  // namespace labgate::drivers
