#include "labgate/drivers/desfire/site_keys.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "labgate/drivers/devices.hpp"

namespace labgate::drivers::desfire {

const KeyVersion* SiteKeys::find(std::uint8_t number) const {
  auto it = std::find_if(versions.begin(), versions.end(),
                         [&](const KeyVersion& v) { return v.number == number; });
  return it == versions.end() ? nullptr : &*it;
}

const KeyVersion* SiteKeys::current() const {
  auto it = std::max_element(
      versions.begin(), versions.end(),
      [](const KeyVersion& a, const KeyVersion& b) { return a.number < b.number; });
  return it == versions.end() ? nullptr : &*it;
}

std::string fingerprint(const AesKey& key) {
  // The label keeps this hash from matching any other use of the key.
  constexpr std::string_view label = "labgate key fingerprint v1";
  std::array<std::uint8_t, 32> digest{};
  unsigned len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, label.data(), label.size()) == 1 &&
                  EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw DiversifyError("SHA-256 failed");
  return to_hex(std::vector<std::uint8_t>(digest.begin(), digest.begin() + 8));
}

}  // namespace labgate::drivers::desfire
