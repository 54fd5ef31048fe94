#include "labgate/drivers/sim/sim_hub.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <deque>
#include <map>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "labgate/drivers/unix_socket.hpp"

namespace labgate::drivers::sim {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

const std::vector<std::string>& builtin_commands() {
  static const std::vector<std::string> kNames = {
      "tap",     "place",        "remove",      "input",     "press", "output",
      "outputs", "output-fault", "reader-down", "reader-up", "help"};
  return kNames;
}

bool is_builtin(const std::string& name) {
  for (const auto& n : builtin_commands()) {
    if (n == name) return true;
  }
  return false;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0') return false;
  }
  return true;
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// Client text echoed in a reply must not break the line protocol or flood the terminal.
std::string quote(const std::string& text) {
  constexpr std::size_t kMaxEcho = 64;
  std::string out;
  for (char c : text) {
    if (out.size() == kMaxEcho) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x21 && u < 0x7f ? c : '?');
  }
  return out;
}

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

bool starts_with_word(const std::string& text, const std::string& word) {
  return text.compare(0, word.size(), word) == 0 &&
         (text.size() == word.size() || text[word.size()] == ' ');
}

// Identifier lengths a real reader can report for each technology.
const char* check_length(CardTechnology tech, std::size_t n) {
  switch (tech) {
    case CardTechnology::kIso14443aUid:
      return n == 4 || n == 7 || n == 10 ? nullptr : "iso14443a uid must be 4, 7 or 10 bytes";
    case CardTechnology::kFelica:
      return n == 8 ? nullptr : "felica idm must be 8 bytes";
    case CardTechnology::kDesfire:
      return n == 4 || n == 7 ? nullptr : "desfire uid must be 4 or 7 bytes";
  }
  return "unknown technology";
}

class Session;

// What a session needs from the hub.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // The reply line, or nullopt when the reply comes later (a pending tap/place).
  virtual std::optional<std::string> execute(const std::shared_ptr<Session>& client,
                                             const std::string& line) = 0;
  virtual void drop(std::uint64_t session_id) = 0;
};

struct Pending {
  std::uint64_t correlation{0};
  Clock::time_point at{};
  std::weak_ptr<Session> client;
  std::unique_ptr<asio::steady_timer> timer;
};

}  // namespace

struct SimHub::Impl final : Dispatcher, std::enable_shared_from_this<SimHub::Impl> {
  Impl(asio::io_context& io_context, SimHubOptions opts) : io(io_context), options(opts) {}

  asio::io_context& io;
  SimHubOptions options;
  std::map<std::string, std::shared_ptr<SimReader>> readers;
  std::map<std::string, std::shared_ptr<SimOutput>> outputs;
  std::map<std::string, std::shared_ptr<SimInput>> inputs;
  std::map<std::string, CommandHandler> extra_commands;
  // Devices of the daemon that are not simulated: id -> what it is, per class.
  std::map<DeviceClass, std::map<std::string, std::string>> hardware;

  // The reply for a device id the hub does not own: why it is refused, or "unknown".
  std::string not_simulated(DeviceClass cls, const std::string& id, const std::string& verb,
                            const char* drives) const {
    const char* noun = cls == DeviceClass::kReader   ? "reader"
                       : cls == DeviceClass::kOutput ? "output"
                                                     : "input";
    auto of_class = hardware.find(cls);
    if (of_class != hardware.end()) {
      auto found = of_class->second.find(id);
      if (found != of_class->second.end()) {
        return "err " + std::string(noun) + " " + id + " is " + found->second + ": " + verb + " " +
               drives + " simulated " + noun + "s only";
      }
    }
    return "err unknown " + std::string(noun) + " " + quote(id);
  }

  std::unique_ptr<Local::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::string path;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
  std::uint64_t next_session{0};

  std::map<std::string, std::deque<Pending>> pending;
  std::map<std::string, std::unique_ptr<asio::steady_timer>> dwell;
  std::uint64_t next_correlation{0};
  Clock::time_point last_at{};

  void accept_next();
  void on_accept(const error_code& ec, Local::socket socket);
  void drop(std::uint64_t session_id) override { sessions.erase(session_id); }
  void close();

