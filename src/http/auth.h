#pragma once
// Authentication of HTTP requests (auth.enabled): API keys and HS256 JWTs, each carrying
// scopes (read, ingest, admin). A credential comes as `Authorization: Bearer <token>`
// (a JWT is recognised by its two dots; anything else is an API key), as `X-API-Key:
// <key>`, or — for GET, where a browser's EventSource cannot set headers — as the
// `access_token` query parameter. API keys are compared by SHA-256 (the config holds only
// hashes), in constant time. A JWT must be HS256-signed with auth.jwt_secret, carry `exp`
// (and pass `nbf` when present) within auth.jwt_leeway_s, have auth.jwt_audience in `aud`,
// and auth.jwt_issuer as `iss` when that is set; its scopes come from `scope` (a space-
// separated string) or `scopes` (an array), its id from `sub`.
//
// Thread-safety: one Authenticator per I/O thread (it caches verified credentials: a
// client's repeated token costs a hash lookup, not an HMAC); none shared.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "eddy/options.h"

namespace eddy {

// SHA-256 of `data`, as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

struct Principal {
  std::string id;      // the API key's id, or "jwt:<sub>"
  uint8_t scopes = 0;  // AuthScope bits
  int64_t expires_s = INT64_MAX;  // a JWT's exp plus the leeway (Unix seconds)
};

class Authenticator {
 public:
  explicit Authenticator(const AuthOptions& options) : options_(options) {}

  // The credential's principal, or why it is refused (an empty `token` is "no credential").
  // `now_s`: Unix seconds.
  bool Authenticate(std::string_view token, int64_t now_s, Principal* out, std::string* why);

 private:
  bool ApiKey(std::string_view key, Principal* out, std::string* why) const;
  bool Jwt(std::string_view token, int64_t now_s, Principal* out, int64_t* expires_s,
           std::string* why) const;

  struct Cached {
    Principal principal;
    int64_t expires_s;  // INT64_MAX for API keys
  };
  static constexpr size_t kCacheMax = 4096;
  const AuthOptions options_;
  absl::flat_hash_map<std::string, Cached> cache_;  // credential -> principal
};

}  // namespace eddy
