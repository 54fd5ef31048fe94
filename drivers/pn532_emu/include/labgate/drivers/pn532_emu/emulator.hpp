#pragma once
// An emulated PN532 on a pseudo-terminal, for tests and bench rigs. libnfc opens it with the
// connstring "pn532_uart:<link>". A line-based control channel places and removes cards and
// injects faults:
//   place <classic|ultralight|desfire|felica> <hex uid> [atqa=HEX] [sak=HEX] [ats=HEX]
//         [pmm=HEX] [sys=HEX] [baud=212|424|both] [tap=MS]
//         DESFire only: [random_uid=0|1] [picc=des|aes] [clone=1] [fresh=1]
//   (a DESFire card is remembered by UID for the whole run: placing the same UID again brings
//    back the same card with its keys and files, reply "ok placed remembered"; clone=1 places
//    a factory-fresh card with that UID that is not remembered, reply "ok placed clone";
//    fresh=1 forgets the remembered card and places a factory-fresh one, reply "ok placed";
//    with --cards DIR a card another emulator left there is remembered too)
//   remove | hold | status
//   (status: "ok card=<kind:uid|none> fault=.. delay=.. pty=.. frames=N bad=N acks=N
//    responses=N empty_polls=N"; empty_polls counts "no target" poll answers since the last
//    place/remove, so empty_polls > 0 after a remove means the host has seen the empty field)
//   fault garbage|drop|badchecksum|stall <ms>|unplug|replug|none
//   fault leave <n>   the card leaves the field after n more InDataExchange exchanges
//   fault badmac      the next DESFire answer carrying a CMAC carries a wrong one
//   fault nomac       the next DESFire answer carrying a CMAC comes without it (libfreefare
//                     0.4.0 abort()s on that: "No room for CMAC!")
//   fault longread <bytes>  the next DESFire ReadData answer is that many bytes longer than
//                     asked (libfreefare 0.4.0 writes them all into the caller's buffer)
//   fault slow <ms>   answers to card exchanges come ms late (until "fault none")
//   delay on|off
// Every reply is one line starting with "ok" or "error".

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace labgate::drivers::pn532_emu {

/// How to run an emulator.
struct EmulatorOptions {
  std::string link_path;     ///< symlink created to the pty slave; may be empty; must not hold ':'
  std::string control_path;  ///< Unix socket for line commands; empty: in-process execute() only
  /// Pace the line at 115200 baud (86.8 us per byte): responses are written byte by byte on
  /// that schedule, and host bytes are taken in only after their own time on the wire.
  bool byte_delay{false};
  /// Directory where DESFire cards are kept between emulators (one file per UID, written as the
  /// card leaves the field, read when that UID is placed); empty: only for this run.
  std::string cards_dir;
};

/// Counters for tests and the status command.
struct EmulatorStats {
  std::uint64_t frames{0};          ///< well-formed host command frames
  std::uint64_t bad_frames{0};      ///< host frames with bad length, checksum or postamble
  std::uint64_t host_acks{0};       ///< host ACKs (aborts)
  std::uint64_t responses{0};       ///< response frames written
  std::uint64_t faults_applied{0};  ///< responses garbled, dropped or corrupted on purpose
  std::uint64_t bytes_in{0};        ///< bytes read from the host
  std::uint64_t bytes_out{0};       ///< bytes written to the host
};

/// The emulator: owns the pty, the control socket and one I/O thread.
class Emulator {
 public:
  /// Prepares an emulator; nothing is opened before start().
  explicit Emulator(EmulatorOptions options);
  /// Stops the I/O thread and removes the link and the socket.
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  /// Opens the pty (raw mode, a slave fd kept open), the link and the control socket, and starts
  /// the I/O thread. False with `error` set on failure.
  bool start(std::string& error);
  /// Stops the thread and closes everything; idempotent.
  void stop();
  /// Runs one control command (same grammar as the socket) and returns its reply line.
  std::string execute(const std::string& line);
  /// Path of the current pty slave ("/dev/pts/N"), empty while unplugged.
  std::string slave_path() const;
  /// The libnfc connstring: "pn532_uart:" + link path (or slave path when there is no link).
  std::string connstring() const;
  /// Snapshot of the counters.
  EmulatorStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::drivers::pn532_emu
