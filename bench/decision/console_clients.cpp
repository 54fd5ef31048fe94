#include "console_clients.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http_client.hpp"

extern char** environ;

namespace labgate::bench::decision {

namespace {

using Steady = std::chrono::steady_clock;

// "labgate_session=..." from a Set-Cookie header.
std::string session_cookie(const std::string& set_cookie) {
  return set_cookie.substr(0, set_cookie.find(';'));
}

std::string csrf_token(const std::string& page) {
  const std::string mark = R"(name="csrf" value=")";
  const auto at = page.find(mark);
  if (at == std::string::npos) return {};
  const auto from = at + mark.size();
  return page.substr(from, page.find('"', from) - from);
}

}  // namespace

struct ConsoleClients::Impl {
  pid_t pid{-1};
  unsigned short port{0};
  std::atomic<bool> stop{false};
  struct Stream {
    std::unique_ptr<testing::RawStream> raw;
    std::thread thread;
    std::atomic<std::uint64_t> lines{0};
  };
  std::vector<std::unique_ptr<Stream>> streams;
  // one_reader: raw sockets, all read by `reader`.
  std::vector<int> fds;
  std::thread reader;

  void read_loop(Stream& s) {
    // One event ("data: ...") or keep-alive comment at a time.
    while (!stop.load()) {
      const auto event = s.raw->take_until("\n\n", std::chrono::milliseconds(50));
      if (event.starts_with("data: ")) ++s.lines;
    }
  }

  // Every stream of `fds` on this one thread; streams[i] counts fds[i]'s events.
  void read_all() {
    std::vector<pollfd> polled;
    for (const int fd : fds) polled.push_back({fd, POLLIN, 0});
    std::vector<std::string> carry(fds.size());
    char buf[65536];
    while (!stop.load()) {
      if (::poll(polled.data(), polled.size(), 50) <= 0) continue;
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if (polled[i].revents == 0) continue;
        const ssize_t n = ::recv(polled[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
          if (n == 0 || (errno != EAGAIN && errno != EINTR)) polled[i].fd = -1;
          continue;
        }
        carry[i].append(buf, static_cast<std::size_t>(n));
        for (auto at = carry[i].find("\n\n"); at != std::string::npos; at = carry[i].find("\n\n")) {
          if (carry[i].starts_with("data: ")) ++streams[i]->lines;
          carry[i].erase(0, at + 2);
        }
      }
    }
  }
};

namespace {

// A raw stream socket for the one-reader mode: sends `head`, reads the response head and the
// opening comment; the fd, or throws.
int open_stream(unsigned short port, const std::string& head) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("console: cannot open a live stream");
  }
  // Byte by byte up to the opening comment, so that no event is read here.
  std::string got;
  const auto until = Steady::now() + std::chrono::seconds(10);
  while (!got.ends_with(": live\n\n") && Steady::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c = 0;
    if (::recv(fd, &c, 1, 0) != 1) break;
    got += c;
  }
  if (!got.starts_with("HTTP/1.1 200") || !got.ends_with(": live\n\n")) {
    ::close(fd);
    throw std::runtime_error("console: live stream refused: " + got.substr(0, got.find('\r')));
  }
  return fd;
}

}  // namespace

ConsoleClients::ConsoleClients(const std::string& console_path, const std::filesystem::path& config,
                               const std::filesystem::path& db, const std::string& admin_socket,
                               int nice)
    : impl_(std::make_unique<Impl>()) {
  // Its output goes to a file beside the database: a pipe closed after the start would kill it
  // (SIGPIPE) at its first later log line.
  const auto log = db.parent_path() / "console.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("console: cannot create " + log.string());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, log_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
  std::vector<std::string> args = {console_path,  "--config",       config.string(), "--db",
                                   db.string(),   "--admin-socket", admin_socket,    "--listen",
                                   "127.0.0.1:0", "--log-level",    "warn"};
  // Every thread of the console at that level, as systemd's Nice= would start it.
  if (nice != 0) args.insert(args.begin(), {"nice", "-n", std::to_string(nice)});
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = ::posix_spawnp(&impl_->pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(log_fd);
  if (rc != 0) throw std::runtime_error("console: cannot start " + console_path);
  // "listening on http://127.0.0.1:PORT"
  std::string said;
  const auto until = Steady::now() + std::chrono::seconds(10);
  const std::string mark = "listening on http://127.0.0.1:";
  while (Steady::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(log);
    said.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const auto at = said.find(mark);
    if (at != std::string::npos && said.find('\n', at) != std::string::npos) {
      impl_->port = static_cast<unsigned short>(std::stoi(said.substr(at + mark.size())));
      break;
    }
  }
  if (impl_->port == 0) {
    ::kill(impl_->pid, SIGKILL);
    ::waitpid(impl_->pid, nullptr, 0);
    throw std::runtime_error("console: did not start listening: " + said);
  }
}

ConsoleClients::~ConsoleClients() {
  close();
  ::kill(impl_->pid, SIGTERM);
  int status = 0;
  ::waitpid(impl_->pid, &status, 0);
}

void ConsoleClients::open(int clients, const std::string& login, const std::string& password,
                          bool one_reader) {
  auto& i = *impl_;
  i.stop = false;
  for (int c = 0; c < clients; ++c) {
    testing::HttpCall get;
    get.target = "/login";
    const auto form = testing::http(i.port, get);
    testing::HttpCall post;
    post.method = "POST";
    post.target = "/login";
    post.cookie = session_cookie(form.header("set-cookie"));
    post.body = "csrf=" + testing::form_escape(csrf_token(form.body)) +
                "&login=" + testing::form_escape(login) +
                "&password=" + testing::form_escape(password);
    const auto done = testing::http(i.port, post);
    const std::string cookie = session_cookie(done.header("set-cookie"));
    if (done.status != 303 || cookie.empty()) {
      throw std::runtime_error("console: login refused: " + std::to_string(done.status));
    }
    auto s = std::make_unique<Impl::Stream>();
    const std::string request =
        "GET /live/events HTTP/1.1\r\nHost: bench\r\nCookie: " + cookie + "\r\n\r\n";
    if (one_reader) {
      i.fds.push_back(open_stream(i.port, request));
      i.streams.push_back(std::move(s));
      continue;
    }
    s->raw = std::make_unique<testing::RawStream>(i.port, request);
    // The head and the opening comment, before any tap.
    const auto head = s->raw->take_until(": live\n\n", std::chrono::seconds(10));
    if (!head.starts_with("HTTP/1.1 200")) {
      throw std::runtime_error("console: live stream refused: " + head.substr(0, head.find('\r')));
    }
    Impl::Stream* stream = s.get();
    s->thread = std::thread([&i, stream] { i.read_loop(*stream); });
    i.streams.push_back(std::move(s));
  }
  if (one_reader) i.reader = std::thread([&i] { i.read_all(); });
}

std::uint64_t ConsoleClients::close() {
  auto& i = *impl_;
  if (i.streams.empty()) return 0;
  std::uint64_t fewest = UINT64_MAX;
  i.stop = true;
  if (i.reader.joinable()) i.reader.join();
  for (const int fd : i.fds) ::close(fd);
  i.fds.clear();
  for (auto& s : i.streams) {
    if (s->thread.joinable()) s->thread.join();
    fewest = std::min<std::uint64_t>(fewest, s->lines.load());
  }
  i.streams.clear();
  return fewest;
}

}  // namespace labgate::bench::decision
