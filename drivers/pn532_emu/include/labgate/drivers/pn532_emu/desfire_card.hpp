#pragma once
// A MIFARE DESFire EV1 card as NXP specifies it, byte-compatible with libfreefare 0.4.0: native
// commands plain or ISO 7816 wrapped, AES authentication with EV1 CMAC secure messaging, legacy
// DES/2K3DES authentication for the factory PICC master key, applications, keys and standard data
// files in plain, MACed and enciphered communication with their access rights (read, write,
// read&write, change: ChangeFileSettings), SetConfiguration (random ID, format
// disable). No I/O and no clock: the chip feeds it one
// command at a time. Every input, however malformed, gets a status code and never a crash.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace labgate::drivers::pn532_emu {

/// DESFire native status codes (SW2 of an ISO-wrapped answer, whose SW1 is 0x91).
namespace desfire_status {
inline constexpr std::uint8_t kOk = 0x00;
inline constexpr std::uint8_t kOutOfEeprom = 0x0E;
inline constexpr std::uint8_t kIllegalCommand = 0x1C;
inline constexpr std::uint8_t kIntegrityError = 0x1E;
inline constexpr std::uint8_t kNoSuchKey = 0x40;
inline constexpr std::uint8_t kLengthError = 0x7E;
inline constexpr std::uint8_t kPermissionDenied = 0x9D;
inline constexpr std::uint8_t kParameterError = 0x9E;
inline constexpr std::uint8_t kApplicationNotFound = 0xA0;
inline constexpr std::uint8_t kAuthenticationError = 0xAE;
inline constexpr std::uint8_t kAdditionalFrame = 0xAF;
inline constexpr std::uint8_t kBoundaryError = 0xBE;
inline constexpr std::uint8_t kCountError = 0xCE;
inline constexpr std::uint8_t kDuplicateError = 0xDE;
inline constexpr std::uint8_t kFileNotFound = 0xF0;
}  // namespace desfire_status

/// One emulated DESFire EV1 card (4 KB). Its state (keys, applications, files) lives as long as
/// the object, so a card taken out of the field and placed again is the same card.
class DesfireCard {
 public:
  using Bytes = std::vector<std::uint8_t>;

  /// A factory-fresh card: PICC master key DES all zeros, PICC key settings 0x0F (applications
  /// can be created and listed without authentication), no applications. `uid` has 7 bytes.
  /// With `random_uid` the anticollision shows a fresh random 4-byte ID (08 xx xx xx) at every
  /// power-up, and only GetCardUID after authentication reveals `uid`. With `aes_picc_key` the
  /// PICC master key is AES-128 zeros instead of DES.
  DesfireCard(Bytes uid, bool random_uid, bool aes_picc_key);

  /// The card enters the RF field (placed, or the field was switched back on): a random-ID card
  /// draws a new anticollision ID; authentication, selection and pending frames are dropped.
  void power_up();
  /// ISO14443-4 activation (select + RATS): ends any authentication, selects the PICC level
  /// and drops pending frames, as a real card does on every new activation.
  void activate();
  /// The UID the card shows in anticollision now.
  const Bytes& anticollision_uid() const { return random_uid_ ? random_id_ : uid_; }
  /// The card's real 7-byte UID.
  const Bytes& uid() const { return uid_; }
  /// Whether the random-ID option is on.
  bool random_uid() const { return random_uid_; }

  /// Handles one command frame: ISO 7816 wrapped (90 cmd 00 00 [Lc data] 00, answered with
  /// data 91 status) or plain native (cmd data, answered with status data). A malformed
  /// wrapping gets SW 67 00.
  Bytes transceive(std::span<const std::uint8_t> frame);

  /// What the mac faults do to the next answer that carries a CMAC.
  enum class MacFault : std::uint8_t { kNone, kWrong, kMissing };
  /// Fault: the next answer that carries a CMAC carries a wrong one (kWrong) or none at all
  /// (kMissing); the card's own IV stays correct.
  void corrupt_next_mac(MacFault f = MacFault::kWrong) { mac_fault_ = f; }
  /// Fault: the next successful ReadData answer carries `extra` more bytes than asked for, in
  /// further 0xAF frames (libfreefare 0.4.0 copies them all into the caller's buffer).
  void oversize_next_read(std::size_t extra) { oversize_read_ = extra; }
  /// AIDs of the applications on the card, in creation order of their numbers.
  std::vector<std::uint32_t> application_ids() const;

  /// The card's lasting state (UID, random-ID option, keys, applications, files, format
  /// disable) as text, so that another emulator can bring back the same card: a card carried
  /// from one reader to another. Session state is not kept: a card placed again powers up.
  std::string save() const;
  /// A card from save()'s text; nullopt when the text is malformed.
  static std::optional<DesfireCard> load(const std::string& text);