  std::optional<std::string> execute(const std::shared_ptr<Session>& client,
                                     const std::string& line) override;
  std::optional<std::string> cmd_card(const std::shared_ptr<Session>& client, bool tap,
                                      const std::vector<std::string>& args);
  std::string cmd_remove(const std::vector<std::string>& args);
  std::string cmd_input(const std::vector<std::string>& args);
  std::string cmd_press(const std::vector<std::string>& args);
  std::string cmd_output(const std::vector<std::string>& args);
  std::string cmd_outputs(const std::vector<std::string>& args);
  std::string cmd_output_fault(const std::vector<std::string>& args);
  std::string cmd_reader_down(const std::vector<std::string>& args);
  std::string cmd_reader_up(const std::vector<std::string>& args);
  std::string cmd_help();
  std::string cmd_extra(const CommandHandler& handler, const std::vector<std::string>& args);

  Clock::time_point next_at();
  bool complete(const std::string& reader_id, std::deque<Pending>::iterator it,
                const std::string& reply);
  bool forget(const std::string& reader_id, std::uint64_t correlation);
  void cancel_dwell(const std::string& reader_id);
  void on_ack_timeout(const std::string& reader_id, std::uint64_t correlation);
};

namespace {

// One client connection. Reads a line, answers it, then reads the next, so replies keep command
// order and a client waiting for an acknowledgement cannot queue work on the loop.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::uint64_t id, Local::socket socket, std::weak_ptr<Dispatcher> hub,
          const SimHubOptions& options)
      : id_(id),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        hub_(std::move(hub)),
        options_(options) {}

  std::uint64_t id() const { return id_; }

  void start() { read_next(); }

  void reply(std::string line) {
    if (closed_) return;
    outbox_.push_back(one_line(std::move(line)) + "\n");
    if (!writing_) write_next();
  }

  void reply_and_close(std::string line) {
    close_after_write_ = true;
    reply(std::move(line));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.cancel();
    if (auto hub = hub_.lock()) hub->drop(id_);
  }

 private:
  void read_next() {
    if (closed_) return;
    arm(options_.idle_timeout);
    asio::async_read_until(
        socket_, asio::dynamic_buffer(in_, SimHub::kMaxLine + 1), '\n',
        [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec == asio::error::not_found) {
      reply_and_close("err line too long (max " + std::to_string(SimHub::kMaxLine) + " bytes)");
      return;
    }
    if (ec) {
      close();
      return;
    }
    std::string line = take_line(in_, n);
    disarm();
    auto hub = hub_.lock();
    if (!hub) {
      close();
      return;
    }
    auto answer = hub->execute(shared_from_this(), line);
    if (answer) reply(std::move(*answer));
  }

  void write_next() {
    writing_ = true;
    arm(options_.write_timeout);
    asio::async_write(
        socket_, asio::buffer(outbox_.front()),
        [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(const error_code& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    outbox_.pop_front();
    if (!outbox_.empty()) {
      write_next();
    } else if (close_after_write_) {
      close();
    } else {
      read_next();
    }
  }

  void arm(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
      // A re-armed timer may already have queued its old completion: trust only the expiry.
      if (ec == asio::error::operation_aborted) return;
      if (self->deadline_.expiry() <= asio::steady_timer::clock_type::now()) self->close();
    });
  }

  void disarm() { deadline_.expires_at(asio::steady_timer::time_point::max()); }

  std::uint64_t id_;
  Local::socket socket_;
  asio::steady_timer deadline_;
  std::weak_ptr<Dispatcher> hub_;
  SimHubOptions options_;
  std::string in_;
  std::deque<std::string> outbox_;
  bool writing_{false};
  bool close_after_write_{false};
  bool closed_{false};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
void SimHub::Impl::accept_next() {
  if (!acceptor) return;
  acceptor->async_accept([weak = weak_from_this()](const error_code& ec, Local::socket socket) {
    if (auto self = weak.lock()) self->on_accept(ec, std::move(socket));
  });
}

void SimHub::Impl::on_accept(const error_code& ec, Local::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor) return;
  if (ec) {
    // Out of descriptors and the like: back off instead of spinning on the loop.
    spdlog::warn("sim hub: accept failed: {}", ec.message());
    accept_retry = std::make_unique<asio::steady_timer>(io, std::chrono::milliseconds(100));
    accept_retry->async_wait([weak = weak_from_this()](const error_code& wait_ec) {
      if (wait_ec) return;
      if (auto self = weak.lock()) self->accept_next();
    });
    return;
  }
  auto session =
      std::make_shared<Session>(++next_session, std::move(socket), weak_from_this(), options);
  if (sessions.size() >= options.max_clients) {
    // Not tracked in `sessions`, so it keeps itself alive only until the reply is written.
    session->reply_and_close("err too many clients");
  } else {
    sessions.emplace(session->id(), session);
    session->start();
  }
  accept_next();
}

void SimHub::Impl::close() {
  if (acceptor) {
    error_code ignored;
    acceptor->close(ignored);
    acceptor.reset();
  }
  accept_retry.reset();
  if (!path.empty()) {
    ::unlink(path.c_str());
    spdlog::info("sim hub: closed {}", path);
    path.clear();
  }
  auto open_sessions = std::move(sessions);
  sessions.clear();
  for (auto& [id, session] : open_sessions) session->close();
  // Destroying the timers cancels them; their handlers hold only weak references.
  pending.clear();
  dwell.clear();
}

Clock::time_point SimHub::Impl::next_at() {
  // Unique timestamps let acknowledge(event) find the exact read.
  auto now = Clock::now();
  if (now <= last_at) now = last_at + Clock::duration(1);
  last_at = now;
  return now;
}

bool SimHub::Impl::complete(const std::string& reader_id, std::deque<Pending>::iterator it,
                            const std::string& reply) {
  auto& queue = pending[reader_id];
  auto client = it->client.lock();
  const auto correlation = it->correlation;
  queue.erase(it);
  spdlog::debug("sim hub: read {} on {} answered: {}", correlation, reader_id, reply);
  if (client) client->reply(reply);
  return true;
}

bool SimHub::Impl::forget(const std::string& reader_id, std::uint64_t correlation) {
  auto found = pending.find(reader_id);
  if (found == pending.end()) return false;
  auto& queue = found->second;
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->correlation == correlation) {
      queue.erase(it);
      return true;
    }
  }
  return false;
}

