#include "runtime/peer_address.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include <arpa/inet.h>

namespace colony {

namespace {

bool is_ipv4(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

bool looks_numeric(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

// Lenient on purpose (underscores appear in container host names), strict
// enough to catch typos such as spaces, schemes or stray separators.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' ||
      host.find("..") != std::string_view::npos)
    return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

// Parses the address text and remembers it for error messages.
class address_parser {
 public:
  explicit address_parser(std::string_view text) : text_(text) {}

  caf::expected<peer_address> run() {
    if (text_.empty())
      return make_error(errc::invalid_argument, "empty address");
    if (text_.front() == '/')
      return multiaddr();
    return host_port();
  }

 private:
  caf::error bad(const std::string& reason) const {
    return make_error(errc::invalid_argument,
                      "bad address '" + std::string{text_} + "': " + reason);
  }

  caf::error port(std::string_view digits, uint16_t& out) const {
    if (digits.empty())
      return bad("missing port");
    uint32_t value = 0;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return bad("port '" + std::string{digits} + "' is not a number");
      value = value * 10 + static_cast<uint32_t>(c - '0');
      if (value > 65535)
        return bad("port " + std::string{digits} +
                   " is out of range (0..65535)");
    }
    out = static_cast<uint16_t>(value);
    return caf::none;
  }

  caf::error id(std::string_view text, peer_address& out) const {
    if (text.empty())
      return bad("missing peer id after /p2p/");
    auto parsed = peer_id::parse(text);
    if (!parsed) {
      std::string reason;
      if (parsed.error().context().match_elements<std::string>())
        reason = parsed.error().context().get_as<std::string>(0);
      return bad("bad peer id: " + reason);
    }
    out.id = *parsed;
    return caf::none;
  }

  // HOST:PORT or [IPV6]:PORT, then optionally /p2p/ID.
  caf::expected<peer_address> host_port() {
    peer_address result;
    auto hp = text_;
    if (auto slash = hp.find('/'); slash != std::string_view::npos) {
      auto rest = hp.substr(slash);
      hp = hp.substr(0, slash);
      constexpr std::string_view p2p = "/p2p/";
      if (rest.substr(0, p2p.size()) != p2p)
        return bad("unexpected '" + std::string{rest} +
                   "' after the port (only /p2p/PEER_ID may follow)");
      if (auto err = id(rest.substr(p2p.size()), result))
        return err;
    }
    std::string_view port_text;
    if (!hp.empty() && hp.front() == '[') {
      auto close = hp.find(']');
      if (close == std::string_view::npos)
        return bad("missing ']' after IPv6 address");
      result.host = std::string{hp.substr(1, close - 1)};
      if (result.host.empty())
        return bad("missing host");
      if (!is_ipv6(result.host))
        return bad("'" + result.host + "' is not an IPv6 address");
      auto after = hp.substr(close + 1);
      if (after.empty())
        return bad("missing port (expected [HOST]:PORT)");
      if (after.front() != ':')
        return bad("expected ':' after ']'");
      port_text = after.substr(1);
    } else {
      auto colon = hp.rfind(':');
      if (colon == std::string_view::npos)
        return bad("missing port (expected HOST:PORT)");
      auto host = hp.substr(0, colon);
      if (host.find(':') != std::string_view::npos)
        return bad("an IPv6 host must be in brackets, e.g. [::1]:PORT");
      if (host.empty())
        return bad("missing host");
      result.host = std::string{host};
      if (looks_numeric(host)) {
        if (!is_ipv4(result.host))
          return bad("'" + result.host + "' is not an IPv4 address");
      } else if (!is_dns_name(host)) {
        return bad("'" + result.host + "' is not a valid host name");
      }
      port_text = hp.substr(colon + 1);
    }
    if (auto err = port(port_text, result.port))
      return err;
    return result;
  }

  // /PROTO/HOST/tcp/PORT[/p2p/ID]
  caf::expected<peer_address> multiaddr() {
    std::vector<std::string_view> parts;
    auto rest = text_.substr(1);
    for (;;) {
      auto slash = rest.find('/');
      parts.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos)
        break;
      rest = rest.substr(slash + 1);
    }
    if (std::any_of(parts.begin(), parts.end(),
                    [](std::string_view p) { return p.empty(); }))
      return bad("empty component (stray '/')");
    peer_address result;
    auto proto = parts[0];
    if (proto != "ip4" && proto != "ip6" && proto != "dns" && proto != "dns4" &&
        proto != "dns6")
      return bad("unknown protocol '" + std::string{proto} +
                 "' (expected ip4, ip6, dns, dns4 or dns6)");
    if (parts.size() < 2)
      return bad("missing host after /" + std::string{proto});
    result.host = std::string{parts[1]};
    if (proto == "ip4" && !is_ipv4(result.host))
      return bad("'" + result.host + "' is not an IPv4 address");
    if (proto == "ip6" && !is_ipv6(result.host))
      return bad("'" + result.host + "' is not an IPv6 address");
    if (proto[0] == 'd' && !is_dns_name(result.host))
      return bad("'" + result.host + "' is not a valid host name");
    if (parts.size() < 3)
      return bad("missing port (expected /tcp/PORT after the host)");
    if (parts[2] != "tcp")
      return bad("unknown protocol '" + std::string{parts[2]} +
                 "' (only tcp is supported)");
    if (parts.size() < 4)
      return bad("missing port after /tcp");
    if (auto err = port(parts[3], result.port))
      return err;
    if (parts.size() == 4)
      return result;
    // "ipfs" is the old name of "p2p" in multiaddrs.
    if (parts[4] != "p2p" && parts[4] != "ipfs")
      return bad("unknown protocol '" + std::string{parts[4]} +
                 "' (only /p2p/PEER_ID may follow the port)");
    if (parts.size() < 6)
      return bad("missing peer id after /" + std::string{parts[4]});
    if (auto err = id(parts[5], result))
      return err;
    if (parts.size() > 6)
      return bad("unexpected '/" + std::string{parts[6]} +
                 "' after the peer id");
    return result;
  }

  std::string_view text_;
};

} // namespace

caf::expected<peer_address> peer_address::parse(std::string_view text) {
  return address_parser{text}.run();
}

std::string peer_address::to_string() const {
  auto port_text = std::to_string(port);
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

std::string peer_address::to_multiaddr() const {
  std::string result;
  if (is_ipv4(host))
    result = "/ip4/";
  else if (host.find(':') != std::string::npos)
    result = "/ip6/";
  else
    result = "/dns/";
  result += host + "/tcp/" + std::to_string(port);
  if (id)
    result += "/p2p/" + id->to_string();
  return result;
}

} // namespace colony
