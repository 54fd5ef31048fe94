#include "labgate/drivers/pn532_emu/emulator.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "labgate/drivers/pn532_emu/chip.hpp"
#include "labgate/drivers/pn532_emu/frame.hpp"

namespace labgate::drivers::pn532_emu {
namespace {

using Bytes = std::vector<std::uint8_t>;

enum class Fault { kNone, kGarbage, kDrop, kBadChecksum };

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kNone:
      return "none";
    case Fault::kGarbage:
      return "garbage";
    case Fault::kDrop:
      return "drop";
    case Fault::kBadChecksum:
      return "badchecksum";
  }
  return "?";
}

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// One byte on a 115200 baud line: start bit, 8 data bits, stop bit.
constexpr auto kByteTime = std::chrono::nanoseconds(86'806);

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

struct Emulator::Impl {
  explicit Impl(EmulatorOptions o) : options(std::move(o)) {}

  EmulatorOptions options;
  mutable std::mutex mutex;
  Chip chip;
  FrameDecoder decoder;
  EmulatorStats stats;
  Fault fault{Fault::kNone};
  bool byte_delay{false};
  std::optional<EmuClock::time_point> stall_until;
  std::optional<EmuClock::time_point> tap_until;
  std::uint64_t empty_polls{0};  // "no target" answers since the last place/remove
  Bytes last_response;
  std::string slave;
  int master{-1};
  int slave_keep{-1};
  int listen_fd{-1};
  int wake[2]{-1, -1};
  std::map<int, std::string> clients;  // fd -> partial line
  std::thread thread;
  bool running{false};
  std::mt19937 rng{0x5eed};
  // DESFire cards seen in this run, by UID hex: placing the same UID again brings the same card
  // (keys, applications, files) back, as a member tapping their issued card again.
  std::map<std::string, std::shared_ptr<DesfireCard>> desfire_cards;

  // With --cards, the DESFire card in the field (not a clone) is written to the directory as it
  // leaves it, so another emulator placing the same UID brings back the same card.
  void keep_desfire() {
    const auto& c = chip.card();
    if (options.cards_dir.empty() || !c || !c->desfire) return;
    const std::string key = fmt::format("{:02x}", fmt::join(c->uid, ""));
    auto it = desfire_cards.find(key);
    if (it == desfire_cards.end() || it->second != c->desfire) return;
    const std::string path = options.cards_dir + "/" + key + ".card";
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << c->desfire->save();
      if (!out) {
        spdlog::warn("pn532-emu: cannot write {}", tmp);
        return;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) spdlog::warn("pn532-emu: cannot write {}: {}", path, ec.message());
  }
  // The card of that UID another emulator left in --cards, if any.
  std::shared_ptr<DesfireCard> kept_desfire(const std::string& key) {
    if (options.cards_dir.empty()) return nullptr;
    std::ifstream in(options.cards_dir + "/" + key + ".card");
    if (!in) return nullptr;
    std::stringstream text;
    text << in.rdbuf();
    auto card = DesfireCard::load(text.str());
    if (!card) {
      spdlog::warn("pn532-emu: {}/{}.card is malformed; placing a factory-fresh card",
                   options.cards_dir, key);
      return nullptr;
    }
    return std::make_shared<DesfireCard>(std::move(*card));
  }
  std::chrono::milliseconds card_delay{0};  // fault slow: answers from the card come late
  std::optional<std::pair<EmuClock::time_point, Bytes>> delayed;  // a late card answer

  // --- pty -------------------------------------------------------------------------------------
  bool open_pty(std::string& error) {
    int m = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || ::grantpt(m) != 0 || ::unlockpt(m) != 0) {
      error = std::string("posix_openpt: ") + std::strerror(errno);
      if (m >= 0) ::close(m);
      return false;
    }
    char name[128];
    if (::ptsname_r(m, name, sizeof name) != 0) {
      error = std::string("ptsname_r: ") + std::strerror(errno);
      ::close(m);
      return false;
    }
    // Keeping a slave fd open stops the master from reading EIO whenever libnfc closes the port.
    int s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
      error = std::string("open ") + name + ": " + std::strerror(errno);
      ::close(m);
      return false;
    }
    termios t{};
    if (::tcgetattr(s, &t) == 0) {
      ::cfmakeraw(&t);
      ::cfsetispeed(&t, B115200);
      ::cfsetospeed(&t, B115200);
      ::tcsetattr(s, TCSANOW, &t);
    }
    ::fcntl(m, F_SETFL, ::fcntl(m, F_GETFL) | O_NONBLOCK);
    master = m;
    slave_keep = s;
    slave = name;
    decoder.clear();
    return true;
  }

  void close_pty() {
    close_fd(master);
    close_fd(slave_keep);
    slave.clear();
    decoder.clear();
    chip.abort_pending();
  }

  bool point_link(std::string& error) {
    if (options.link_path.empty()) return true;
    // Replace the link atomically so a reader reopening it never sees it missing.
    const std::string tmp = options.link_path + ".new";
    ::unlink(tmp.c_str());
    if (::symlink(slave.c_str(), tmp.c_str()) != 0 ||
        ::rename(tmp.c_str(), options.link_path.c_str()) != 0) {
      error = "symlink " + options.link_path + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }

  // --- wire --------------------------------------------------------------------------------------
  void write_bytes(const Bytes& bytes) {
    if (master < 0) return;
    if (byte_delay) {
      // Absolute deadlines: sleeping a fixed 87 us per byte would add the timer slack to every
      // byte and run well below 115200 baud.
      auto due = std::chrono::steady_clock::now();
      for (auto b : bytes) {
        if (::write(master, &b, 1) != 1) return;
        ++stats.bytes_out;
        due += kByteTime;
        std::this_thread::sleep_until(due);
      }
      return;
    }
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(master, bytes.data() + off, bytes.size() - off);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        spdlog::warn("pn532-emu: write to pty failed ({}), {} bytes lost", std::strerror(errno),
                     bytes.size() - off);
        return;
      }
      off += static_cast<std::size_t>(n);
      stats.bytes_out += static_cast<std::uint64_t>(n);
    }
  }

  void send_response(Bytes data) {
    Bytes frame = encode_frame(kTfiChipToHost, data);
    switch (fault) {
      case Fault::kNone:
        break;
      case Fault::kDrop:
        ++stats.faults_applied;
        spdlog::warn("pn532-emu: FAULT drop: response {:02x} not sent", data.empty() ? 0 : data[0]);
        return;
      case Fault::kGarbage: {
        ++stats.faults_applied;
        Bytes junk{0x00, 0x00, 0xFF};
        std::uniform_int_distribution<int> len(4, 24), byte(0, 255);
        for (int i = len(rng); i > 0; --i) junk.push_back(static_cast<std::uint8_t>(byte(rng)));
        spdlog::warn("pn532-emu: FAULT garbage instead of response {:02x}: {}",
                     data.empty() ? 0 : data[0], hex_dump(junk));
        write_bytes(junk);
        return;
      }
      case Fault::kBadChecksum:
        ++stats.faults_applied;
        frame[frame.size() - 2] = static_cast<std::uint8_t>(frame[frame.size() - 2] + 1);
        spdlog::warn("pn532-emu: FAULT badchecksum on response {:02x}", data.empty() ? 0 : data[0]);
        break;
    }
    ++stats.responses;
    const bool no_target =
        data.size() == 2 && data[1] == 0x00 &&
        (data[0] == cmd::kInListPassiveTarget + 1 || data[0] == cmd::kInAutoPoll + 1);
    if (no_target) ++empty_polls;
    last_response = frame;
    write_bytes(frame);
  }

  void on_host_bytes(const std::uint8_t* p, std::size_t n, EmuClock::time_point now) {
    decoder.feed({p, n});
    for (;;) {
      DecodeResult r = decoder.next();
      switch (r.status) {
        case DecodeStatus::kNeedMore:
          if (r.consumed == 0 || decoder.buffered() == 0) return;
          continue;
        case DecodeStatus::kAck:
          ++stats.host_acks;
          if (chip.has_pending()) spdlog::info("pn532-emu: host ACK aborts the pending command");
          chip.abort_pending();
          delayed.reset();
          continue;
        case DecodeStatus::kNack:
          spdlog::info("pn532-emu: host NACK, repeating the last response");
          if (!last_response.empty()) write_bytes(last_response);
          continue;
        case DecodeStatus::kErrorFrame:
        case DecodeStatus::kBadLength:
        case DecodeStatus::kBadChecksum:
        case DecodeStatus::kBadPostamble:
          ++stats.bad_frames;
          spdlog::warn("pn532-emu: host frame rejected: {}", to_string(r.status));
          // The real chip stays silent on a corrupt frame; the host times out waiting for the ACK.
          continue;
        case DecodeStatus::kFrame:
          break;
      }
      if (r.tfi != kTfiHostToChip || r.data.empty()) {
        ++stats.bad_frames;
        spdlog::warn("pn532-emu: frame with TFI {:02x} ignored", r.tfi);
        continue;
      }
      ++stats.frames;
      delayed.reset();  // a new command: the host stopped waiting for a late answer
      spdlog::debug("pn532-emu: <- {}", hex_dump(r.data));
      write_bytes(ack_frame());
      ChipReply reply = chip.on_command(r.data, now);
      if (!reply.known) {
        spdlog::info("pn532-emu: command {:02x} answered with the syntax error frame", r.data[0]);
        write_bytes(error_frame());
        continue;
      }
      if (reply.data) {
        spdlog::debug("pn532-emu: -> {}", hex_dump(*reply.data));
        const bool card_exchange =
            r.data[0] == cmd::kInDataExchange || r.data[0] == cmd::kInCommunicateThru;
        if (card_exchange && card_delay.count() > 0) {
          delayed.emplace(now + card_delay, std::move(*reply.data));
        } else {
          send_response(std::move(*reply.data));
        }
      }
    }
  }

  // --- control
  // -------------------------------------------------------------------------------------
  std::string status_line() const {
    std::string s = "ok card=";
    if (chip.card()) {
      s += std::string(to_string(chip.card()->kind)) + ":";
      for (auto b : chip.card()->uid) s += fmt::format("{:02x}", b);
    } else {
      s += "none";
    }
    s += std::string(" fault=") + (stall_until ? "stall" : fault_name(fault));
    s += std::string(" delay=") + (byte_delay ? "on" : "off");
    s += " pty=" + (slave.empty() ? std::string("unplugged") : slave);
    s += fmt::format(" frames={} bad={} acks={} responses={} empty_polls={}", stats.frames,
                     stats.bad_frames, stats.host_acks, stats.responses, empty_polls);
    return s;
  }

  std::string execute_locked(const std::string& line, EmuClock::time_point now) {
    auto w = split_words(line);
    if (w.empty()) return "error empty command";
    const std::string& verb = w[0];
    if (verb == "place") {
      if (w.size() < 3) return "error usage: place <type> <hex uid> [key=value...]";
      std::map<std::string, std::string> opts;
      for (std::size_t i = 3; i < w.size(); ++i) {
        auto eq = w[i].find('=');
        if (eq == std::string::npos) return "error option '" + w[i] + "' is not key=value";
        opts[w[i].substr(0, eq)] = w[i].substr(eq + 1);
      }
      std::string err;
      auto card = make_card(w[1], w[2], opts, err);
      if (!card) return "error " + err;
      tap_until.reset();
      if (auto it = opts.find("tap"); it != opts.end()) {
        char* end = nullptr;
        long ms = std::strtol(it->second.c_str(), &end, 10);
        if (end == it->second.c_str() || *end != '\0' || ms <= 0)
          return "error tap needs milliseconds";
        tap_until = now + std::chrono::milliseconds(ms);
      }
      std::string how;
      if (card->kind == CardKind::kDesfire) {
        const std::string key = fmt::format("{:02x}", fmt::join(card->uid, ""));
        const bool clone = opts.count("clone") && opts["clone"] == "1";
        const bool fresh = opts.count("fresh") && opts["fresh"] == "1";
        auto known = desfire_cards.find(key);
        // The directory holds the newest state: another emulator may have changed the card.
        if (!clone && !fresh) {
          if (auto kept = kept_desfire(key)) {
            desfire_cards[key] = std::move(kept);
            known = desfire_cards.find(key);
          }
        }
        if (clone) {
          // Same UID, none of the keys or files: what a UID cloner produces.
          how = " clone";
        } else if (known != desfire_cards.end() && !fresh) {
          card->desfire = known->second;
          how = " remembered";
        } else {
          desfire_cards[key] = card->desfire;
        }
      }
      keep_desfire();
      spdlog::info("pn532-emu: card placed: {} {}{}", to_string(card->kind), w[2], how);
      chip.place(std::move(*card));
      empty_polls = 0;
      return "ok placed" + how;
    }
    if (verb == "remove") {
      spdlog::info("pn532-emu: card removed");
      keep_desfire();
      chip.remove();
      tap_until.reset();
      empty_polls = 0;
      return "ok removed";
    }
    if (verb == "hold") {
      tap_until.reset();
      return chip.card() ? "ok holding" : "ok no card";
    }
    if (verb == "status") return status_line();
    if (verb == "delay") {
      if (w.size() != 2 || (w[1] != "on" && w[1] != "off")) return "error usage: delay on|off";
      byte_delay = w[1] == "on";
      spdlog::info("pn532-emu: per-byte delay {}", w[1]);
      return "ok delay " + w[1];
    }
    if (verb == "fault") {
      if (w.size() < 2)
        return "error usage: fault garbage|drop|badchecksum|stall <ms>|unplug|replug|leave <n>|"
               "badmac|nomac|longread <bytes>|slow <ms>|none";
      const std::string& f = w[1];
      if (f == "none") {
        fault = Fault::kNone;
        stall_until.reset();
        card_delay = std::chrono::milliseconds(0);
        chip.leave_after(std::nullopt);
        spdlog::warn("pn532-emu: FAULT cleared");
        return "ok fault none";
      }
      if (f == "garbage" || f == "drop" || f == "badchecksum") {
        fault = f == "garbage" ? Fault::kGarbage : f == "drop" ? Fault::kDrop : Fault::kBadChecksum;
        spdlog::warn("pn532-emu: FAULT {} on every response until 'fault none'", f);
        return "ok fault " + f;
      }
      if (f == "longread") {
        char* end = nullptr;
        long n = w.size() == 3 ? std::strtol(w[2].c_str(), &end, 10) : -1;
        if (n <= 0 || end == nullptr || *end != '\0' || n > 65'536)
          return "error usage: fault longread <bytes>";
        if (!chip.card() || !chip.card()->desfire) return "error no DESFire card in the field";
        chip.card()->desfire->oversize_next_read(static_cast<std::size_t>(n));
        spdlog::warn("pn532-emu: FAULT the next DESFire ReadData answer is {} bytes too long", n);
        return "ok fault longread " + w[2];
      }
      if (f == "leave" || f == "slow") {
        char* end = nullptr;
        long n = w.size() == 3 ? std::strtol(w[2].c_str(), &end, 10) : -1;
        if (n < 0 || end == nullptr || *end != '\0' || n > 3'600'000) {
          return f == "leave" ? "error usage: fault leave <exchanges>"
                              : "error usage: fault slow <ms>";
        }
        if (f == "leave") {
          chip.leave_after(static_cast<unsigned>(n));
          spdlog::warn("pn532-emu: FAULT the card leaves the field after {} more exchanges", n);
        } else {
          card_delay = std::chrono::milliseconds(n);
          spdlog::warn("pn532-emu: FAULT card answers {} ms late until 'fault none'", n);
        }
        return "ok fault " + f + " " + w[2];
      }
      if (f == "badmac" || f == "nomac") {
        if (!chip.card() || !chip.card()->desfire) return "error no DESFire card in the field";
        chip.card()->desfire->corrupt_next_mac(f == "badmac" ? DesfireCard::MacFault::kWrong
                                                             : DesfireCard::MacFault::kMissing);
        spdlog::warn("pn532-emu: FAULT the next DESFire CMAC is {}",
                     f == "badmac" ? "wrong" : "left out");
        return "ok fault " + f;
      }
      if (f == "stall") {
        char* end = nullptr;
        long ms = w.size() == 3 ? std::strtol(w[2].c_str(), &end, 10) : -1;
        if (ms <= 0 || end == nullptr || *end != '\0') return "error usage: fault stall <ms>";
        stall_until = now + std::chrono::milliseconds(ms);
        spdlog::warn("pn532-emu: FAULT stall: silent for {} ms", ms);
        return "ok fault stall " + w[2];
      }
      if (f == "unplug") {
        if (master < 0) return "ok already unplugged";
        spdlog::warn("pn532-emu: FAULT unplug: pty {} closed", slave);
        close_pty();
        if (!options.link_path.empty()) ::unlink(options.link_path.c_str());
        return "ok unplugged";
      }
      if (f == "replug") {
        if (master >= 0) return "ok already plugged";
        std::string err;
        if (!open_pty(err) || !point_link(err)) return "error replug: " + err;
        spdlog::warn("pn532-emu: FAULT replug: new pty {}", slave);
        return "ok replugged " + slave;
      }
      return "error unknown fault '" + f + "'";
    }
    return "error unknown command '" + verb + "'";
  }

  void serve_client(int fd) {
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      ::close(fd);
      clients.erase(fd);
      return;
    }
    std::string& pending = clients[fd];
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::string reply = execute_locked(line, EmuClock::now()) + "\n";
      if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) break;
    }
    if (pending.size() > 4096) pending.clear();
  }

  // --- loop
  // ------------------------------------------------------------------------------------------
  void run() {
    std::unique_lock lock(mutex);
    std::uint8_t buf[512];
    while (running) {
      const auto now = EmuClock::now();
      if (stall_until && now >= *stall_until) {
        spdlog::warn("pn532-emu: stall over");
        stall_until.reset();
      }
      if (tap_until && now >= *tap_until) {
        spdlog::info("pn532-emu: tapped card left the field");
        keep_desfire();
        chip.remove();
        tap_until.reset();
        empty_polls = 0;
      }
      if (!stall_until && master >= 0) {
        if (auto d = chip.poll(now)) send_response(std::move(*d));
        if (delayed && now >= delayed->first) {
          Bytes late = std::move(delayed->second);
          delayed.reset();
          send_response(std::move(late));
        }
      }
      std::optional<EmuClock::time_point> wake_at = stall_until;
      auto earliest = [&](std::optional<EmuClock::time_point> t) {
        if (t && (!wake_at || *t < *wake_at)) wake_at = t;
      };
      earliest(tap_until);
      if (!stall_until) earliest(chip.pending_deadline());
      if (!stall_until && delayed) earliest(delayed->first);
      int timeout = -1;
      if (wake_at) {
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now).count();
        timeout = static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
      }
      std::vector<pollfd> fds;
      fds.push_back({wake[0], POLLIN, 0});
      if (listen_fd >= 0) fds.push_back({listen_fd, POLLIN, 0});
      for (auto& [fd, _] : clients) fds.push_back({fd, POLLIN, 0});
      const bool watch_master = master >= 0 && !stall_until;
      if (watch_master) fds.push_back({master, POLLIN, 0});
      lock.unlock();
      int rc = ::poll(fds.data(), fds.size(), timeout);
      lock.lock();
      if (rc < 0 && errno != EINTR) {
        spdlog::error("pn532-emu: poll: {}", std::strerror(errno));
        break;
      }
      for (auto& p : fds) {
        if (!p.revents) continue;
        if (p.fd == wake[0]) {
          while (::read(wake[0], buf, sizeof buf) > 0) {
          }
        } else if (p.fd == listen_fd) {
          int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) clients[c];
        } else if (watch_master && p.fd == master) {
          ssize_t n = ::read(master, buf, sizeof buf);
          if (n > 0) {
            stats.bytes_in += static_cast<std::uint64_t>(n);
            // The pty hands over the host's bytes at once; a UART line delivers the last of
            // them only after every byte's time on the wire.
            if (byte_delay) {
              std::this_thread::sleep_until(std::chrono::steady_clock::now() + n * kByteTime);
            }
            on_host_bytes(buf, static_cast<std::size_t>(n), EmuClock::now());
          }
        } else if (clients.count(p.fd)) {
          serve_client(p.fd);
        }
      }
    }
  }

  void wake_loop() {
    const char c = 1;
    [[maybe_unused]] auto n = ::write(wake[1], &c, 1);
  }
};