void SimHub::Impl::on_ack_timeout(const std::string& reader_id, std::uint64_t correlation) {
  auto found = pending.find(reader_id);
  if (found == pending.end()) return;
  auto& queue = found->second;
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->correlation == correlation) {
      spdlog::warn("sim hub: read {} on {} was not acknowledged in time", correlation, reader_id);
      complete(reader_id, it, "err timeout");
      return;
    }
  }
}

void SimHub::Impl::cancel_dwell(const std::string& reader_id) {
  dwell.erase(reader_id);
}

std::optional<std::string> SimHub::Impl::execute(const std::shared_ptr<Session>& client,
                                                 const std::string& line) {
  auto words = split_words(line);
  if (words.empty()) return "err empty command";
  const std::string name = words.front();
  words.erase(words.begin());
  spdlog::debug("sim hub: command '{}'", quote(line));
  if (name == "tap") return cmd_card(client, true, words);
  if (name == "place") return cmd_card(client, false, words);
  if (name == "remove") return cmd_remove(words);
  if (name == "input") return cmd_input(words);
  if (name == "press") return cmd_press(words);
  if (name == "output") return cmd_output(words);
  if (name == "outputs") return cmd_outputs(words);
  if (name == "output-fault") return cmd_output_fault(words);
  if (name == "reader-down") return cmd_reader_down(words);
  if (name == "reader-up") return cmd_reader_up(words);
  if (name == "help") return cmd_help();
  auto extra = extra_commands.find(name);
  if (extra != extra_commands.end()) return cmd_extra(extra->second, words);
  return "err unknown command " + quote(name) + " (try help)";
}

