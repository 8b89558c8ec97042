// `colony token`: the swarm authority's side of access tokens.

#include "apps/cli/commands.hpp"
#include "messages/error.hpp"
#include "runtime/access_token.hpp"
#include "runtime/identity.hpp"

#include <cctype>
#include <ctime>
#include <iostream>
#include <optional>

namespace colony::apps {

namespace {

/// Most a token may be valid for: ten years.
constexpr int64_t max_validity_seconds = int64_t{10} * 366 * 24 * 3600;

/// Parses "90", "90s", "30m", "24h" or "7d" into seconds.
std::optional<int64_t> parse_validity(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[digits])) != 0)
    ++digits;
  if (digits == 0 || digits > 12 || text.size() - digits > 1)
    return std::nullopt;
  int64_t n = std::stoll(text.substr(0, digits));
  int64_t unit = 1;
  if (digits < text.size()) {
    switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
    }
  }
  if (n <= 0 || n > max_validity_seconds / unit)
    return std::nullopt;
  return n * unit;
}

std::string utc_text(int64_t unix_time) {
  auto t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

struct issue_args {
  std::string authority_key;
  std::string peer;
  std::string valid_for = "24h";
  std::string out;
};

int run_issue(const issue_args& args) {
  auto holder = peer_id::parse(args.peer);
  if (!holder) {
    std::cerr << "colony token issue: --peer: " << error_reason(holder.error())
              << std::endl;
    return usage_error_status;
  }
  auto seconds = parse_validity(args.valid_for);
  if (!seconds) {
    std::cerr << "colony token issue: --valid-for: '" << args.valid_for
              << "' is not a duration such as 3600, 90m, 24h or 30d (at most "
                 "ten years)"
              << std::endl;
    return usage_error_status;
  }
  auto authority = identity::load_or_create(args.authority_key);
  if (!authority) {
    std::cerr << "colony token issue: " << describe(authority.error())
              << std::endl;
    return 1;
  }
  auto token =
      access_token::issue(*authority, *holder, unix_seconds() + *seconds);
  if (args.out.empty()) {
    std::cout << token.to_text() << std::endl;
  } else if (auto err = write_access_token(args.out, token)) {
    std::cerr << "colony token issue: " << describe(err) << std::endl;
    return 1;
  }
  std::cerr << "token for " << holder->to_string() << " valid until "
            << utc_text(token.expires_at) << ", authority "
            << authority->peer_id().to_string() << std::endl;
  return 0;
}

int run_authority(const std::string& key) {
  auto authority = identity::load_or_create(key);
  if (!authority) {
    std::cerr << "colony token authority: " << describe(authority.error())
              << std::endl;
    return 1;
  }
  // The value of `[node] swarm_authority` in every node's config.
  std::cout << authority->peer_id().to_string() << std::endl;
  return 0;
}

int run_show(const std::string& path, const std::string& authority_text) {
  auto token = read_access_token(path);
  if (!token) {
    std::cerr << "colony token show: " << describe(token.error()) << std::endl;
    return 1;
  }
  auto now = unix_seconds();
  std::cout << "holder: " << token->holder.to_string() << "\n"
            << "expires: " << utc_text(token->expires_at)
            << (token->expires_at <= now ? " (expired)" : "") << std::endl;
  if (authority_text.empty())
    return token->expires_at <= now ? 1 : 0;
  auto authority = peer_id::parse(authority_text);
  if (!authority) {
    std::cerr << "colony token show: --authority: "
              << error_reason(authority.error()) << std::endl;
    return usage_error_status;
  }
  if (auto err = token->verify(*authority, token->holder, now)) {
    std::cout << "invalid: " << error_reason(err) << std::endl;
    return 1;
  }
  std::cout << "valid for swarm authority " << authority->to_string()
            << std::endl;
  return 0;
}

} // namespace

void add_token_command(CLI::App& app) {
  auto* token = app.add_subcommand(
      "token", "swarm access tokens: the authority's key, issuing, checking");
  token->require_subcommand(1);

  auto* authority = token->add_subcommand(
      "authority", "print the authority's peer id (the nodes' "
                   "swarm_authority), creating its key file if missing");
  auto key = std::make_shared<std::string>();
  authority->add_option("--key", *key, "the authority's key file")->required();
  authority->callback([key] { exit_with(run_authority(*key)); });

  auto* issue = token->add_subcommand(
      "issue", "sign a token that lets one peer join until a time");
  auto args = std::make_shared<issue_args>();
  issue
      ->add_option("--authority-key", args->authority_key,
                   "the authority's key file (created if missing)")
      ->required();
  issue->add_option("--peer", args->peer, "the holder's peer id")->required();
  issue
      ->add_option("--valid-for", args->valid_for,
                   "how long: seconds, or with a unit: 90m, 24h, 30d")
      ->capture_default_str();
  issue->add_option("--out", args->out,
                    "token file to write (default: print the token)");
  issue->callback([args] { exit_with(run_issue(*args)); });

  auto* show = token->add_subcommand(
      "show", "print a token's holder and expiry; with --authority, check it");
  auto path = std::make_shared<std::string>();
  auto expected_authority = std::make_shared<std::string>();
  show->add_option("FILE", *path, "token file")->required();
  show->add_option("--authority", *expected_authority,
                   "the swarm authority's peer id to check the signature");
  show->callback([path, expected_authority] {
    exit_with(run_show(*path, *expected_authority));
  });
}

} // namespace colony::apps
