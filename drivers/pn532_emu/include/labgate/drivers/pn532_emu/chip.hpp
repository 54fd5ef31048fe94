#pragma once
// The PN532 command set as NXP's user manual (UM0701-02) specifies it, with emulated cards in the
// field. No I/O and no threads: the caller feeds decoded command frames and the current time and
// writes the returned bytes to the wire.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "labgate/drivers/pn532_emu/desfire_card.hpp"

namespace labgate::drivers::pn532_emu {

/// Monotonic clock of the emulator.
using EmuClock = std::chrono::steady_clock;

/// Kind of emulated card.
enum class CardKind {
  kMifareClassic,  ///< ISO14443A, SAK 08, ATQA 00 04
  kUltralight,     ///< ISO14443A, SAK 00, ATQA 00 44 (Ultralight / NTAG)
  kDesfire,        ///< ISO14443-4A, SAK 20, ATQA 03 44, with ATS
  kFelica,         ///< FeliCa at 212 and/or 424 kbps
};

/// Stable name used by the control protocol ("classic", "ultralight", "desfire", "felica").
const char* to_string(CardKind k);

/// A card the emulator can put in the field.
struct EmuCard {
  CardKind kind{CardKind::kMifareClassic};
  std::vector<std::uint8_t> uid;  ///< NFCID1 (4, 7 or 10 bytes) or FeliCa IDm (8 bytes)
  std::array<std::uint8_t, 2> atqa{0x00, 0x04};  ///< SENS_RES as the PN532 reports it
  std::uint8_t sak{0x08};                        ///< SEL_RES
  std::vector<std::uint8_t> ats;                 ///< ATS without its length byte (ISO14443-4 only)
  std::vector<std::uint8_t> pmm;                 ///< FeliCa PMm, 8 bytes
  std::uint16_t system_code{0x0003};             ///< FeliCa system code
  bool felica_212{true};                         ///< answers polling at 212 kbps
  bool felica_424{true};                         ///< answers polling at 424 kbps
  /// The DESFire EV1 card model (kDesfire only). Shared so that the emulator can keep a card's
  /// keys and files across remove/place of the same card.
  std::shared_ptr<DesfireCard> desfire;
};

/// Builds a card from the control protocol's words: type name, hex identifier and key=value options
/// (atqa=0344 sak=20 ats=... pmm=... sys=0003 baud=212|424|both; DESFire: random_uid=0|1,
/// picc=des|aes). A DESFire card comes factory-fresh. nullopt with `error` set when the type,
/// identifier length or an option is invalid. tap=, clone= and fresh= are the emulator's.
std::optional<EmuCard> make_card(const std::string& type, const std::string& hex_uid,
                                 const std::map<std::string, std::string>& options,
                                 std::string& error);

/// PN532 command codes the emulator knows.
namespace cmd {
inline constexpr std::uint8_t kDiagnose = 0x00;
inline constexpr std::uint8_t kGetFirmwareVersion = 0x02;
inline constexpr std::uint8_t kGetGeneralStatus = 0x04;
inline constexpr std::uint8_t kReadRegister = 0x06;
inline constexpr std::uint8_t kWriteRegister = 0x08;
inline constexpr std::uint8_t kSetParameters = 0x12;
inline constexpr std::uint8_t kSamConfiguration = 0x14;
inline constexpr std::uint8_t kPowerDown = 0x16;
inline constexpr std::uint8_t kRfConfiguration = 0x32;
inline constexpr std::uint8_t kInDataExchange = 0x40;
inline constexpr std::uint8_t kInCommunicateThru = 0x42;
inline constexpr std::uint8_t kInDeselect = 0x44;
inline constexpr std::uint8_t kInListPassiveTarget = 0x4A;
inline constexpr std::uint8_t kInRelease = 0x52;
inline constexpr std::uint8_t kInSelect = 0x54;
inline constexpr std::uint8_t kInAutoPoll = 0x60;
}  // namespace cmd

/// What the chip does with one command frame.
struct ChipReply {
  bool known{true};  ///< false: answer with the syntax error frame
  /// Response data (response code first, TFI excluded); nullopt while the command is deferred.
  std::optional<std::vector<std::uint8_t>> data;
};

/// The emulated chip: configuration registers, RF state, the card in the field, a deferred command.
class Chip {
 public:
  Chip();

