#include "runtime/identity.hpp"

#include "messages/error.hpp"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace colony {

namespace {

// Protobuf header of libp2p's PrivateKey: field 1 (Type, varint) = 1
// (Ed25519), field 2 (Data, bytes) of length 64.
constexpr std::array<uint8_t, 4> private_key_prefix{0x08, 0x01, 0x12, 0x40};

static_assert(crypto_sign_PUBLICKEYBYTES == 32);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);
static_assert(crypto_sign_BYTES == 64);
static_assert(identity::file_size == private_key_prefix.size() + 64);

// sodium_init is idempotent but picks its RNG implementation on first use;
// a function-local static runs it exactly once, even across threads.
bool sodium_ready() noexcept {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

caf::error sodium_error() {
  return make_error(errc::io_error, "libsodium failed to initialize");
}

caf::error os_error(errc code, const std::string& what, const std::string& path,
                    int err) {
  return make_error(code, what + " " + path + ": " + std::strerror(err));
}

// Owns a file descriptor so every early return closes it.
class fd_guard {
 public:
  explicit fd_guard(int fd) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool write_all(int fd, const uint8_t* data, size_t n) noexcept {
  while (n > 0) {
    auto written = ::write(fd, data, n);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += written;
    n -= static_cast<size_t>(written);
  }
  return true;
}

} // namespace

identity::identity(const identity& other) noexcept
    : public_key_(other.public_key_), secret_key_(other.secret_key_) {
  // nop
}

identity& identity::operator=(const identity& other) noexcept {
  public_key_ = other.public_key_;
  secret_key_ = other.secret_key_;
  return *this;
}

identity::~identity() {
  sodium_memzero(secret_key_.data(), secret_key_.size());
}

identity identity::from_seed(const uint8_t* seed) noexcept {
  identity result;
  crypto_sign_seed_keypair(result.public_key_.data(), result.secret_key_.data(),
                           seed);
  return result;
}

caf::expected<identity> identity::generate() {
  if (!sodium_ready())
    return sodium_error();
  identity result;
  crypto_sign_keypair(result.public_key_.data(), result.secret_key_.data());
  return result;
}

caf::expected<identity> identity::load_or_create(const std::string& path) {
  if (!sodium_ready())
    return sodium_error();
  if (path.empty())
    return make_error(errc::invalid_argument, "empty identity path");
  // Load, if the file exists.
  auto load = [&]() -> caf::expected<identity> {
    fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.get() < 0)
      return os_error(errc::io_error, "cannot open identity file", path, errno);
    // Read one byte more than expected so a long file is detected too.
    std::array<uint8_t, file_size + 1> buf{};
    size_t got = 0;
    while (got < buf.size()) {
      auto n = ::read(fd.get(), buf.data() + got, buf.size() - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return os_error(errc::io_error, "cannot read identity file", path,
                        errno);
      if (n == 0)
        break;
      got += static_cast<size_t>(n);
    }
    auto bad = [&](const std::string& why) {
      sodium_memzero(buf.data(), buf.size());
      return make_error(errc::bad_config,
                        "identity file " + path +
                            " is not a valid Ed25519 "
                            "identity (" +
                            why + "); remove it to make a new identity");
    };
    if (got != file_size)
      return bad(got > file_size
                     ? "longer than " + std::to_string(file_size) + " bytes"
                     : std::to_string(got) + " bytes, expected " +
                           std::to_string(file_size));
    if (!std::equal(private_key_prefix.begin(), private_key_prefix.end(),
                    buf.begin()))
      return bad("not a libp2p Ed25519 private key");
    const uint8_t* seed = buf.data() + private_key_prefix.size();
    auto result = from_seed(seed);
    // The stored public key must be the one the seed yields.
    bool match = std::equal(result.public_key_.begin(),
                            result.public_key_.end(), seed + 32);
    sodium_memzero(buf.data(), buf.size());
    if (!match)
      return bad("public key does not match the secret key");
    return result;
  };
  std::error_code ec;
  if (std::filesystem::exists(path, ec))
    return load();
  if (ec)
    return make_error(errc::io_error, "cannot access identity file " + path +
                                          ": " + ec.message());
  // Create: write a temporary file beside the target, then link it into
  // place. link() never replaces an existing file, so a concurrent creator
  // wins or loses atomically and nobody reads a half-written file.
  auto parent = std::filesystem::path{path}.parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return make_error(errc::io_error, "cannot create directory " +
                                            parent.string() + " for " +
                                            "identity file: " + ec.message());
  }
  auto fresh = generate();
  if (!fresh)
    return fresh.error();
  std::string tmp = path + ".tmp.XXXXXX";
  fd_guard fd{::mkstemp(tmp.data())};
  if (fd.get() < 0)
    return os_error(errc::io_error, "cannot create identity file", path, errno);
  auto cleanup = [&] {
    ::unlink(tmp.c_str());
  };
  std::array<uint8_t, file_size> buf{};
  std::copy(private_key_prefix.begin(), private_key_prefix.end(), buf.begin());
  std::copy(fresh->secret_key_.begin(), fresh->secret_key_.end(),
            buf.begin() + private_key_prefix.size());
  bool written = ::fchmod(fd.get(), S_IRUSR | S_IWUSR) == 0 &&
                 write_all(fd.get(), buf.data(), buf.size()) &&
                 ::fsync(fd.get()) == 0;
  int write_errno = errno;
  sodium_memzero(buf.data(), buf.size());
  if (!written || ::close(fd.release()) != 0) {
    int err = written ? errno : write_errno;
    cleanup();
    return os_error(errc::io_error, "cannot write identity file", path, err);
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    cleanup();
    if (err == EEXIST)
      return load(); // another process created it first
    return os_error(errc::io_error, "cannot create identity file", path, err);
  }
  cleanup();
  return fresh;
}

ed25519_signature identity::sign(const void* data, size_t n) const noexcept {
  ed25519_signature signature;
  crypto_sign_detached(signature.data(), nullptr,
                       static_cast<const unsigned char*>(data), n,
                       secret_key_.data());
  return signature;
}

bool identity::verify(const ed25519_public_key& key, const void* data, size_t n,
                      const ed25519_signature& signature) noexcept {
  if (!sodium_ready())
    return false;
  return crypto_sign_verify_detached(signature.data(),
                                     static_cast<const unsigned char*>(data), n,
                                     key.data()) == 0;
}

} // namespace colony
