#include "http_client.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>

namespace labgate::testing {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpReply http(unsigned short port, const HttpCall& call) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(call.method), call.target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!call.cookie.empty()) req.set(bhttp::field::cookie, call.cookie);
  if (!call.accept_language.empty()) req.set(bhttp::field::accept_language, call.accept_language);
  if (call.method == "POST") {
    req.set(bhttp::field::content_type, call.content_type);
    req.body() = call.body;
    req.prepare_payload();
  }
  bhttp::write(socket, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  bhttp::read(socket, buffer, parser);
  HttpReply out;
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string().data(), f.name_string().size());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers.emplace(name, std::string(f.value().data(), f.value().size()));
  }
  out.body = res.body();
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

std::string form_escape(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

RawStream::RawStream(unsigned short port, const std::string& request_head) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to the console");
  }
  if (::send(fd_, request_head.data(), request_head.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request_head.size())) {
    throw std::runtime_error("cannot send to the console");
  }
}

RawStream::~RawStream() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RawStream::read_until(const std::string& want, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (data_.find(want) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    data_.append(chunk, static_cast<std::size_t>(n));
  }
  return data_;
}

std::string RawStream::take_until(const std::string& want, std::chrono::milliseconds timeout) {
  read_until(want, timeout);
  const auto at = data_.find(want);
  if (at == std::string::npos) return {};
  std::string out = data_.substr(0, at + want.size());
  data_.erase(0, at + want.size());
  return out;
}

}  // namespace labgate::testing
