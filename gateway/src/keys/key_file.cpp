#include "labgate/gateway/keys/key_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/files/files.hpp"

namespace labgate::gateway::keys {
namespace {

using drivers::desfire::AesKey;

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

bool valid_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  const int month = std::stoi(s.substr(5, 2));
  const int day = std::stoi(s.substr(8, 2));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

std::optional<AesKey> key_of(const toml::table& t, const char* name, std::string& error,
                             const std::string& where) {
  auto text = t[name].value<std::string>();
  if (!text) {
    error = where + ": " + name + " is missing";
    return std::nullopt;
  }
  auto bytes = drivers::from_hex(*text);
  if (!bytes || bytes->size() != 16) {
    // Never echo the value: it may be a real key with a typo.
    error = where + ": " + name + " must be 32 hex digits (an AES-128 key)";
    return std::nullopt;
  }
  AesKey k{};
  std::copy(bytes->begin(), bytes->end(), k.begin());
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return k;
}

std::string hex(const AesKey& k) {
  return drivers::to_hex(std::vector<std::uint8_t>(k.begin(), k.end()));
}

}  // namespace

const StoredVersion& KeyFile::current() const {
  return *std::max_element(
      versions.begin(), versions.end(),
      [](const StoredVersion& a, const StoredVersion& b) { return a.keys.number < b.keys.number; });
}

const StoredVersion* KeyFile::find(std::uint8_t number) const {
  for (const auto& v : versions)
    if (v.keys.number == number) return &v;
  return nullptr;
}

drivers::desfire::SiteKeys KeyFile::site_keys(drivers::desfire::ApplicationSettings app) const {
  drivers::desfire::SiteKeys out;
  out.application = std::move(app);
  for (const auto& v : versions) out.versions.push_back(v.keys);
  out.picc_master = picc_master;
  return out;
}

policy::Result<KeyFile, std::string> parse_key_file(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    // toml++'s description quotes no source text, only what it expected.
    return std::string("line ") + std::to_string(e.source().begin.line) + ": " +
           std::string(e.description());
  }
  for (const auto& [k, v] : root) {
    if (k.str() != "format" && k.str() != "versions" && k.str() != "picc_master")
      return "unknown key '" + std::string(k.str()) + "'";
  }
  if (root["format"].value<std::int64_t>() != 1)
    return std::string("format must be 1 (a newer labgate wrote this file?)");
  const toml::array* arr = root["versions"].as_array();
  if (!arr || arr->empty()) return std::string("no [[versions]]: the file holds no keys");
  if (arr->size() > 255) return std::string("more than 255 key versions");
  KeyFile file;
  if (root.contains("picc_master")) {
    std::string error;
    auto picc = key_of(root, "picc_master", error, "top level");
    if (!picc) return error;
    file.picc_master = *picc;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string where = "versions[" + std::to_string(i) + "]";
    const toml::table* t = (*arr)[i].as_table();
    if (!t) return where + ": not a table";
    for (const auto& [k, v] : *t) {
      static constexpr std::string_view known[] = {"number",     "created", "accept_until",
                                                   "app_master", "read",    "credential_mac"};
      if (std::find(std::begin(known), std::end(known), k.str()) == std::end(known))
        return where + ": unknown key '" + std::string(k.str()) + "'";
    }
    StoredVersion v;
    auto number = (*t)["number"].value<std::int64_t>();
    if (!number || *number < 1 || *number > 255) return where + ": number must be 1..255";
    v.keys.number = static_cast<std::uint8_t>(*number);
    if (file.find(v.keys.number))
      return where + ": version " + std::to_string(*number) + " appears twice";
    std::string error;
    auto am = key_of(*t, "app_master", error, where);
    auto rd = key_of(*t, "read", error, where);
    auto mac = key_of(*t, "credential_mac", error, where);
    if (!am || !rd || !mac) return error;
    v.keys.app_master = *am;
    v.keys.read = *rd;
    v.keys.credential_mac = *mac;
    v.created = (*t)["created"].value_or(std::string{});
    if (!v.created.empty() && !valid_date(v.created)) return where + ": created must be YYYY-MM-DD";
    if (auto until = (*t)["accept_until"].value<std::string>()) {
      if (!valid_date(*until)) return where + ": accept_until must be YYYY-MM-DD";
      v.accept_until = *until;
    }
    file.versions.push_back(std::move(v));
  }
  if (file.current().accept_until)
    return std::string(
        "the current (highest) version has an accept_until date: only retired "
        "versions end");
  return file;
}