std::optional<std::string> SimHub::Impl::cmd_card(const std::shared_ptr<Session>& client, bool tap,
                                                  const std::vector<std::string>& args) {
  const std::string verb = tap ? "tap" : "place";
  if (args.size() != 3) return "err usage: " + verb + " <reader> <tech> <hex>";
  auto found = readers.find(args[0]);
  if (found == readers.end()) return not_simulated(DeviceClass::kReader, args[0], verb, "drives");
  const auto& reader = found->second;
  auto tech = parse_card_technology(args[1]);
  if (!tech) return "err unknown technology " + quote(args[1]) + " (iso14443a, felica, desfire)";
  auto bytes = from_hex(args[2]);
  if (!bytes) return "err bad hex " + quote(args[2]);
  if (const char* why = check_length(*tech, bytes->size())) return std::string("err ") + why;
  if (!reader->started()) return "err reader not started";
  if (reader->down()) return "err reader down";

  const auto reader_id = reader->id();
  const auto correlation = ++next_correlation;
  const auto at = next_at();
  Pending entry;
  entry.correlation = correlation;
  entry.at = at;
  entry.client = client;
  entry.timer = std::make_unique<asio::steady_timer>(io, options.ack_timeout);
  entry.timer->async_wait([weak = weak_from_this(), reader_id, correlation](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_ack_timeout(reader_id, correlation);
  });
  // Registered before delivery: a sink running on the loop may acknowledge synchronously.
  pending[reader_id].push_back(std::move(entry));
  cancel_dwell(reader_id);

  Card card{*tech, std::move(*bytes)};
  const auto result = reader->present(std::move(card), at);
  if (result != SimResult::kDelivered) {
    // Nothing reached the sink, so nobody will acknowledge this read.
    if (!forget(reader_id, correlation)) return std::nullopt;
    return result == SimResult::kDown ? "err reader down" : "err reader not started";
  }
  spdlog::debug("sim hub: read {} on {} delivered", correlation, reader_id);
  if (tap) {
    const auto presentation = reader->presentation();
    if (options.tap_dwell.count() <= 0) {
      reader->remove();
    } else {
      auto timer = std::make_unique<asio::steady_timer>(io, options.tap_dwell);
      timer->async_wait(
          [weak_reader = std::weak_ptr<SimReader>(reader), presentation](const error_code& ec) {
            if (ec) return;
            auto r = weak_reader.lock();
            // Only the card this tap put there leaves; a later place/tap keeps its own.
            if (r && r->presentation() == presentation) r->remove();
          });
      dwell[reader_id] = std::move(timer);
    }
  }
  return std::nullopt;
}

std::string SimHub::Impl::cmd_remove(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: remove <reader>";
  auto found = readers.find(args[0]);
  if (found == readers.end())
    return not_simulated(DeviceClass::kReader, args[0], "remove", "drives");
  cancel_dwell(args[0]);
  if (found->second->remove() == SimResult::kNoChange) return "err no card on " + args[0];
  return "ok " + args[0] + " removed";
}

std::string SimHub::Impl::cmd_input(const std::vector<std::string>& args) {
  if (args.size() != 2 || (args[1] != "on" && args[1] != "off")) {
    return "err usage: input <id> on|off";
  }
  auto found = inputs.find(args[0]);
  if (found == inputs.end()) return not_simulated(DeviceClass::kInput, args[0], "input", "drives");
  found->second->set(args[1] == "on");
  return "ok " + args[0] + " " + args[1];
}

std::string SimHub::Impl::cmd_press(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: press <id>";
  auto found = inputs.find(args[0]);
  if (found == inputs.end()) return not_simulated(DeviceClass::kInput, args[0], "press", "drives");
  found->second->set(true);
  found->second->set(false);
  return "ok " + args[0] + " pressed";
}

std::string SimHub::Impl::cmd_output(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: output <id>";
  auto found = outputs.find(args[0]);
  if (found == outputs.end())
    return not_simulated(DeviceClass::kOutput, args[0], "output", "reads");
  return "ok " + args[0] + (found->second->level() ? " on" : " off");
}