 private:
  enum class KeyType : std::uint8_t { kDes, kAes };
  struct Key {
    std::array<std::uint8_t, 16> value{};
    std::uint8_t version{0};
  };
  struct File {
    std::uint8_t comm{0};
    std::uint16_t access{0xEEEE};
    Bytes data;
  };
  struct Application {
    std::uint8_t settings{0x0F};
    KeyType type{KeyType::kDes};
    std::vector<Key> keys;
    std::map<std::uint8_t, File> files;
  };
  struct Session {
    std::uint8_t key_no{0};
    KeyType type{KeyType::kAes};
    std::array<std::uint8_t, 16> key{};
    std::array<std::uint8_t, 16> iv{};
  };
  struct PendingAuth {
    std::uint8_t key_no{0};
    KeyType type{KeyType::kAes};
    Bytes rnd_b;
    std::array<std::uint8_t, 16> iv{};
  };
  struct PendingWrite {
    std::uint8_t file{0};
    std::size_t offset{0};
    std::size_t length{0};
    std::uint8_t mode{0};
    Bytes header;
    Bytes body;
    std::size_t expected{0};
  };
  struct Answer {
    Bytes data;
    std::uint8_t status{0};
  };

  Answer execute(std::span<const std::uint8_t> c);
  Answer continue_frame(std::span<const std::uint8_t> c);
  Answer fail(std::uint8_t status);
  Bytes with_mac(Bytes payload);
  Answer ok(Bytes payload);
  Answer ok_enciphered(Bytes payload);
  Answer send(Bytes payload, std::uint8_t status);
  void mac_command(std::span<const std::uint8_t> c);
  // Exact length, then the command's CMAC into the session IV; an Answer only on a bad length.
  std::optional<Answer> start(std::span<const std::uint8_t> c, std::size_t size);
  // The master key is authenticated, or the key settings bit lets anyone through.
  bool master_or(const Application& app, std::uint8_t free_bit) const;
  Bytes decipher_command(std::span<const std::uint8_t> ct);
  std::size_t enciphered_length(std::size_t secured) const;
  // The secured bytes of an enciphered command, nullopt when its CRC or padding is wrong.
  std::optional<Bytes> open_enciphered(std::span<const std::uint8_t> c, std::size_t header,
                                       std::size_t secured);
  Application& current();
  bool authenticated_with(std::uint8_t key_no) const;
  std::size_t used_bytes() const;

  Answer get_version(std::span<const std::uint8_t> c);
  Answer select_application(std::span<const std::uint8_t> c);
  Answer authenticate(std::span<const std::uint8_t> c);
  Answer finish_authenticate(std::span<const std::uint8_t> c);
  Answer get_key_settings(std::span<const std::uint8_t> c);
  Answer change_key_settings(std::span<const std::uint8_t> c);
  Answer get_key_version(std::span<const std::uint8_t> c);
  Answer change_key(std::span<const std::uint8_t> c);
  Answer create_application(std::span<const std::uint8_t> c);
  Answer delete_application(std::span<const std::uint8_t> c);
  Answer format_picc(std::span<const std::uint8_t> c);
  Answer get_application_ids(std::span<const std::uint8_t> c);
  Answer free_memory(std::span<const std::uint8_t> c);
  Answer get_file_ids(std::span<const std::uint8_t> c);
  Answer get_file_settings(std::span<const std::uint8_t> c);
  Answer create_std_data_file(std::span<const std::uint8_t> c);
  Answer delete_file(std::span<const std::uint8_t> c);
  Answer change_file_settings(std::span<const std::uint8_t> c);
  Answer read_data(std::span<const std::uint8_t> c);
  Answer write_data(std::span<const std::uint8_t> c);
  Answer finish_write();
  Answer get_card_uid(std::span<const std::uint8_t> c);
  Answer set_configuration(std::span<const std::uint8_t> c);
  // Communication mode for an operation on a file of the selected application guarded by two
  // access-right nibbles; nullopt with `status` set when there is no such file or no right.
  std::optional<std::uint8_t> file_mode(std::uint8_t file_no, int shift_a, int shift_b,
                                        std::uint8_t& status);

  Bytes uid_;
  bool random_uid_{false};
  Bytes random_id_;
  Application picc_;
  std::map<std::uint32_t, Application> apps_;
  std::uint32_t selected_{0};
  std::optional<Session> session_;
  std::optional<PendingAuth> pending_auth_;
  std::optional<PendingWrite> pending_write_;
  std::deque<Answer> queued_;  // further frames of a long answer, sent on 0xAF
  MacFault mac_fault_{MacFault::kNone};
  std::size_t oversize_read_{0};
  bool format_disabled_{false};
};

}  // namespace labgate::drivers::pn532_emu