  /// Handles one host command (PD0 = command code). The caller has already sent the ACK.
  ChipReply on_command(std::span<const std::uint8_t> command, EmuClock::time_point now);
  /// A host ACK aborts the pending (deferred) command, as on the real chip.
  void abort_pending();
  /// Answers the deferred command if it can be answered now (a card arrived, or an InAutoPoll
  /// period ran out). Returns its response data, or nullopt.
  std::optional<std::vector<std::uint8_t>> poll(EmuClock::time_point now);
  /// When the deferred command must be answered at the latest; nullopt when none or unbounded.
  std::optional<EmuClock::time_point> pending_deadline() const;
  /// Whether a command is deferred.
  bool has_pending() const { return pending_.has_value(); }

  /// Puts a card in the field, replacing any card there.
  void place(EmuCard card);
  /// Takes the card out of the field.
  void remove();
  /// The card in the field, if any.
  const std::optional<EmuCard>& card() const { return card_; }
  /// Whether the chip is in power-down (woken by the next frame).
  bool powered_down() const { return powered_down_; }
  /// Fault: after `n` more InDataExchange exchanges with the card, the card leaves the field (the
  /// next exchange times out as on a real chip). nullopt clears it.
  void leave_after(std::optional<unsigned> n) { leave_after_ = n; }
  /// Value of a register from the register map (0 when never written).
  std::uint8_t reg(std::uint16_t address) const;

 private:
  struct Pending {
    std::uint8_t command{0};
    std::vector<std::uint8_t> types;  // InAutoPoll target types, or {BrTy} for InListPassiveTarget
    std::vector<std::uint8_t> initiator_data;
    std::optional<EmuClock::time_point> deadline;
  };

  std::vector<std::uint8_t> diagnose(std::span<const std::uint8_t> c) const;
  std::vector<std::uint8_t> read_registers(std::span<const std::uint8_t> c) const;
  std::vector<std::uint8_t> write_registers(std::span<const std::uint8_t> c);
  ChipReply list_passive(std::span<const std::uint8_t> c, EmuClock::time_point now);
  ChipReply auto_poll(std::span<const std::uint8_t> c, EmuClock::time_point now);
  std::vector<std::uint8_t> exchange(std::uint8_t response_code,
                                     std::span<const std::uint8_t> payload);
  // Target data (Tg first) when the card in the field answers this baud/type; else nullopt.
  std::optional<std::vector<std::uint8_t>> target_for_list(
      std::uint8_t brty, std::span<const std::uint8_t> init) const;
  std::optional<std::vector<std::uint8_t>> target_for_autopoll(std::uint8_t type) const;
  std::vector<std::uint8_t> type_a_target_data(bool with_ats) const;
  std::vector<std::uint8_t> felica_target_data(std::span<const std::uint8_t> init) const;
  std::optional<std::vector<std::uint8_t>> card_answer(std::span<const std::uint8_t> frame,
                                                       bool raw);
  const std::vector<std::uint8_t>& anticollision_uid() const;
  void activated();

  std::map<std::uint16_t, std::uint8_t> registers_;
  std::optional<EmuCard> card_;
  std::optional<Pending> pending_;
  bool selected_{false};  // a target was activated by InListPassiveTarget/InAutoPoll
  bool rf_on_{false};
  bool powered_down_{false};
  std::uint8_t parameters_{0};
  std::uint8_t retries_passive_{0xFF};  // MxRtyPassiveActivation
  std::uint8_t desfire_block_{0};       // ISO14443-4 block number toggle
  std::optional<unsigned> leave_after_;
};

}  // namespace labgate::drivers::pn532_emu