std::string SimHub::Impl::cmd_outputs(const std::vector<std::string>& args) {
  if (!args.empty()) return "err usage: outputs";
  auto hw = hardware.find(DeviceClass::kOutput);
  if (outputs.empty() && hw != hardware.end() && !hw->second.empty()) {
    return "err no simulated outputs here (" + std::to_string(hw->second.size()) +
           " hardware): outputs lists simulated outputs only";
  }
  std::string reply = "ok";
  for (const auto& [id, out] : outputs) reply += " " + id + (out->level() ? "=on" : "=off");
  return reply;
}

std::string SimHub::Impl::cmd_output_fault(const std::vector<std::string>& args) {
  if (args.size() != 2) return "err usage: output-fault <id> none|retry|fatal";
  auto found = outputs.find(args[0]);
  if (found == outputs.end())
    return not_simulated(DeviceClass::kOutput, args[0], "output-fault", "drives");
  if (args[1] == "none") {
    found->second->inject_fault(std::nullopt);
  } else if (args[1] == "retry") {
    found->second->inject_fault(IoResult::kRetry);
  } else if (args[1] == "fatal") {
    found->second->inject_fault(IoResult::kFatal);
  } else {
    return "err usage: output-fault <id> none|retry|fatal";
  }
  return "ok " + args[0] + " fault " + args[1];
}

std::string SimHub::Impl::cmd_reader_down(const std::vector<std::string>& args) {
  if (args.empty()) return "err usage: reader-down <reader> [detail...]";
  auto found = readers.find(args[0]);
  if (found == readers.end())
    return not_simulated(DeviceClass::kReader, args[0], "reader-down", "drives");
  std::string detail;
  for (std::size_t i = 1; i < args.size(); ++i) detail += (i > 1 ? " " : "") + args[i];
  if (detail.empty()) detail = "simulated failure";
  cancel_dwell(args[0]);
  found->second->fail(detail);
  return "ok " + args[0] + " down";
}

std::string SimHub::Impl::cmd_reader_up(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: reader-up <reader>";
  auto found = readers.find(args[0]);
  if (found == readers.end())
    return not_simulated(DeviceClass::kReader, args[0], "reader-up", "drives");
  found->second->recover();
  return "ok " + args[0] + " up";
}

std::string SimHub::Impl::cmd_help() {
  std::string reply = "ok";
  for (const auto& n : builtin_commands()) reply += " " + n;
  for (const auto& [n, handler] : extra_commands) reply += " " + n;
  return reply;
}

std::string SimHub::Impl::cmd_extra(const CommandHandler& handler,
                                    const std::vector<std::string>& args) {
  std::string reply;
  try {
    reply = one_line(handler(args));
  } catch (const std::exception& e) {
    return one_line(std::string("err ") + e.what());
  } catch (...) {
    return "err command failed";
  }
  if (starts_with_word(reply, "ok") || starts_with_word(reply, "err")) return reply;
  return "ok " + reply;
}

// ---------------------------------------------------------------------------------------------
SimHub::SimHub(asio::io_context& io, SimHubOptions options)
    : impl_(std::make_shared<Impl>(io, options)) {}

SimHub::~SimHub() {
  impl_->close();
}

namespace {

template <class Map>
void check_new_id(const Map& map, const std::string& id, const char* what) {
  if (!valid_name(id)) {
    throw std::invalid_argument(std::string("sim ") + what + " id must be a non-empty word");
  }
  if (map.count(id) != 0) {
    throw std::invalid_argument(std::string("duplicate sim ") + what + " id '" + id + "'");
  }
}

}  // namespace

std::shared_ptr<SimReader> SimHub::create_reader(const std::string& id) {
  check_new_id(impl_->readers, id, "reader");
  auto device = std::make_shared<SimReader>(id);
  impl_->readers.emplace(id, device);
  return device;
}

std::shared_ptr<SimOutput> SimHub::create_output(const std::string& id) {
  check_new_id(impl_->outputs, id, "output");
  auto device = std::make_shared<SimOutput>(id);
  impl_->outputs.emplace(id, device);
  return device;
}

