#include "runtime/peer_address.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace colony {
namespace {

constexpr auto sample_id =
    "12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ieyFCN";

peer_address must_parse(std::string_view text) {
  auto addr = peer_address::parse(text);
  EXPECT_TRUE(addr) << text << ": " << describe(addr.error());
  return addr ? *addr : peer_address{};
}

void expect_error(std::string_view text, std::string_view needle) {
  auto addr = peer_address::parse(text);
  ASSERT_FALSE(addr) << text << " parsed as " << addr->to_multiaddr();
  EXPECT_TRUE(is_error(addr.error(), errc::invalid_argument)) << text;
  auto message = describe(addr.error());
  EXPECT_NE(message.find(needle), std::string::npos)
      << text << " -> " << message;
}

TEST(peer_address, host_port) {
  auto a = must_parse("127.0.0.1:5000");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5000);
  EXPECT_FALSE(a.id);
  EXPECT_EQ(a.to_string(), "127.0.0.1:5000");
  EXPECT_EQ(a.to_multiaddr(), "/ip4/127.0.0.1/tcp/5000");
  auto b = must_parse("localhost:0");
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, 0);
  EXPECT_EQ(b.to_multiaddr(), "/dns/localhost/tcp/0");
  EXPECT_EQ(must_parse("node-1.example.org:65535").port, 65535);
}

TEST(peer_address, bracketed_ipv6) {
  auto a = must_parse("[::1]:31337");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 31337);
  EXPECT_EQ(a.to_string(), "[::1]:31337");
  EXPECT_EQ(a.to_multiaddr(), "/ip6/::1/tcp/31337");
  EXPECT_EQ(must_parse("[2001:db8::7]:1").host, "2001:db8::7");
}

TEST(peer_address, multiaddrs) {
  auto a = must_parse("/ip4/10.0.0.2/tcp/4000");
  EXPECT_EQ(a.host, "10.0.0.2");
  EXPECT_EQ(a.port, 4000);
  EXPECT_FALSE(a.id);
  auto b = must_parse("/ip6/::1/tcp/4001");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.to_string(), "[::1]:4001");
  auto c = must_parse("/dns/bootstrap.example.org/tcp/443");
  EXPECT_EQ(c.host, "bootstrap.example.org");
  EXPECT_EQ(c.to_string(), "bootstrap.example.org:443");
  EXPECT_EQ(must_parse("/dns4/a.b/tcp/1").host, "a.b");
  EXPECT_EQ(must_parse("/dns6/a.b/tcp/1").host, "a.b");
}

TEST(peer_address, peer_id_suffix) {
  std::string text = std::string{"/ip4/1.2.3.4/tcp/31337/p2p/"} + sample_id;
  auto a = must_parse(text);
  ASSERT_TRUE(a.id);
  EXPECT_EQ(a.id->to_string(), sample_id);
  EXPECT_EQ(a.to_string(), "1.2.3.4:31337");
  EXPECT_EQ(a.to_multiaddr(), text);
  EXPECT_EQ(must_parse(text), a);
  // Old spelling and the HOST:PORT forms.
  EXPECT_EQ(must_parse(std::string{"/ip4/1.2.3.4/tcp/31337/ipfs/"} + sample_id),
            a);
  EXPECT_EQ(must_parse(std::string{"1.2.3.4:31337/p2p/"} + sample_id), a);
  auto v6 = must_parse(std::string{"[::1]:7/p2p/"} + sample_id);
  ASSERT_TRUE(v6.id);
  EXPECT_EQ(v6.to_multiaddr(), std::string{"/ip6/::1/tcp/7/p2p/"} + sample_id);
}

TEST(peer_address, errors_name_the_bad_part) {
  expect_error("", "empty address");
  expect_error("127.0.0.1", "missing port");
  expect_error("127.0.0.1:", "missing port");
  expect_error(":5000", "missing host");
  expect_error("127.0.0.1:65536", "port 65536 is out of range");
  expect_error("127.0.0.1:99999999999", "out of range");
  expect_error("127.0.0.1:http", "port 'http' is not a number");
  expect_error("127.0.0.1:-1", "not a number");
  expect_error("300.1.1.1:5", "'300.1.1.1' is not an IPv4 address");
  expect_error("::1:5000", "must be in brackets");
  expect_error("[::1]", "missing port");
  expect_error("[::1:5000", "missing ']'");
  expect_error("[::1]5000", "expected ':' after ']'");
  expect_error("[1.2.3.4]:5", "not an IPv6 address");
  expect_error("http://a:5", "only /p2p/PEER_ID may follow");
  expect_error("bad host:5", "not a valid host name");
  expect_error("/ip4/127.0.0.1", "missing port");
  expect_error("/ip4/127.0.0.1/tcp", "missing port after /tcp");
  expect_error("/ip4/127.0.0.1/tcp/70000", "out of range");
  expect_error("/ip4/127.0.0.1/tcp/x", "not a number");
  expect_error("/ip4/127.0.0.1/udp/5", "unknown protocol 'udp'");
  expect_error("/unix/tmp/sock", "unknown protocol 'unix'");
  expect_error("/ip4/::1/tcp/5", "not an IPv4 address");
  expect_error("/ip6/1.2.3.4/tcp/5", "not an IPv6 address");
  expect_error("/ip4", "missing host");
  expect_error("/ip4/1.2.3.4/tcp/5/", "stray '/'");
  expect_error("/ip4/1.2.3.4/tcp/5/quic", "unknown protocol 'quic'");
  expect_error("/ip4/1.2.3.4/tcp/5/p2p", "missing peer id");
  expect_error("/ip4/1.2.3.4/tcp/5/p2p/12D3KooWnope", "bad peer id");
  expect_error("1.2.3.4:5/p2p/", "missing peer id");
  expect_error(std::string{"/ip4/1.2.3.4/tcp/5/p2p/"} + sample_id + "/x",
               "unexpected '/x'");
}

} // namespace
} // namespace colony
