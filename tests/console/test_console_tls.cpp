// `labgatectl init --console-listen` on an address other than loopback makes a self-signed
// certificate and key for the console and names them in the config; the console then speaks
// only TLS, and a Beast TLS client that trusts that certificate (and nothing else) connects.

#include <signal.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

// GET /login over TLS, trusting only `ca`; the response, or throws on a failed handshake.
bhttp::response<bhttp::string_body> tls_get(unsigned short port, const std::string& ca) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  REQUIRE(SSL_set_tlsext_host_name(stream.native_handle(), "localhost"));
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.handshake(asio::ssl::stream_base::client);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/login", 11};
  req.set(bhttp::field::host, "localhost");
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res);
  return res;
}

}  // namespace

TEST_CASE("console tls: init makes a self-signed certificate and the console serves TLS on it",
          "[console]") {
  TempDir dir("labgate-console-init");
  const auto config = dir / "site.toml";
  const auto db = dir / "labgate.db";
  auto r =
      run_command({LABGATECTL_PATH, "--db", db.string(), "init", "--site", "tls-test", "--gateway",
                   "gw-tls", "--out", config.string(), "--console-listen", "0.0.0.0:0"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto cert = dir / "console.crt";
  const auto key = dir / "console.key";
  REQUIRE(std::filesystem::exists(cert));
  REQUIRE(std::filesystem::exists(key));
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string key_text = read_file(key);
  CHECK(has(key_text, "PRIVATE KEY"));
  // The key is never printed.
  CHECK_FALSE(has(r.out + r.err, "PRIVATE KEY"));
  CHECK_FALSE(has(r.out + r.err, key_text.substr(40, 40)));
  CHECK(has(read_file(cert), "BEGIN CERTIFICATE"));
  const std::string text = read_file(config);
  CHECK(has(text, "listen = \"0.0.0.0:0\""));
  CHECK(has(text, "tls_cert = \"" + cert.string() + "\""));
  CHECK(has(text, "tls_key = \"" + key.string() + "\""));

  // A second init does not replace them.
  auto again = run_command({LABGATECTL_PATH, "--db", db.string(), "init", "--site", "tls-test",
                            "--gateway", "gw-tls", "--out", (dir / "other.toml").string(),
                            "--console-listen", "0.0.0.0:0"});
  CHECK(again.exit_code == 1);
  CHECK(read_file(key) == key_text);
  CHECK_FALSE(std::filesystem::exists(dir / "other.toml"));

  // The database the config names, as labgated would create it.
  {
    auto site = labgate::gateway::config::load_site_file(config.string());
    REQUIRE(site.has_value());
    store::StoreOptions so;
    so.site_key = site.value().site.key;
    so.time_zone = site.value().site.timezone;
    auto opened = store::Store::open(db, so);
    REQUIRE(opened.ok());
  }
  Child console({LABGATE_CONSOLE_PATH, "--config", config.string(), "--static",
                 LABGATE_CONSOLE_STATIC, "--admin-socket", (dir / "admin.sock").string()},
                dir / "console.log");
  const std::string marker = "listening on https://";
  REQUIRE(wait_until([&] { return has(read_file(dir / "console.log"), marker); },
                     std::chrono::seconds(10)));
  const std::string log = read_file(dir / "console.log");
  const auto colon = log.find(':', log.find(marker) + marker.size());
  const auto port = static_cast<unsigned short>(std::stoi(log.substr(colon + 1)));
  auto res = tls_get(port, cert.string());
  CHECK(res.result_int() == 200);
  CHECK(has(std::string(res[bhttp::field::set_cookie]), "; Secure"));
  // Plain HTTP on the same port gets no page.
  HttpCall plain;
  plain.target = "/login";
  bool served = false;
  try {
    served = http(port, plain).status == 200;
  } catch (const std::exception&) {
  }
  CHECK_FALSE(served);
  console.stop(SIGTERM);
}

TEST_CASE("console tls: init on loopback makes no certificate", "[console]") {
  TempDir dir("labgate-console-init");
  auto r = run_command({LABGATECTL_PATH, "init", "--site", "lo-test", "--gateway", "gw-lo", "--out",
                        (dir / "site.toml").string(), "--console-listen", "127.0.0.1:8080"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(dir / "console.key"));
  const std::string text = read_file(dir / "site.toml");
  CHECK(has(text, "listen = \"127.0.0.1:8080\""));
  CHECK_FALSE(has(text, "tls_cert"));
  CHECK(run_command({LABGATECTL_PATH, "init", "--site", "lo-test", "--gateway", "gw-lo", "--out",
                     (dir / "bad.toml").string(), "--console-listen", "nonsense"})
            .exit_code == 2);
}
