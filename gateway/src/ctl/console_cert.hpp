#pragma once
// The web console's TLS certificate for `labgatectl init`: a self-signed one when the console is
// to listen on a non-loopback address and no certificate is given (docs/CONSOLE.md).

#include <filesystem>
#include <optional>
#include <string>

namespace labgate::gateway::ctl {

/// The address part of "ADDR:PORT" ("[::1]:8080" -> "::1"); nullopt when malformed.
std::optional<std::string> listen_host(const std::string& listen);
/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

/// Creates an EC P-256 key and a self-signed certificate (SHA-256, 825 days, serverAuth) naming
/// `gateway`, this host's name, localhost, 127.0.0.1 and `host` when it is a specific address.
/// The key file is written 0600 (given to the `labgate` user when it exists and we are root);
/// neither file is replaced unless `force`. The key is never printed. Throws Failure.
void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::string& gateway, const std::string& host, bool force);

}  // namespace labgate::gateway::ctl
