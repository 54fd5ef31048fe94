#include "labgate/gateway/store/statement_body.hpp"

#include <fmt/format.h>
#include <zstd.h>

#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::store {

namespace {

// zstd's fastest regular level: a 50 kB body compresses about nine to one at over 1 GB/s, so
// issuing spends a fraction of what rendering the JSON costs; higher levels gain a few per cent.
constexpr int kLevel = 1;
// A body is one member's month: 100 lines are about 50 kB. A frame that claims more than this is
// damaged, not a statement, and is not expanded.
constexpr unsigned long long kMaxBody = 1ULL << 30;

Error damaged(std::string_view why) {
  return Error{ErrorKind::kUnavailable, 0,
               fmt::format("a stored statement body is damaged ({}): restore the database from "
                           "a backup",
                           why)};
}

}  // namespace

BodyPacker::BodyPacker() : ctx_(ZSTD_createCCtx()) {}

BodyPacker::~BodyPacker() {
  ZSTD_freeCCtx(ctx_);
}

Result<PackedBody> BodyPacker::pack(std::string_view json) {
  if (ctx_ == nullptr) return Error{ErrorKind::kInternal, 0, "zstd: out of memory"};
  PackedBody out;
  out.sha256 = sha256_hex(json);
  out.bytes.resize(ZSTD_compressBound(json.size()));
  const std::size_t n =
      ZSTD_compressCCtx(ctx_, out.bytes.data(), out.bytes.size(), json.data(), json.size(), kLevel);
  if (ZSTD_isError(n) != 0) {
    return Error{ErrorKind::kInternal, 0, fmt::format("zstd: {}", ZSTD_getErrorName(n))};
  }
  out.bytes.resize(n);
  return out;
}

Result<std::string> unpack_body(std::string_view encoding, std::string_view bytes,
                                std::string_view sha256) {
  std::string json;
  if (encoding == "identity") {
    json.assign(bytes);
  } else if (encoding == "zstd") {
    const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
      return damaged("not a zstd frame of known size");
    }
    if (size > kMaxBody) return damaged(fmt::format("claims {} bytes", size));
    json.resize(static_cast<std::size_t>(size));
    const std::size_t n = ZSTD_decompress(json.data(), json.size(), bytes.data(), bytes.size());
    if (ZSTD_isError(n) != 0) return damaged(ZSTD_getErrorName(n));
    if (n != json.size()) return damaged("shorter than its frame says");
  } else {
    return Error{ErrorKind::kInvalid, 0,
                 fmt::format("unknown statement body encoding '{}'", encoding)};
  }
  if (sha256_hex(json) != sha256) return damaged("its sha256 differs from the statement's");
  return json;
}

}  // namespace labgate::gateway::store
