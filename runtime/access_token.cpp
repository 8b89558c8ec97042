#include "runtime/access_token.hpp"

#include "messages/error.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace colony {

namespace {

constexpr std::string_view token_prefix = "colony-token-v1:";
constexpr size_t token_bytes = peer_id::size + 8 + 64;

} // namespace

int64_t unix_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string access_token::signed_bytes() const {
  std::string out(signing_context);
  auto& id = holder.bytes();
  out.append(reinterpret_cast<const char*>(id.data()), id.size());
  for (int i = 0; i < 8; ++i)
    out.push_back(
        static_cast<char>(static_cast<uint64_t>(expires_at) >> (8 * i)));
  return out;
}

access_token access_token::issue(const identity& authority,
                                 const peer_id& holder, int64_t expires_at) {
  access_token t;
  t.holder = holder;
  t.expires_at = expires_at;
  auto msg = t.signed_bytes();
  t.signature = authority.sign(msg.data(), msg.size());
  return t;
}

caf::error access_token::verify(const peer_id& authority,
                                const peer_id& presenter, int64_t now) const {
  auto msg = signed_bytes();
  if (!identity::verify(authority.public_key(), msg.data(), msg.size(),
                        signature))
    return make_error(errc::handshake_failed,
                      "access token not signed by the swarm authority " +
                          authority.short_id());
  if (holder != presenter)
    return make_error(errc::handshake_failed,
                      "access token belongs to " + holder.to_string() +
                          ", presented by " + presenter.to_string());
  if (expires_at <= now)
    return make_error(errc::handshake_failed,
                      "access token of " + presenter.short_id() + " expired " +
                          std::to_string(now - expires_at) + " s ago");
  return caf::none;
}

std::string access_token::to_text() const {
  std::string raw;
  raw.reserve(token_bytes);
  auto& id = holder.bytes();
  raw.append(reinterpret_cast<const char*>(id.data()), id.size());
  for (int i = 0; i < 8; ++i)
    raw.push_back(
        static_cast<char>(static_cast<uint64_t>(expires_at) >> (8 * i)));
  raw.append(reinterpret_cast<const char*>(signature.data()), signature.size());
  return std::string(token_prefix) +
         base58_encode(reinterpret_cast<const uint8_t*>(raw.data()),
                       raw.size());
}

caf::expected<access_token> access_token::from_text(std::string_view text) {
  auto space = [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);
  if (text.substr(0, token_prefix.size()) != token_prefix)
    return make_error(errc::invalid_argument,
                      "not a colony access token (expected it to start with '" +
                          std::string(token_prefix) + "')");
  text.remove_prefix(token_prefix.size());
  auto raw = base58_decode(text);
  if (!raw)
    return make_error(errc::invalid_argument,
                      "access token is not base58 text");
  if (raw->size() != token_bytes)
    return make_error(errc::invalid_argument,
                      "access token of " + std::to_string(raw->size()) +
                          " bytes, expected " + std::to_string(token_bytes));
  auto* p = raw->data();
  auto holder = peer_id::from_bytes(p, peer_id::size);
  if (!holder)
    return make_error(errc::invalid_argument,
                      "access token: " + error_reason(holder.error()));
  access_token t;
  t.holder = *holder;
  uint64_t expiry = 0;
  for (int i = 0; i < 8; ++i)
    expiry |= uint64_t{p[peer_id::size + i]} << (8 * i);
  t.expires_at = static_cast<int64_t>(expiry);
  std::copy(p + peer_id::size + 8, p + token_bytes, t.signature.begin());
  return t;
}

caf::expected<access_token> read_access_token(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(errc::io_error, "cannot read access token " + path);
  std::ostringstream text;
  // A token is ~170 characters; a huge file is not a token.
  char buf[1024];
  in.read(buf, sizeof(buf));
  text.write(buf, in.gcount());
  if (in.gcount() == sizeof(buf))
    return make_error(errc::bad_config, path + " is too large for a token");
  auto token = access_token::from_text(text.str());
  if (!token)
    return make_error(errc::bad_config,
                      path + ": " + error_reason(token.error()));
  return token;
}

caf::error write_access_token(const std::string& path,
                              const access_token& token) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return make_error(errc::io_error, "cannot write " + tmp);
    out << token.to_text() << '\n';
    if (!out)
      return make_error(errc::io_error, "cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(errc::io_error, "cannot replace " + path);
  return caf::none;
}

caf::expected<access_token> access_token_file::current() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (token_)
      return *token_;
    return make_error(errc::io_error, "cannot read access token " + path_);
  }
  auto stamp =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  auto size = static_cast<int64_t>(st.st_size);
  auto inode = static_cast<int64_t>(st.st_ino);
  // The inode too: a file replaced by rename within the clock's
  // granularity keeps its time stamp and size.
  if (token_ && stamp == stamp_ && size == size_ && inode == inode_)
    return *token_;
  stamp_ = stamp;
  size_ = size;
  inode_ = inode;
  auto fresh = read_access_token(path_);
  if (!fresh) {
    if (token_)
      return *token_; // keep serving with the last good token
    return fresh;
  }
  token_ = *fresh;
  return *token_;
}

} // namespace colony
