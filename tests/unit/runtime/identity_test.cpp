#include "runtime/identity.hpp"

#include "tests/unit/test_data.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace colony {
namespace {

namespace fs = std::filesystem;

/// A fresh directory, removed with its contents at the end of a test.
class temp_dir {
 public:
  temp_dir() {
    auto base = fs::temp_directory_path() / "colony-identity-XXXXXX";
    std::string tmpl = base.string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out{path, std::ios::binary};
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

using colony::testing::from_hex;

TEST(identity, sign_and_verify) {
  auto id = identity::generate();
  ASSERT_TRUE(id) << describe(id.error());
  std::string msg = "nonce from the other side";
  auto sig = id->sign(msg.data(), msg.size());
  EXPECT_TRUE(identity::verify(id->public_key(), msg.data(), msg.size(), sig));
  EXPECT_EQ(id->peer_id().public_key(), id->public_key());
}

TEST(identity, tampered_message_signature_or_key_fails) {
  auto id = identity::generate();
  auto other = identity::generate();
  ASSERT_TRUE(id && other);
  std::string msg = "hello";
  auto sig = id->sign(msg.data(), msg.size());
  auto bad_sig = sig;
  bad_sig[10] ^= 0x01;
  EXPECT_FALSE(
      identity::verify(id->public_key(), msg.data(), msg.size(), bad_sig));
  std::string bad_msg = "hellp";
  EXPECT_FALSE(
      identity::verify(id->public_key(), bad_msg.data(), bad_msg.size(), sig));
  EXPECT_FALSE(
      identity::verify(other->public_key(), msg.data(), msg.size(), sig));
  EXPECT_NE(id->peer_id(), other->peer_id());
}

TEST(identity, signs_empty_message) {
  auto id = identity::generate();
  ASSERT_TRUE(id);
  auto sig = id->sign(nullptr, 0);
  EXPECT_TRUE(identity::verify(id->public_key(), nullptr, 0, sig));
}

TEST(identity, copies_share_the_key) {
  auto id = identity::generate();
  ASSERT_TRUE(id);
  identity copy = *id;
  std::string msg = "x";
  auto sig = copy.sign(msg.data(), msg.size());
  EXPECT_TRUE(identity::verify(id->public_key(), msg.data(), msg.size(), sig));
}

TEST(identity, load_or_create_twice_gives_the_same_identity) {
  temp_dir dir;
  auto path = (dir.path() / "keys" / "nested" / "node.key").string();
  auto first = identity::load_or_create(path);
  ASSERT_TRUE(first) << describe(first.error());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, static_cast<off_t>(identity::file_size));
  auto second = identity::load_or_create(path);
  ASSERT_TRUE(second) << describe(second.error());
  EXPECT_EQ(first->peer_id(), second->peer_id());
  // The loaded secret key signs for the same public key.
  std::string msg = "m";
  auto sig = second->sign(msg.data(), msg.size());
  EXPECT_TRUE(
      identity::verify(first->public_key(), msg.data(), msg.size(), sig));
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator{fs::path{path}.parent_path()},
                          fs::directory_iterator{}),
            1);
}

TEST(identity, concurrent_creators_agree) {
  temp_dir dir;
  auto path = (dir.path() / "node.key").string();
  std::vector<std::future<caf::expected<identity>>> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(std::async(
        std::launch::async, [&] { return identity::load_or_create(path); }));
  std::vector<peer_id> ids;
  for (auto& f : results) {
    auto id = f.get();
    ASSERT_TRUE(id) << describe(id.error());
    ids.push_back(id->peer_id());
  }
  for (const auto& id : ids)
    EXPECT_EQ(id, ids.front());
}

TEST(identity, reads_libp2p_private_key_file) {
  // A marshalled Ed25519 private key written by js-libp2p, and its id.
  temp_dir dir;
  auto path = dir.path() / "libp2p.key";
  write_file(path,
             from_hex("08011240e7febbcaab4578f42a70dccfe0a30af797877c452ac8f7f0"
                      "1f8b26ea1666aab9c68cbe0621eef469263ebaf606fa38b30e993174"
                      "b84e73af83454fdc3162f77b"));
  auto id = identity::load_or_create(path.string());
  ASSERT_TRUE(id) << describe(id.error());
  EXPECT_EQ(id->peer_id().to_string(),
            "12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ieyFCN");
}

TEST(identity, written_file_is_a_libp2p_private_key) {
  temp_dir dir;
  auto path = dir.path() / "node.key";
  auto id = identity::load_or_create(path.string());
  ASSERT_TRUE(id);
  auto bytes = read_file(path);
  ASSERT_EQ(bytes.size(), identity::file_size);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4),
            (std::vector<uint8_t>{0x08, 0x01, 0x12, 0x40}));
  EXPECT_TRUE(std::equal(id->public_key().begin(), id->public_key().end(),
                         bytes.begin() + 36));
}

TEST(identity, corrupt_files_are_errors_and_kept) {
  temp_dir dir;
  auto good = identity::load_or_create((dir.path() / "good.key").string());
  ASSERT_TRUE(good);
  auto valid = read_file(dir.path() / "good.key");
  auto expect_bad = [&](const std::string& name,
                        const std::vector<uint8_t>& bytes,
                        const std::string& needle) {
    auto path = dir.path() / name;
    write_file(path, bytes);
    auto id = identity::load_or_create(path.string());
    ASSERT_FALSE(id) << name;
    EXPECT_TRUE(is_error(id.error(), errc::bad_config)) << name;
    auto text = describe(id.error());
    EXPECT_NE(text.find(path.string()), std::string::npos) << text;
    EXPECT_NE(text.find(needle), std::string::npos) << text;
    // Never silently replaced.
    EXPECT_EQ(read_file(path), bytes) << name;
  };
  expect_bad("empty.key", {}, "0 bytes, expected 68");
  expect_bad("short.key", {valid.begin(), valid.begin() + 40},
             "40 bytes, expected 68");
  auto longer = valid;
  longer.push_back(0);
  expect_bad("long.key", longer, "longer than 68 bytes");
  auto wrong_type = valid;
  wrong_type[1] = 0x00; // RSA
  expect_bad("rsa.key", wrong_type, "not a libp2p Ed25519 private key");
  auto mismatched = valid;
  mismatched[67] ^= 0xff;
  expect_bad("mismatch.key", mismatched, "does not match");
}

TEST(identity, unreadable_path_is_io_error) {
  temp_dir dir;
  // A directory where the file should be.
  auto path = dir.path() / "dir.key";
  fs::create_directory(path);
  auto id = identity::load_or_create(path.string());
  ASSERT_FALSE(id);
  EXPECT_TRUE(is_error(id.error(), errc::io_error)) << describe(id.error());
  EXPECT_NE(describe(id.error()).find(path.string()), std::string::npos);
  // A parent that is a file.
  auto file = dir.path() / "file";
  write_file(file, {1});
  auto nested = identity::load_or_create((file / "node.key").string());
  ASSERT_FALSE(nested);
  EXPECT_TRUE(is_error(nested.error(), errc::io_error))
      << describe(nested.error());
}

} // namespace
} // namespace colony
