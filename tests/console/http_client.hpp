#pragma once
// A small blocking HTTP/1.1 client on Beast, for the console's tests: one connection per request.

#include <chrono>
#include <map>
#include <string>

namespace labgate::testing {

/// A response as the tests look at it.
struct HttpReply {
  int status{0};
  std::multimap<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  /// The first value of header `name` (lower case), "" when absent.
  std::string header(const std::string& name) const;
};

/// A request.
struct HttpCall {
  std::string method{"GET"};
  std::string target{"/"};
  std::string body;
  std::string content_type{"application/x-www-form-urlencoded"};
  std::string cookie;  ///< "name=value", sent as Cookie
  std::string accept_language;
};

/// Sends `call` to 127.0.0.1:`port` and reads the whole response.
HttpReply http(unsigned short port, const HttpCall& call);

/// `text` percent-encoded for a form field.
std::string form_escape(const std::string& text);

/// A raw connection for the live stream: sends `request_head` and reads until `want` appears in
/// what came back or `timeout` passes; returns everything read.
class RawStream {
 public:
  RawStream(unsigned short port, const std::string& request_head);
  ~RawStream();
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;
  /// Reads until `want` is in the data received so far (or timeout); returns the data.
  std::string read_until(const std::string& want, std::chrono::milliseconds timeout);
  /// read_until, then hands over and forgets what was read up to the end of the first `want`
  /// ("" when it did not come): for a long stream read piece by piece.
  std::string take_until(const std::string& want, std::chrono::milliseconds timeout);

 private:
  int fd_{-1};
  std::string data_;
};

}  // namespace labgate::testing
