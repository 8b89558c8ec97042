// The harness's malformed payloads: each breaks the wire the way its name
// says, and the frame reader refuses it without allocating.

#include "apps/harness/garbage_sender.hpp"
#include "messages/error.hpp"
#include "runtime/transport/frame_reader.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::apps;

TEST(garbage_sender, kind_names_round_trip) {
  for (auto kind :
       {garbage_kind::random_bytes, garbage_kind::truncated_frame,
        garbage_kind::oversized_length, garbage_kind::wrong_handshake}) {
    auto parsed = parse_garbage_kind(to_string(kind));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, kind);
  }
  auto bad = parse_garbage_kind("cake");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_error(bad.error(), errc::bad_config));
  EXPECT_NE(error_reason(bad.error()).find("random_bytes"), std::string::npos);
}

TEST(garbage_sender, random_bytes_are_deterministic_per_seed) {
  auto a = garbage_payload(garbage_kind::random_bytes, 1);
  auto b = garbage_payload(garbage_kind::random_bytes, 1);
  auto c = garbage_payload(garbage_kind::random_bytes, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), 4096u);
}

TEST(garbage_sender, oversized_claim_is_refused_before_allocation) {
  frame_reader reader{4u << 20};
  auto bytes = garbage_payload(garbage_kind::oversized_length, 0);
  auto frames =
      reader.feed(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  ASSERT_FALSE(frames);
  EXPECT_TRUE(is_error(frames.error(), errc::too_large))
      << describe(frames.error());
}

TEST(garbage_sender, truncated_frame_never_completes) {
  frame_reader reader{4u << 20};
  auto bytes = garbage_payload(garbage_kind::truncated_frame, 0);
  ASSERT_GT(bytes.size(), 8u);
  auto frames =
      reader.feed(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  ASSERT_TRUE(frames) << describe(frames.error());
  EXPECT_TRUE(frames->empty());
}

TEST(garbage_sender, wrong_handshakes_are_whole_frames) {
  // Each variant is well framed: the node must judge the handshake itself.
  for (uint64_t seed = 0; seed < 4; ++seed) {
    frame_reader reader{4u << 20};
    auto bytes = garbage_payload(garbage_kind::wrong_handshake, seed);
    auto frames =
        reader.feed(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    ASSERT_TRUE(frames) << seed;
    EXPECT_EQ(frames->size(), 1u) << seed;
  }
  EXPECT_NE(garbage_payload(garbage_kind::wrong_handshake, 0),
            garbage_payload(garbage_kind::wrong_handshake, 1));
}
