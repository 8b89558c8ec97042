#pragma once

#include "runtime/identity.hpp"
#include "runtime/peer_id.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace colony {

/// A swarm access token: the swarm authority's Ed25519 signature over a
/// holder's peer id and an expiry. A swarm with an authority admits only
/// nodes that present a valid token of their own in the handshake (the
/// token names the peer id, so a copied token is useless without the
/// holder's key).
struct access_token {
  /// Domain separation for the signed bytes.
  static constexpr char signing_context[] = "colony-access-token-v1";

  peer_id holder;
  /// Unix time (seconds) after which the token is refused.
  int64_t expires_at = 0;
  ed25519_signature signature{};

  /// Signs a token for `holder` valid until `expires_at`.
  [[nodiscard]] static access_token
  issue(const identity& authority, const peer_id& holder, int64_t expires_at);

  /// Checks the signature against `authority`, that `presenter` holds it and
  /// that it has not expired at `now` (unix seconds).
  [[nodiscard]] caf::error verify(const peer_id& authority,
                                  const peer_id& presenter, int64_t now) const;

  /// The text form written to token files: "colony-token-v1:" + base58.
  [[nodiscard]] std::string to_text() const;

  /// Parses the text form (surrounding whitespace ignored).
  [[nodiscard]] static caf::expected<access_token>
  from_text(std::string_view text);

 private:
  [[nodiscard]] std::string signed_bytes() const;
};

/// Reads a token file.
caf::expected<access_token> read_access_token(const std::string& path);

/// Writes `token` to `path` (mode 0600, replaced atomically).
caf::error write_access_token(const std::string& path,
                              const access_token& token);

/// A node's own token, read again when its file changes so that a node
/// renews by being given a new file. Not thread-safe; owned by one actor.
class access_token_file {
 public:
  explicit access_token_file(std::string path) : path_(std::move(path)) {}

  /// The current token: re-read if the file's modification time, size or
  /// inode changed. A file that became unreadable or invalid keeps the last
  /// good token and reports the problem once per change.
  [[nodiscard]] caf::expected<access_token> current();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::optional<access_token> token_;
  int64_t stamp_ = -1;
  int64_t size_ = -1;
  int64_t inode_ = -1;
};

/// Current unix time in seconds.
int64_t unix_seconds() noexcept;

} // namespace colony
