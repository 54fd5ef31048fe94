#pragma once
// pn532-emu processes for the suites that run labgated on real libnfc: one emulated PN532 per
// reader, and taps that place a card on the emulator and wait for the daemon's acknowledgement
// of that read (its `read-result` control command), so a test sees the same reply a simulated
// reader's `tap` gives.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process.hpp"

namespace labgate::testing {

/// One pn532-emu process with a pty link and a control socket in a test directory.
class EmulatedReader {
 public:
  /// Starts `binary` (pn532-emu) as "<dir>/pn532-<name>" with its control socket and log in
  /// `dir`, and waits until the control socket answers. Throws std::runtime_error otherwise.
  EmulatedReader(const std::filesystem::path& binary, const std::filesystem::path& dir,
                 const std::string& name, const std::vector<std::string>& extra_args = {});
  /// SIGTERM, then reaps the process.
  ~EmulatedReader();
  EmulatedReader(const EmulatedReader&) = delete;
  EmulatedReader& operator=(const EmulatedReader&) = delete;

  /// One control command ("place classic 04000001", "remove", "fault drop", ...); the reply.
  /// Throws std::runtime_error when the emulator does not answer.
  std::string cmd(const std::string& line);
  /// The libnfc connstring for the config ("pn532_uart:<link>").
  std::string connstring() const { return "pn532_uart:" + link_.string(); }
  /// A counter of the status line ("frames", "empty_polls", ...).
  std::uint64_t counter(const std::string& name);

 private:
  std::filesystem::path link_;
  std::filesystem::path socket_;
  std::unique_ptr<Child> child_;
  std::unique_ptr<LineClient> client_;
};

/// The emulator's "place" arguments for a card written as the simulated readers take it
/// ("iso14443a 04000001" -> "classic 04000001", a 7-byte UID -> "ultralight ...", "felica <idm>",
/// "desfire <uid>"). Throws std::invalid_argument for anything else.
std::string emulator_card(const std::string& tech, const std::string& hex);

/// Sends one line to the daemon's control socket and returns the reply.
using ControlRequest = std::function<std::string(const std::string&)>;

/// Places the card on `emu` and waits until the daemon acknowledged the read on `reader`.
/// Returns "ok <outcome summary>" as the simulated `tap`/`place` reply does ("ok granted front
/// M1 granted seq=7"), "err timeout" when no acknowledgement came within `timeout`, or the
/// daemon's error. Leaves the card on the reader.
std::string place_and_await(const ControlRequest& control, EmulatedReader& emu,
                            const std::string& reader, const std::string& tech,
                            const std::string& hex,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Removes the card from `emu` and waits until the reader polled the empty field. The daemon
/// may not have handled the removal yet; use the overload below where that matters. False
/// when that did not happen within `timeout`.
bool remove_and_await(EmulatedReader& emu,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Removes the card from `emu` and waits until the daemon handled the removal on `reader`
/// (its `read-result` removal count moved), so a clock command sent next acts after it. The
/// daemon must be running with its site up. False when that did not happen within `timeout`.
bool remove_and_await(const ControlRequest& control, EmulatedReader& emu, const std::string& reader,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// A set of emulators, one per reader id, in one directory.
class EmulatedReaders {
 public:
  /// Starts one emulator per id.
  EmulatedReaders(const std::filesystem::path& binary, const std::filesystem::path& dir,
                  const std::vector<std::string>& reader_ids,
                  const std::vector<std::string>& extra_args = {});
  /// The emulator of `reader`; throws std::out_of_range for an unknown id.
  EmulatedReader& at(const std::string& reader) { return *emu_.at(reader); }
  /// Whether `reader` has an emulator.
  bool has(const std::string& reader) const { return emu_.count(reader) != 0; }
  /// labgated arguments pointing every reader at its emulator ("--reader-device id=conn", ...).
  std::vector<std::string> daemon_args() const;

 private:
  std::map<std::string, std::unique_ptr<EmulatedReader>> emu_;
};

}  // namespace labgate::testing
