// Unit tests of the PN532 frame codec.
#include <catch2/catch.hpp>

#include "labgate/drivers/pn532_emu/frame.hpp"

using namespace labgate::drivers::pn532_emu;
using Bytes = std::vector<std::uint8_t>;

TEST_CASE("encode_frame builds a normal information frame", "[codec]") {
  const Bytes data{0x02};
  CHECK(encode_frame(kTfiHostToChip, data) ==
        Bytes{0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x2A, 0x00});
  const Bytes fw{0x03, 0x32, 0x01, 0x06, 0x07};
  CHECK(encode_frame(kTfiChipToHost, fw) ==
        Bytes{0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00});
}

TEST_CASE("fixed frames match the user manual", "[codec]") {
  CHECK(ack_frame() == Bytes{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00});
  CHECK(nack_frame() == Bytes{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00});
  CHECK(error_frame() == Bytes{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00});
  CHECK(decode_frame(ack_frame()).status == DecodeStatus::kAck);
  CHECK(decode_frame(ack_frame()).consumed == 6);
  CHECK(decode_frame(nack_frame()).status == DecodeStatus::kNack);
  CHECK(decode_frame(error_frame()).status == DecodeStatus::kErrorFrame);
  CHECK(decode_frame(error_frame()).consumed == 8);
}

TEST_CASE("decode round-trips normal and extended frames", "[codec]") {
  for (std::size_t n : {std::size_t{1}, std::size_t{200}, std::size_t{253}, std::size_t{254},
                        std::size_t{255}, std::size_t{264}}) {
    Bytes data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    const Bytes frame = encode_frame(kTfiChipToHost, data);
    CHECK((frame[3] == 0xFF && frame[4] == 0xFF) == (n + 1 > 254));
    const DecodeResult r = decode_frame(frame);
    REQUIRE(r.status == DecodeStatus::kFrame);
    CHECK(r.consumed == frame.size());
    CHECK(r.tfi == kTfiChipToHost);
    CHECK(r.data == data);
  }
}

TEST_CASE("junk before the start code is skipped", "[codec]") {
  Bytes stream{0x55, 0x55, 0x00, 0x00, 0x00, 0x00, 0x13, 0x55};
  const Bytes frame = encode_frame(kTfiHostToChip, Bytes{0x14, 0x01});
  stream.insert(stream.end(), frame.begin(), frame.end());
  FrameDecoder d;
  d.feed(stream);
  DecodeResult r;
  do {
    r = d.next();
  } while (r.status == DecodeStatus::kNeedMore && r.consumed > 0);
  REQUIRE(r.status == DecodeStatus::kFrame);
  CHECK(r.data == Bytes{0x14, 0x01});
  CHECK(d.buffered() == 0);
}

TEST_CASE("incomplete frames ask for more bytes, byte by byte", "[codec]") {
  const Bytes frame = encode_frame(kTfiHostToChip, Bytes{0x4A, 0x01, 0x00});
  FrameDecoder d;
  for (std::size_t i = 0; i + 1 < frame.size(); ++i) {
    d.feed(std::span(frame).subspan(i, 1));
    CHECK(d.next().status == DecodeStatus::kNeedMore);
  }
  d.feed(std::span(frame).subspan(frame.size() - 1));
  const DecodeResult r = d.next();
  CHECK(r.status == DecodeStatus::kFrame);
  CHECK(r.data == Bytes{0x4A, 0x01, 0x00});
}

TEST_CASE("corrupt frames are reported and the decoder resynchronises", "[codec]") {
  const Bytes good = encode_frame(kTfiHostToChip, Bytes{0x02});
  SECTION("length checksum") {
    Bytes bad = good;
    bad[4] ^= 0x01;
    bad.insert(bad.end(), good.begin(), good.end());
    FrameDecoder d;
    d.feed(bad);
    CHECK(d.next().status == DecodeStatus::kBadLength);
    DecodeResult r;
    do {
      r = d.next();
    } while (r.status == DecodeStatus::kNeedMore && r.consumed > 0);
    CHECK(r.status == DecodeStatus::kFrame);
  }
  SECTION("data checksum") {
    Bytes bad = good;
    bad[bad.size() - 2] ^= 0x40;
    CHECK(decode_frame(bad).status == DecodeStatus::kBadChecksum);
  }
  SECTION("postamble") {
    Bytes bad = good;
    bad.back() = 0x33;
    CHECK(decode_frame(bad).status == DecodeStatus::kBadPostamble);
  }
  SECTION("impossible extended length") {
    // LEN = 0x0200 passes LCS but exceeds the PN532 buffer.
    const Bytes bad{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0xFE, 0xD4, 0x00};
    const DecodeResult r = decode_frame(bad);
    CHECK(r.status == DecodeStatus::kBadLength);
    CHECK(r.consumed == 3);  // the junk 00 in front and the 00 FF start code
  }
}

TEST_CASE("decode never over-reads random input", "[codec]") {
  std::uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    Bytes junk(static_cast<std::size_t>(round % 40));
    for (auto& b : junk) {
      x = x * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(x >> 16);
      if (b % 5 == 0) b = 0x00;
      if (b % 7 == 0) b = 0xFF;
    }
    const DecodeResult r = decode_frame(junk);
    CHECK(r.consumed <= junk.size());
    if (r.status == DecodeStatus::kFrame) CHECK(r.data.size() <= kMaxFrameData);
  }
}
