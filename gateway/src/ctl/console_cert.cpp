// A self-signed certificate for the web console, through OpenSSL 3's EVP and X509 APIs. The
// private key goes from OpenSSL's memory BIO straight to its 0600 file and is cleansed after.
#include "console_cert.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>

#include "commands.hpp"
#include "labgate/gateway/files/files.hpp"

namespace labgate::gateway::ctl {

namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void openssl_failed(const char* what) {
  throw Failure{kExitUnavailable, fmt::format("cannot make the console certificate: {}", what)};
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) openssl_failed("an extension");
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool is_ip(const std::string& host) {
  std::array<unsigned char, 16> buf{};
  return ::inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

// A DNS name safe to put in subjectAltName's config syntax (no ',' or ':' tricks).
bool plain_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> listen_host(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return std::nullopt;
  std::string host = listen.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

void write_self_signed(const std::filesystem::path& cert_path,
                       const std::filesystem::path& key_path, const std::string& gateway,
                       const std::string& host, bool force) {
  for (const auto& p : {cert_path, key_path}) {
    struct stat st {};
    if (!force && ::lstat(p.c_str(), &st) == 0) {
      throw Failure{kExitRefused,
                    fmt::format("{} exists; not overwritten (--force replaces it)", p.string())};
    }
  }
  Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) openssl_failed("key generation");
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) openssl_failed("X509_new");
  Bignum serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    openssl_failed("the serial number");
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 825L * 24 * 3600) ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    openssl_failed("the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = "labgate console " + gateway;
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    openssl_failed("the name");
  }
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (plain_dns_name(gateway)) san += ",DNS:" + gateway;
  std::array<char, 256> hostname{};
  if (::gethostname(hostname.data(), hostname.size() - 1) == 0 && plain_dns_name(hostname.data()) &&
      hostname.data() != gateway) {
    san += ",DNS:" + std::string(hostname.data());
  }
  if (is_ip(host) && host != "0.0.0.0" && host != "::" && !is_loopback_host(host)) {
    san += ",IP:" + host;
  } else if (!is_ip(host) && plain_dns_name(host) && host != "localhost") {
    san += ",DNS:" + host;
  }
  add_extension(cert.get(), NID_subject_alt_name, san);
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) openssl_failed("signing");

  Bio cert_bio(BIO_new(BIO_s_mem()));
  Bio key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    openssl_failed("PEM output");
  }
  std::string key_pem = bio_text(key_bio.get());
  const auto key_written = files::write_atomically(
      key_path, key_pem, {.mode = 0600, .group = std::nullopt, .replace = force});
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (key_written.exists) {
    throw Failure{kExitRefused, fmt::format("{} exists; not overwritten (--force replaces it)",
                                            key_path.string())};
  }
  if (key_written.error) throw Failure{kExitUnavailable, *key_written.error};
  // labgate-console runs as the labgate user: the key is that user's alone.
  if (::geteuid() == 0) {
    if (const struct passwd* pw = ::getpwnam("labgate"); pw != nullptr) {
      if (::chown(key_path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw Failure{kExitUnavailable,
                      fmt::format("cannot give {} to the labgate user", key_path.string())};
      }
    }
  }
  const auto cert_written = files::write_atomically(
      cert_path, bio_text(cert_bio.get()), {.mode = 0644, .group = std::nullopt, .replace = force});
  if (cert_written.exists) {
    throw Failure{kExitRefused, fmt::format("{} exists; not overwritten (--force replaces it)",
                                            cert_path.string())};
  }
  if (cert_written.error) throw Failure{kExitUnavailable, *cert_written.error};
}

}  // namespace labgate::gateway::ctl
