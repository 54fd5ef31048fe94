// libFuzzer target: arbitrary host bytes through the frame decoder and the emulated chip.
#include <cstddef>
#include <cstdint>

#include "labgate/drivers/pn532_emu/chip.hpp"
#include "labgate/drivers/pn532_emu/frame.hpp"

using namespace labgate::drivers::pn532_emu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)decode_frame({data, size});
  FrameDecoder decoder;
  Chip chip;
  std::string err;
  if (size > 0 && (data[0] & 1)) {
    if (auto card = make_card((data[0] & 2) ? "felica" : "desfire",
                              (data[0] & 2) ? "0102030405060708" : "04112233445566", {}, err)) {
      chip.place(*card);
    }
  }
  // Feed in two uneven chunks so partial frames are exercised too.
  const std::size_t half = size / 3;
  decoder.feed({data, half});
  auto now = EmuClock::now();
  for (int pass = 0; pass < 2; ++pass) {
    for (;;) {
      DecodeResult r = decoder.next();
      if (r.status == DecodeStatus::kNeedMore && r.consumed == 0) break;
      if (r.status == DecodeStatus::kFrame) {
        ChipReply reply = chip.on_command(r.data, now);
        if (reply.data) (void)encode_frame(kTfiChipToHost, *reply.data);
        now += std::chrono::milliseconds(100);
        (void)chip.poll(now);
      } else if (r.status == DecodeStatus::kAck) {
        chip.abort_pending();
      }
      if (decoder.buffered() == 0) break;
    }
    decoder.feed({data + half, size - half});
  }
  return 0;
}