std::shared_ptr<SimInput> SimHub::create_input(const std::string& id, InputKind kind,
                                               bool initial) {
  check_new_id(impl_->inputs, id, "input");
  auto device = std::make_shared<SimInput>(id, kind, initial);
  impl_->inputs.emplace(id, device);
  return device;
}

std::shared_ptr<SimReader> SimHub::reader(const std::string& id) const {
  auto found = impl_->readers.find(id);
  return found == impl_->readers.end() ? nullptr : found->second;
}

std::shared_ptr<SimOutput> SimHub::output(const std::string& id) const {
  auto found = impl_->outputs.find(id);
  return found == impl_->outputs.end() ? nullptr : found->second;
}

std::shared_ptr<SimInput> SimHub::input(const std::string& id) const {
  auto found = impl_->inputs.find(id);
  return found == impl_->inputs.end() ? nullptr : found->second;
}

void SimHub::declare_hardware(DeviceClass device_class, const std::string& id, std::string what) {
  const bool simulated = device_class == DeviceClass::kReader   ? impl_->readers.count(id) != 0
                         : device_class == DeviceClass::kOutput ? impl_->outputs.count(id) != 0
                                                                : impl_->inputs.count(id) != 0;
  if (simulated) throw std::invalid_argument("'" + id + "' is a simulated device");
  impl_->hardware[device_class][id] = std::move(what);
}

void SimHub::add_command(std::string name, CommandHandler handler) {
  if (!valid_name(name)) throw std::invalid_argument("sim command name must be a non-empty word");
  if (is_builtin(name) || impl_->extra_commands.count(name) != 0) {
    throw std::invalid_argument("sim command '" + name + "' already exists");
  }
  if (!handler) throw std::invalid_argument("sim command '" + name + "' has no handler");
  impl_->extra_commands.emplace(std::move(name), std::move(handler));
}

void SimHub::listen(const std::string& socket_path) {
  if (impl_->acceptor) throw std::logic_error("sim hub already listening");
  remove_stale_socket(socket_path);
  auto acceptor = std::make_unique<Local::acceptor>(impl_->io);
  const Local::endpoint endpoint(socket_path);
  acceptor->open(endpoint.protocol());
  // On Linux the socket file takes the socket inode's mode, so it is never created wider.
  if (::fchmod(acceptor->native_handle(), 0600) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot set socket mode");
  }
  acceptor->bind(endpoint);
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    const int err = errno;
    ::unlink(socket_path.c_str());
    throw std::system_error(err, std::generic_category(), "cannot chmod " + socket_path);
  }
  acceptor->listen(asio::socket_base::max_listen_connections);
  impl_->acceptor = std::move(acceptor);
  impl_->path = socket_path;
  spdlog::info("sim hub: listening on {}", socket_path);
  impl_->accept_next();
}

void SimHub::close() {
  impl_->close();
}

const std::string& SimHub::socket_path() const {
  return impl_->path;
}

bool SimHub::acknowledge(const std::string& reader_id, const std::string& reply_line) {
  auto found = impl_->pending.find(reader_id);
  if (found == impl_->pending.end() || found->second.empty()) return false;
  return impl_->complete(reader_id, found->second.begin(),
                         reply_line.empty() ? "ok" : "ok " + reply_line);
}

bool SimHub::acknowledge(const ReaderEvent& event, const std::string& reply_line) {
  if (event.kind != ReaderEvent::Kind::kCardPresent) return false;
  auto found = impl_->pending.find(event.reader_id);
  if (found == impl_->pending.end()) return false;
  auto& queue = found->second;
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->at == event.at) {
      return impl_->complete(event.reader_id, it, reply_line.empty() ? "ok" : "ok " + reply_line);
    }
  }
  return false;
}

std::vector<std::uint64_t> SimHub::pending(const std::string& reader_id) const {
  std::vector<std::uint64_t> out;
  auto found = impl_->pending.find(reader_id);
  if (found == impl_->pending.end()) return out;
  for (const auto& p : found->second) out.push_back(p.correlation);
  return out;
}

std::size_t SimHub::client_count() const {
  return impl_->sessions.size();
}

}  // namespace labgate::drivers::sim
