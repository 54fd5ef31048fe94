#pragma once
// SimHub: owns simulated devices and lets tests, demo scripts and people drive them through a
// line-oriented control socket (a Unix-domain stream socket) served on the daemon's event loop.
//
// Threading: the hub lives on one boost::asio::io_context that a single thread runs (the daemon's
// loop). Every member function must be called on that thread, or before the loop runs. Nothing the
// hub does blocks; every client operation is asynchronous and has a deadline.
//
// Protocol: one command per line (at most kMaxLine bytes before the '\n'; a trailing '\r' is
// ignored), one reply line per command, "ok ..." or "err <reason>". Replies come in command order:
// a client's next line is read only after the previous reply was written. A longer line is answered
// "err line too long" and the connection is closed.
//
//   tap <reader> <tech> <hex>     card enters the field; it leaves again after Options::tap_dwell
//   place <reader> <tech> <hex>   card enters the field and stays
//   remove <reader>               the card leaves the field            -> "ok <reader> removed"
//   input <id> on|off             drive a simulated input              -> "ok <id> on|off"
//   press <id>                    input on, then off (exit button)     -> "ok <id> pressed"
//   output <id>                   -> "ok <id> on|off"
//   outputs                       -> "ok <id>=on|off ..." (every output, sorted by id; "ok" if
//   none) output-fault <id> none|retry|fatal   make SimOutput::set() fail -> "ok <id> fault <kind>"
//   reader-down <reader> [detail...]     simulated failure (kReaderDown) -> "ok <reader> down"
//   reader-up <reader>                   recovery (kReaderUp)            -> "ok <reader> up"
//   help                          -> "ok <command names>"
//
// A device the daemon drives for real (declare_hardware()) is refused by every command above
// with the reason: "err reader front-in is a hardware reader (pn532_uart:/dev/ttyS0): tap drives
// simulated readers only". `outputs` lists simulated outputs only.
//   <name> ...                    a command added with add_command()
//
// <tech> is iso14443a (4, 7 or 10 byte UID), felica (8 byte IDm) or desfire (4 or 7 byte UID);
// <hex> is the identifier in hex, ':' and '-' allowed as separators.
//
// Acknowledged taps. `tap` and `place` do not answer when the event was handed to the reader's
// sink: the client waits until the daemon calls acknowledge() for that read, typically after it
// committed the resulting event to its database, so a test knows the event is durable when the
// reply arrives. Each tap/place gets a correlation number (see pending()), and its kCardPresent
// event carries a timestamp (ReaderEvent::at) that is unique per hub. The client is answered:
//   "ok <reply_line>"        when acknowledged (just "ok" for an empty reply_line);
//   "err timeout"            when nobody acknowledged within Options::ack_timeout;
//   "err reader not started" when the reader has no sink; "err reader down" during reader-down.
// A read stays pending when its client disconnects, so the FIFO order of acknowledge() holds.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/drivers/sim/sim_devices.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace labgate::drivers::sim {

/// Tunables of a SimHub.
struct SimHubOptions {
  /// How long a tap/place waits for acknowledge() before its client gets "err timeout".
  std::chrono::milliseconds ack_timeout{5000};
  /// How long a tapped card stays in the field before it leaves (0 = leaves at once).
  std::chrono::milliseconds tap_dwell{250};
  /// A connected client that sends nothing for this long is disconnected.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  /// A reply that cannot be written within this time (client not reading) drops the client.
  std::chrono::milliseconds write_timeout{5000};
  /// Further connections are answered "err too many clients" and closed.
  std::size_t max_clients{32};
};

/// The three kinds of device the hub's commands drive.
enum class DeviceClass { kReader, kOutput, kInput };

/// Owns simulated readers, outputs and inputs by id and serves the control socket.
class SimHub {
 public:
  /// Longest accepted command line, without its '\n'.
  static constexpr std::size_t kMaxLine = 1024;

  /// Synchronous extension command: gets the words after the command name, returns the reply
  /// line. A reply starting with "ok" or "err" is sent as is, anything else gets "ok " prepended;
  /// line breaks are replaced by spaces; an exception becomes "err <what()>".
  using CommandHandler = std::function<std::string(const std::vector<std::string>& args)>;

  /// A hub whose sockets, timers and handlers run on `io`. Serves nothing until listen().
  explicit SimHub(boost::asio::io_context& io, SimHubOptions options = {});
  /// close()s. Handlers still queued on the io_context afterwards do nothing.
  ~SimHub();
  SimHub(const SimHub&) = delete;
  SimHub& operator=(const SimHub&) = delete;

  /// Creates a reader. Throws std::invalid_argument when the id is empty, contains whitespace
  /// or is taken by another reader.
  std::shared_ptr<SimReader> create_reader(const std::string& id);
  /// Creates an output (off). Throws std::invalid_argument like create_reader().
  std::shared_ptr<SimOutput> create_output(const std::string& id);
  /// Creates an input at level `initial`. Throws std::invalid_argument like create_reader().
  std::shared_ptr<SimInput> create_input(const std::string& id, InputKind kind,
                                         bool initial = false);

  /// Device by id; nullptr when unknown.
  std::shared_ptr<SimReader> reader(const std::string& id) const;
  /// Device by id; nullptr when unknown.
  std::shared_ptr<SimOutput> output(const std::string& id) const;
  /// Device by id; nullptr when unknown.
  std::shared_ptr<SimInput> input(const std::string& id) const;

  /// Records that `id` names a device of the daemon that is not simulated (a hardware reader, a
  /// gpio line, a smart plug), described by `what` ("a hardware reader (pn532_uart:/dev/ttyS0)").
  /// The commands that drive simulated devices refuse it and say why: "err reader <id> is
  /// <what>: tap drives simulated readers only". Throws std::invalid_argument when a simulated
  /// device of that class has this id.
  void declare_hardware(DeviceClass device_class, const std::string& id, std::string what);

  /// Adds a command (run synchronously on the loop). Throws std::invalid_argument when `name`
  /// is empty, contains whitespace, or is a built-in or already added command.
  void add_command(std::string name, CommandHandler handler);

  /// Starts serving at `socket_path`: a stale socket file there is removed first (a path that
  /// is not a socket, or a socket some process still accepts on, is left alone and an error is
  /// thrown); the new socket gets mode 0600. Throws std::system_error on failure, and
  /// std::logic_error when already listening.
  void listen(const std::string& socket_path);
  /// Stops accepting, drops every client (pending taps are forgotten), removes the socket file.
  /// Idempotent. The devices stay.
  void close();
  /// Path given to listen(), empty when not listening.
  const std::string& socket_path() const;

  /// Completes the OLDEST pending tap/place of `reader_id` (FIFO per reader): its client gets
  /// "ok <reply_line>". Returns false when nothing was pending on that reader. Prefer the
  /// overload taking the event: a late call for a read that already timed out would complete
  /// the next read on the same reader here.
  bool acknowledge(const std::string& reader_id, const std::string& reply_line);
  /// Completes exactly the tap/place that produced `event` (matched on reader_id and `at`).
  /// Returns false when the event is not a pending tap/place (not kCardPresent, not from this
  /// hub, already acknowledged or timed out).
  bool acknowledge(const ReaderEvent& event, const std::string& reply_line);

  /// Correlation numbers of the pending taps/places of `reader_id`, oldest first.
  std::vector<std::uint64_t> pending(const std::string& reader_id) const;
  /// Number of connected clients.
  std::size_t client_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace labgate::drivers::sim
