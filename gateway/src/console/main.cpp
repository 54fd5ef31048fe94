// labgate-console: the staff web console (docs/CONSOLE.md). Its own process, so that a fault or
// a flood here never reaches a door: it reads the store read-only and acts only through
// labgated's admin channel.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "labgate/version.hpp"
#include "server.hpp"

namespace {

namespace asio = boost::asio;
namespace cfg = labgate::gateway::config;
namespace console = labgate::gateway::console;
namespace store = labgate::gateway::store;

struct Args {
  std::string config;
  std::string listen;
  std::string static_dir;
  std::string db;
  std::string admin_socket;
  std::string log_level;
};

// "127.0.0.1:8080", "[::1]:8080" -> endpoint; nullopt when malformed.
std::optional<asio::ip::tcp::endpoint> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) return std::nullopt;
    return asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int fail(const std::string& message, int code = 2) {
  std::cerr << "labgate-console: " << message << '\n';
  return code;
}

std::unique_ptr<store::Store> open_store(const cfg::SiteConfig& site, const std::string& path,
                                         std::string& error) {
  auto opened = store::Store::open(path, console::reader_store_options(site));
  if (!opened) {
    error = "cannot open the database " + path + ": " + opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

int serve(console::App& app, const asio::ip::tcp::endpoint& endpoint, asio::ssl::context* tls) {
  console::Server server(app, endpoint, tls);
  const auto bound = server.local_endpoint();
  std::cout << "listening on " << (tls != nullptr ? "https" : "http") << "://"
            << (bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                        : bound.address().to_string())
            << ':' << bound.port() << std::endl;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("console: signal {}, stopping", sig);
    server.stop();
  });
  server.run();
  waiter.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread (sigwait); every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App cli{"labgate-console: the staff web console"};
  Args a;
  cli.add_option("--config", a.config, "the site configuration (site.toml)")->required();
  cli.add_option("--listen", a.listen, "ADDR:PORT (default [console] listen, 127.0.0.1:8080)");
  cli.add_option("--static", a.static_dir, "directory of /static/ files ([console] static_dir)");
  cli.add_option("--db", a.db, "the database (default [store] path)");
  cli.add_option("--admin-socket", a.admin_socket, "labgated's admin channel ([admin] socket)");
  cli.add_option("--log-level", a.log_level, "trace, debug, info, warn, error");
  cli.set_version_flag("--version", std::string("labgate-console ") + labgate::kVersionLine);
  CLI11_PARSE(cli, argc, argv);

  auto loaded = cfg::load_site_file(a.config);
  if (!loaded.has_value()) return fail(cfg::to_string(loaded.error()), 1);
  auto site = std::move(loaded).value();
  if (!a.listen.empty()) site.console.listen = a.listen;
  if (!a.static_dir.empty()) site.console.static_dir = a.static_dir;
  if (!a.admin_socket.empty()) site.admin.socket = a.admin_socket;
  spdlog::set_level(spdlog::level::from_str(a.log_level.empty() ? site.log.level : a.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");

  const auto endpoint = parse_listen(site.console.listen);
  if (!endpoint)
    return fail("bad listen address '" + site.console.listen + "': expected ADDR:PORT");
  const bool tls = !site.console.tls_cert.empty();
  if (!endpoint->address().is_loopback() && !tls) {
    return fail("refusing to listen on " + site.console.listen +
                " without TLS: only a loopback address may serve plain HTTP; set [console] "
                "tls_cert and tls_key");
  }
  std::optional<asio::ssl::context> tls_context;
  if (tls) {
    try {
      tls_context.emplace(asio::ssl::context::tls_server);
      tls_context->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                               asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      tls_context->use_certificate_chain_file(site.console.tls_cert);
      tls_context->use_private_key_file(site.console.tls_key, asio::ssl::context::pem);
    } catch (const std::exception& e) {
      return fail("cannot load the TLS certificate or key: " + std::string(e.what()), 1);
    }
  }
  std::string error;
  auto st = open_store(site, a.db.empty() ? site.store.path : a.db, error);
  if (!st) return fail(error, 3);
  console::App::Options options;
  options.site = site;
  options.static_dir = site.console.static_dir;
  try {
    console::App app(std::move(options), std::move(st));
    return serve(app, *endpoint, tls_context ? &*tls_context : nullptr);
  } catch (const std::exception& e) {
    return fail(std::string("cannot listen on ") + site.console.listen + ": " + e.what(), 3);
  }
}
