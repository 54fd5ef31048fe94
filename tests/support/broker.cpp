#include "broker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace labgate::testing {

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

bool port_accepts(int port) {
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
  process_ = std::make_unique<Child>(
      std::vector<std::string>{MosquittoTools::broker(), "-c", (dir() / "mosquitto.conf").string()},
      dir() / "stderr.log");
  // Right after a stop the port may still be held for a moment; keep trying for a while.
  const bool up = wait_until(
      [this] {
        if (!process_->running()) return true;
        return port_accepts(port_);
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
  opts.err_path = dir_.path() / "err.txt";
  process_ = std::make_unique<Child>(argv, out_path_, opts);
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
  return run_command(argv, 10s).exit_code == 0;
}

PlugPlayer::PlugPlayer(const MosquittoBroker& broker, std::string command_topic,
                       std::string state_topic, bool answers)
    : broker_(broker),
      command_topic_(std::move(command_topic)),
      state_topic_(std::move(state_topic)),
      answers_(answers) {
  sub_ = std::make_unique<Child>(
      std::vector<std::string>{MosquittoTools::sub(), "-h", "127.0.0.1", "-p",
                               std::to_string(broker.port()), "-q", "1", "-t", command_topic_},
      dir_ / "commands.txt", SpawnOptions{{}, dir_ / "err.txt", false});
  const bool ready = wait_until(
      [&] {
        publish_with_tool(broker_, command_topic_, "probe");
        return wait_until([&] { return !lines().empty(); }, 500ms);
      },
      20s);
  if (!ready) throw std::runtime_error("plug on " + command_topic_ + " never subscribed");
  thread_ = std::thread([this] { answer(); });
}

PlugPlayer::~PlugPlayer() {
  stop_ = true;
  thread_.join();
}

std::vector<std::string> PlugPlayer::lines() const {
  std::vector<std::string> out;
  std::istringstream in(read_file(dir_ / "commands.txt"));
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> PlugPlayer::commands() const {
  std::vector<std::string> out;
  for (auto& l : lines()) {
    if (l != "probe") out.push_back(std::move(l));
  }
  return out;
}

bool PlugPlayer::report(const std::string& state) {
  return publish_with_tool(broker_, state_topic_, state);
}

void PlugPlayer::answer() {
  std::size_t handled = 0;
  while (!stop_) {
    const auto cmds = commands();
    for (; handled < cmds.size(); ++handled) {
      if (answers_) report(cmds[handled]);
    }
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace labgate::testing
