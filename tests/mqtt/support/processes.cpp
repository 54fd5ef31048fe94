#include "processes.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace labgate::testing {

namespace {

using namespace std::chrono_literals;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "labgate-mqtt-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, SpawnOptions options)
    : own_group_(options.own_group) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!options.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (!options.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_group_) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int rc = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("posix_spawnp " + argv[0] + " failed: " + std::to_string(rc));
}

ChildProcess::~ChildProcess() {
  stop(SIGTERM);
}

bool ChildProcess::running() {
  if (reaped_) return false;
  const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

int ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  wait_until([this] { return !running(); }, timeout, 10ms);
  if (!reaped_) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

int ChildProcess::stop(int sig, std::chrono::milliseconds grace) {
  if (!running()) return reaped_ ? status_ : -1;
  ::kill(own_group_ ? -pid_ : pid_, sig);
  if (!wait_until([this] { return !running(); }, grace, 10ms)) {
    ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  } else if (own_group_) {
    // The leader is gone; make sure the rest of its group (pipeline members) is too.
    ::kill(-pid_, SIGKILL);
  }
  return status_;
}

int run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                const std::string& output_path) {
  SpawnOptions opts;
  opts.stdout_path = output_path;
  ChildProcess child(argv, opts);
  const int code = child.wait_exit(timeout);
  if (code < 0) child.stop(SIGKILL, 1s);
  return code;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

std::string MosquittoTools::broker() {
  return LABGATE_MOSQUITTO_BIN;
}
std::string MosquittoTools::sub() {
  return LABGATE_MOSQUITTO_SUB_BIN;
}
std::string MosquittoTools::pub() {
  return LABGATE_MOSQUITTO_PUB_BIN;
}
std::string MosquittoTools::passwd() {
  return LABGATE_MOSQUITTO_PASSWD_BIN;
}

MosquittoBroker::MosquittoBroker(std::string extra_config, bool allow_anonymous)
    : port_(free_port()) {
  std::ofstream conf(dir() / "mosquitto.conf");
  conf << "per_listener_settings false\n"
       << "listener " << port_ << " 127.0.0.1\n"
       << "allow_anonymous " << (allow_anonymous ? "true" : "false") << "\n"
       << "persistence true\n"
       << "persistence_location " << dir().string() << "/\n"
       << "max_queued_messages 0\n"
       << "log_dest file " << (dir() / "mosquitto.log").string() << "\n"
       << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
  // As root, mosquitto drops to user "mosquitto" and then cannot write the temp dir.
  if (::geteuid() == 0) conf << "user root\n";
  conf << extra_config << "\n";
}

MosquittoBroker::~MosquittoBroker() {
  stop();
}

void MosquittoBroker::start() {
  if (process_) return;
  SpawnOptions opts;
  opts.stdout_path = (dir() / "stdout.log").string();
  opts.stderr_path = (dir() / "stderr.log").string();
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{MosquittoTools::broker(), "-c", (dir() / "mosquitto.conf").string()},
      opts);
  // Right after a stop the port may still be held for a moment; keep trying for a while.
  const bool up = wait_until(
      [this] {
        if (!process_->running()) return true;
        return accepts(port_);
      },
      10s, 20ms);
  if (!up || !process_->running()) {
    process_.reset();
    throw std::runtime_error("mosquitto did not start:\n" + log() +
                             read_file(dir() / "stderr.log"));
  }
}

void MosquittoBroker::stop() {
  if (!process_) return;
  process_->stop(SIGTERM, 10s);
  process_.reset();
}

std::string MosquittoBroker::log() const {
  return read_file(dir() / "mosquitto.log");
}

Subscriber::Subscriber(const MosquittoBroker& broker, std::vector<std::string> topics,
                       Options options)
    : broker_(broker), options_(std::move(options)) {
  if (options_.probe_topic.empty())
    options_.probe_topic = "labgate-test/probe/" + options_.client_id;
  out_path_ = (dir_.path() / "out.txt").string();
  std::vector<std::string> argv{
      MosquittoTools::sub(), "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-i",
      options_.client_id,    "-q", "1",         "-v"};
  if (options_.persistent) argv.push_back("-c");
  if (!options_.username.empty()) {
    argv.insert(argv.end(), {"-u", options_.username, "-P", options_.password});
  }
  topics.push_back(options_.probe_topic);
  for (const auto& t : topics) argv.insert(argv.end(), {"-t", t});
  SpawnOptions opts;
  opts.stdout_path = out_path_;
  opts.stderr_path = (dir_.path() / "err.txt").string();
  process_ = std::make_unique<ChildProcess>(argv, opts);
}

Subscriber::~Subscriber() {
  process_->stop(SIGTERM);
}

void Subscriber::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    publish_with_tool(broker_, options_.probe_topic, "probe", options_.username, options_.password);
    const bool seen = wait_until(
        [this] {
          std::ifstream in(out_path_);
          std::string line;
          while (std::getline(in, line)) {
            if (line.rfind(options_.probe_topic + " ", 0) == 0) return true;
          }
          return false;
        },
        300ms, 20ms);
    if (seen) return;
  }
  throw std::runtime_error("subscriber " + options_.client_id + " never became ready");
}

std::vector<std::pair<std::string, std::string>> Subscriber::messages() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in(out_path_);
  std::string line;
  while (std::getline(in, line)) {
    // A line still being written has no newline yet; getline then hits EOF.
    if (in.eof()) break;
    const auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string topic = line.substr(0, sp);
    if (topic == options_.probe_topic) continue;
    out.emplace_back(std::move(topic), line.substr(sp + 1));
  }
  return out;
}

bool publish_with_tool(const MosquittoBroker& broker, const std::string& topic,
                       const std::string& payload, const std::string& username,
                       const std::string& password) {
  std::vector<std::string> argv{MosquittoTools::pub(),
                                "-h",
                                "127.0.0.1",
                                "-p",
                                std::to_string(broker.port()),
                                "-q",
                                "1",
                                "-t",
                                topic,
                                "-m",
                                payload};
  if (!username.empty()) argv.insert(argv.end(), {"-u", username, "-P", password});
  return run_program(argv, 10s) == 0;
}

}  // namespace labgate::testing