std::string render_key_file(const KeyFile& file) {
  std::ostringstream out;
  out << "# labgate DESFire site master keys. SECRET: mode 0600, owned by the daemon user.\n"
         "# Keep an offline backup (see docs/KEYS.md): without this file no card can be read.\n"
         "format = 1\n";
  if (file.picc_master) out << "picc_master = \"" << hex(*file.picc_master) << "\"\n";
  auto sorted = file.versions;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.keys.number < b.keys.number; });
  for (const auto& v : sorted) {
    out << "\n[[versions]]\nnumber = " << int{v.keys.number} << '\n';
    if (!v.created.empty()) out << "created = \"" << v.created << "\"\n";
    if (v.accept_until) out << "accept_until = \"" << *v.accept_until << "\"\n";
    out << "app_master = \"" << hex(v.keys.app_master) << "\"\n"
        << "read = \"" << hex(v.keys.read) << "\"\n"
        << "credential_mac = \"" << hex(v.keys.credential_mac) << "\"\n";
  }
  return out.str();
}

policy::Result<KeyFile, std::string> load_key_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return "key file " + name + " does not exist (create it with `labgatectl keys init`)";
    return "cannot open key file " + name + ": " + std::strerror(err);
  }
  struct stat st {};
  std::string text;
  std::string error;
  if (::fstat(fd, &st) != 0) {
    error = "cannot stat key file " + name + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "key file " + name + " is not a regular file";
  } else if ((st.st_mode & 077) != 0) {
    // Checked on the open descriptor, so the file read is the file judged.
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "key file " + name + " has mode " + mode +
            ": group and others must have no access (chmod 600 " + name + ")";
  } else if (st.st_uid != ::geteuid()) {
    error = "key file " + name + " is owned by uid " + std::to_string(st.st_uid) +
            ", not by the user reading it (uid " + std::to_string(::geteuid()) + ")";
  } else if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    error = "key file " + name + " is too large to be a key file";
  } else {
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got != text.size()) error = "cannot read key file " + name;
  }
  ::close(fd);
  if (!error.empty()) return error;
  auto parsed = parse_key_file(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!parsed) return "key file " + name + ": " + parsed.error();
  return parsed;
}

std::optional<std::string> save_key_file(const std::filesystem::path& path, const KeyFile& file,
                                         bool must_be_new) {
  std::error_code ec;
  if (must_be_new && std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    return "key file " + path.string() + " already exists: refusing to overwrite keys";
  std::string text = render_key_file(file);
  // Without must_be_new the rename replaces; with it, a file that appeared since the check above
  // is not replaced either, so two `keys init` cannot both win.
  auto written =
      files::write_atomically(path, text, {.mode = 0600, .group = {}, .replace = !must_be_new});
  OPENSSL_cleanse(text.data(), text.size());
  if (written.exists)
    return "key file " + path.string() + " already exists: refusing to overwrite keys";
  if (written.error) return "cannot write key file " + path.string() + ": " + *written.error;
  return std::nullopt;
}

StoredVersion generate_version(std::uint8_t number, std::string created) {
  StoredVersion v;
  v.keys.number = number;
  v.created = std::move(created);
  for (AesKey* k : {&v.keys.app_master, &v.keys.read, &v.keys.credential_mac}) {
    if (RAND_bytes(k->data(), static_cast<int>(k->size())) != 1)
      throw std::runtime_error("the random generator failed: no keys were written");
  }
  return v;
}

drivers::desfire::AesKey generate_picc_master() {
  AesKey k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    throw std::runtime_error("the random generator failed: no keys were written");
  return k;
}

}  // namespace labgate::gateway::keys
