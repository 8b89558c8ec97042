#include "runtime/transport/frame_cipher.hpp"
#include "runtime/transport/frame_writer.hpp"
#include "runtime/transport/sealed_stream.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <random>

using namespace colony;

namespace {

session_key some_key(uint8_t seed) {
  session_key k{};
  for (size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<uint8_t>(seed * 31 + i);
  return k;
}

struct cipher_pair {
  frame_cipher sealer;
  frame_cipher opener;
};

cipher_pair make_pair_of(cipher_suite suite, uint8_t seed = 1) {
  return {std::move(*frame_cipher::make(suite, some_key(seed),
                                        frame_cipher::direction::seal)),
          std::move(*frame_cipher::make(suite, some_key(seed),
                                        frame_cipher::direction::open))};
}

/// Sealed records of `frames` frames, each a heartbeat with its index.
std::vector<std::vector<char>> sealed_records(frame_cipher& sealer,
                                              size_t frames) {
  std::vector<std::vector<char>> out;
  for (size_t i = 0; i < frames; ++i) {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<wire::Frame>().initHeartbeat().setSentAtNs(i);
    std::vector<char> buf(sealed_stream::header_bytes);
    write_frame(msg, [&](const void* p, size_t n) {
      auto* c = static_cast<const char*>(p);
      buf.insert(buf.end(), c, c + n);
    });
    EXPECT_TRUE(sealed_stream::seal(sealer, buf, 0));
    out.push_back(std::move(buf));
  }
  return out;
}

/// Feeds `bytes` to `reader` in exact reads; returns the frames' heartbeat
/// indices, or the first error.
caf::expected<std::vector<uint64_t>> read_all(sealed_reader& reader,
                                              const std::vector<char>& bytes) {
  std::vector<uint64_t> seen;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto want = reader.next_read_size();
    if (pos + want > bytes.size())
      break;
    std::vector<char> chunk(bytes.begin() + pos, bytes.begin() + pos + want);
    pos += want;
    auto res = reader.consume(chunk);
    if (!res)
      return std::move(res.error());
    if (*res) {
      capnp::SegmentArrayMessageReader r(
          kj::arrayPtr((*res)->segments.data(), (*res)->segments.size()));
      seen.push_back(r.getRoot<wire::Frame>().getHeartbeat().getSentAtNs());
    }
  }
  return seen;
}

std::vector<char> concat(const std::vector<std::vector<char>>& records) {
  std::vector<char> out;
  for (auto& r : records)
    out.insert(out.end(), r.begin(), r.end());
  return out;
}

class both_suites : public ::testing::TestWithParam<cipher_suite> {};

} // namespace

TEST_P(both_suites, sealed_bytes_open_to_the_same_bytes) {
  auto [sealer, opener] = make_pair_of(GetParam());
  std::mt19937 rng{7};
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 4096u, 1000003u}) {
    std::vector<uint8_t> plain(n);
    for (auto& b : plain)
      b = static_cast<uint8_t>(rng());
    auto data = plain;
    uint8_t aad[4] = {1, 2, 3, 4};
    uint8_t tag[frame_cipher::tag_bytes];
    ASSERT_FALSE(sealer.seal(data.data(), n, aad, 4, tag));
    if (n >= 16)
      EXPECT_NE(data, plain) << "ciphertext equals the plain text";
    ASSERT_FALSE(opener.open(data.data(), n, aad, 4, tag)) << n;
    EXPECT_EQ(data, plain);
  }
}

TEST_P(both_suites, a_changed_byte_tag_or_length_word_fails_to_open) {
  for (int what = 0; what < 3; ++what) {
    auto [sealer, opener] = make_pair_of(GetParam());
    std::vector<uint8_t> data(100, 42);
    uint8_t aad[4] = {100, 0, 0, 0};
    uint8_t tag[frame_cipher::tag_bytes];
    ASSERT_FALSE(sealer.seal(data.data(), data.size(), aad, 4, tag));
    if (what == 0)
      data[57] ^= 0x01;
    else if (what == 1)
      tag[3] ^= 0x80;
    else
      aad[1] = 1;
    auto err = opener.open(data.data(), data.size(), aad, 4, tag);
    EXPECT_TRUE(is_error(err, errc::malformed)) << what;
  }
}

