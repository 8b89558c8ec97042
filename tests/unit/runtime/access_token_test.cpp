#include "runtime/access_token.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace colony;

namespace {

struct token_world {
  identity authority = *identity::generate();
  identity holder = *identity::generate();
  identity stranger = *identity::generate();
  int64_t now = unix_seconds();
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("colony-token-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

} // namespace

TEST(access_token, a_token_verifies_for_its_holder_until_it_expires) {
  token_world w;
  auto t = access_token::issue(w.authority, w.holder.peer_id(), w.now + 60);
  EXPECT_FALSE(t.verify(w.authority.peer_id(), w.holder.peer_id(), w.now));
  // Another node presenting it.
  auto err = t.verify(w.authority.peer_id(), w.stranger.peer_id(), w.now);
  EXPECT_TRUE(is_error(err, errc::handshake_failed));
  EXPECT_NE(describe(err).find("belongs to"), std::string::npos);
  // Expired.
  err = t.verify(w.authority.peer_id(), w.holder.peer_id(), w.now + 61);
  EXPECT_NE(describe(err).find("expired"), std::string::npos);
  // Another authority.
  err = t.verify(w.stranger.peer_id(), w.holder.peer_id(), w.now);
  EXPECT_NE(describe(err).find("not signed"), std::string::npos);
}

TEST(access_token, a_changed_expiry_or_holder_breaks_the_signature) {
  token_world w;
  auto t = access_token::issue(w.authority, w.holder.peer_id(), w.now + 60);
  auto later = t;
  later.expires_at += 3600;
  EXPECT_TRUE(later.verify(w.authority.peer_id(), w.holder.peer_id(), w.now));
  auto other = t;
  other.holder = w.stranger.peer_id();
  EXPECT_TRUE(other.verify(w.authority.peer_id(), w.stranger.peer_id(), w.now));
}

TEST(access_token, the_text_form_round_trips_and_garbage_is_refused) {
  token_world w;
  auto t = access_token::issue(w.authority, w.holder.peer_id(), w.now + 60);
  auto back = access_token::from_text("  " + t.to_text() + "\n");
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->holder, t.holder);
  EXPECT_EQ(back->expires_at, t.expires_at);
  EXPECT_EQ(back->signature, t.signature);
  for (std::string bad : std::vector<std::string>{
           "", "hello", "colony-token-v1:", "colony-token-v1:0OIl",
           "colony-token-v1:" + t.to_text().substr(20, 40), t.to_text() + "x"})
    EXPECT_FALSE(access_token::from_text(bad)) << bad;
}

TEST(access_token, a_token_file_is_read_again_when_it_changes) {
  token_world w;
  auto path = temp_path("renew");
  auto first = access_token::issue(w.authority, w.holder.peer_id(), w.now + 60);
  ASSERT_FALSE(write_access_token(path, first));
  access_token_file file{path};
  auto a = file.current();
  ASSERT_TRUE(a) << describe(a.error());
  EXPECT_EQ(a->expires_at, first.expires_at);
  auto renewed =
      access_token::issue(w.authority, w.holder.peer_id(), w.now + 7200);
  ASSERT_FALSE(write_access_token(path, renewed));
  auto b = file.current();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->expires_at, renewed.expires_at);
  // A broken file keeps the last good token.
  { std::ofstream(path) << "not a token, and longer than before\n"; }
  auto c = file.current();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->expires_at, renewed.expires_at);
  std::filesystem::remove(path);
  access_token_file missing{path};
  EXPECT_FALSE(missing.current());
}
