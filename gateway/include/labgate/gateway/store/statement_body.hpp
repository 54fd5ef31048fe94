#pragma once
// How an issued statement's body is kept: its JSON, compressed once when it is issued. The bytes
// a member downloads and the sha256 the statement row names are those of the JSON itself; the
// compression is the store's business only (a month of 10^6 lines is about 500 MB of JSON that
// repeats its keys on every line, and about a ninth of that compressed).

#include <cstdint>
#include <string>
#include <string_view>

#include "labgate/gateway/store/result.hpp"

struct ZSTD_CCtx_s;

namespace labgate::gateway::store {

/// A statement body ready for BillingLedger::put_statement_body.
struct PackedBody {
  std::string sha256;  ///< lowercase hex SHA-256 of the JSON (not of `bytes`)
  std::string bytes;   ///< the JSON as one zstd frame
};

/// Compresses statement bodies. Keeps its compression context between calls, so a thread that
/// packs many bodies makes one and reuses it; not to be shared between threads.
class BodyPacker {
 public:
  BodyPacker();
  ~BodyPacker();
  BodyPacker(const BodyPacker&) = delete;
  BodyPacker& operator=(const BodyPacker&) = delete;

  /// The digest and compressed bytes of `json`; kInternal only if zstd fails (out of memory).
  Result<PackedBody> pack(std::string_view json);

 private:
  ZSTD_CCtx_s* ctx_;
};

/// The JSON of a stored body: `encoding` as the statement_bodies row names it ("zstd" or
/// "identity"), checked against `sha256`. kUnavailable when the bytes do not expand, or expand to
/// something else than the digest says (a damaged file); kInvalid for an unknown encoding.
Result<std::string> unpack_body(std::string_view encoding, std::string_view bytes,
                                std::string_view sha256);

}  // namespace labgate::gateway::store