Emulator::Emulator(EmulatorOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Emulator::~Emulator() {
  stop();
}

bool Emulator::start(std::string& error) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  if (d.running) return true;
  if (d.options.link_path.find(':') != std::string::npos) {
    error = "the link path must not contain ':' (libnfc splits connstrings on it)";
    return false;
  }
  d.byte_delay = d.options.byte_delay;
  if (::pipe2(d.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  if (!d.open_pty(error) || !d.point_link(error)) {
    d.close_pty();
    close_fd(d.wake[0]);
    close_fd(d.wake[1]);
    return false;
  }
  if (!d.options.control_path.empty()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (d.options.control_path.size() >= sizeof addr.sun_path) {
      error = "control socket path too long";
      return false;
    }
    std::strcpy(addr.sun_path, d.options.control_path.c_str());
    ::unlink(addr.sun_path);
    d.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (d.listen_fd < 0 ||
        ::bind(d.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(d.listen_fd, 8) != 0) {
      error = "control socket " + d.options.control_path + ": " + std::strerror(errno);
      close_fd(d.listen_fd);
      return false;
    }
  }
  d.running = true;
  d.thread = std::thread([&d] { d.run(); });
  spdlog::info("pn532-emu: pty {} link {}", d.slave,
               d.options.link_path.empty() ? "-" : d.options.link_path);
  return true;
}

void Emulator::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mutex);
    if (!d.running) return;
    d.running = false;
    d.wake_loop();
  }
  if (d.thread.joinable()) d.thread.join();
  std::lock_guard lock(d.mutex);
  d.close_pty();
  for (auto& [fd, _] : d.clients) ::close(fd);
  d.clients.clear();
  close_fd(d.listen_fd);
  if (!d.options.control_path.empty()) ::unlink(d.options.control_path.c_str());
  if (!d.options.link_path.empty()) ::unlink(d.options.link_path.c_str());
  close_fd(d.wake[0]);
  close_fd(d.wake[1]);
}

std::string Emulator::execute(const std::string& line) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  std::string reply = d.execute_locked(line, EmuClock::now());
  if (d.running) d.wake_loop();
  return reply;
}

std::string Emulator::slave_path() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->slave;
}

std::string Emulator::connstring() const {
  std::lock_guard lock(impl_->mutex);
  return "pn532_uart:" +
         (impl_->options.link_path.empty() ? impl_->slave : impl_->options.link_path);
}

EmulatorStats Emulator::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace labgate::drivers::pn532_emu