TEST_P(both_suites, records_in_order_open_and_any_change_is_refused) {
  auto [sealer, opener] = make_pair_of(GetParam());
  auto records = sealed_records(sealer, 4);
  {
    sealed_reader reader{std::move(opener), 1 << 20};
    auto seen = read_all(reader, concat(records));
    ASSERT_TRUE(seen) << describe(seen.error());
    EXPECT_EQ(*seen, (std::vector<uint64_t>{0, 1, 2, 3}));
  }
  auto attempt = [&](std::vector<std::vector<char>> stream) {
    sealed_reader reader{
        std::move(*frame_cipher::make(GetParam(), some_key(1),
                                      frame_cipher::direction::open)),
        1 << 20};
    return read_all(reader, concat(stream));
  };
  // Dropped: record 1 missing, record 2 then has the wrong nonce.
  auto dropped = attempt({records[0], records[2], records[3]});
  ASSERT_FALSE(dropped);
  EXPECT_TRUE(is_error(dropped.error(), errc::malformed));
  // Replayed: record 0 twice.
  auto replayed = attempt({records[0], records[0], records[1]});
  EXPECT_FALSE(replayed);
  // Reordered: 1 before 0.
  auto reordered = attempt({records[1], records[0]});
  EXPECT_FALSE(reordered);
  // Changed: one bit of record 2's ciphertext.
  auto changed = records;
  changed[2][sealed_stream::header_bytes + 5] ^= 0x10;
  EXPECT_FALSE(attempt(changed));
  // Another key (another session) opens nothing.
  sealed_reader other{
      std::move(*frame_cipher::make(GetParam(), some_key(2),
                                    frame_cipher::direction::open)),
      1 << 20};
  EXPECT_FALSE(read_all(other, concat(records)));
}

INSTANTIATE_TEST_SUITE_P(frame_cipher, both_suites,
                         ::testing::Values(cipher_suite::aes256_gcm,
                                           cipher_suite::chacha20_poly1305));

TEST(sealed_reader, a_lying_length_word_is_refused_before_any_allocation) {
  auto [sealer, opener] = make_pair_of(cipher_suite::chacha20_poly1305);
  sealed_reader reader{std::move(opener), 1 << 20};
  // 4 GiB - 1, not a multiple of 8, and 8 bytes (too short for a frame).
  for (uint32_t claim : {0xffffffffu, 1001u, 8u, (1u << 20) + 4096u}) {
    sealed_reader r{std::move(*frame_cipher::make(
                        cipher_suite::chacha20_poly1305, some_key(1),
                        frame_cipher::direction::open)),
                    1 << 20};
    std::vector<char> header(4);
    for (int i = 0; i < 4; ++i)
      header[i] = static_cast<char>(claim >> (8 * i));
    auto res = r.consume(header);
    ASSERT_FALSE(res) << claim;
    EXPECT_TRUE(is_error(res.error(), errc::malformed));
    EXPECT_EQ(r.next_read_size(), sealed_stream::header_bytes);
  }
}

TEST(sealed_reader, an_authentic_record_with_a_lying_segment_table_is_refused) {
  auto [sealer, opener] = make_pair_of(cipher_suite::aes256_gcm);
  // A segment table claiming 2 segments of 1000 words, then 16 bytes.
  std::vector<char> buf(sealed_stream::header_bytes);
  uint32_t table[4] = {1, 1000, 1000, 0};
  buf.insert(buf.end(), reinterpret_cast<char*>(table),
             reinterpret_cast<char*>(table) + sizeof(table));
  buf.resize(buf.size() + 16);
  ASSERT_TRUE(sealed_stream::seal(sealer, buf, 0));
  sealed_reader reader{std::move(opener), 1 << 20};
  auto seen = read_all(reader, buf);
  ASSERT_FALSE(seen);
  EXPECT_TRUE(is_error(seen.error(), errc::malformed));
}

TEST(frame_cipher, a_cipher_seals_or_opens_never_both) {
  auto [sealer, opener] = make_pair_of(cipher_suite::aes256_gcm);
  uint8_t data[8] = {};
  uint8_t tag[16] = {};
  EXPECT_TRUE(opener.seal(data, 8, nullptr, 0, tag));
  EXPECT_TRUE(sealer.open(data, 8, nullptr, 0, tag));
}
