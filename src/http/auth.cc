#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include <jwt.h>
#include <simdjson.h>

#include "util/hash.h"

namespace eddy {
namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
struct CFree {
  void operator()(char* p) const { free(p); }
};

// The JSON array (or string) of grant `name` as strings; false if it is something else.
bool GrantStrings(jwt_t* jwt, const char* name, std::vector<std::string>* out) {
  if (const char* s = jwt_get_grant(jwt, name)) {
    out->emplace_back(s);
    return true;
  }
  std::unique_ptr<char, CFree> json(jwt_get_grants_json(jwt, name));
  if (!json) return true;  // absent
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(json.get(), std::strlen(json.get())).get(e)) return false;
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return false;
  for (simdjson::dom::element v : arr) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out->emplace_back(s);
  }
  return true;
}

// A numeric date grant: nullopt when absent; false on a non-number.
bool GrantTime(jwt_t* jwt, const char* name, std::optional<int64_t>* out) {
  errno = 0;
  const long v = jwt_get_grant_int(jwt, name);
  if (errno == ENOENT) return true;
  if (errno != 0) return false;
  *out = v;
  return true;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return HexOf(std::string_view(reinterpret_cast<const char*>(digest), len));
}

bool Authenticator::Authenticate(std::string_view token, int64_t now_s, Principal* out,
                                 std::string* why) {
  if (token.empty()) {
    *why = "authentication required: send Authorization: Bearer <API key or JWT>";
    return false;
  }
  if (auto it = cache_.find(absl::string_view(token.data(), token.size())); it != cache_.end()) {
    // A cached JWT is good until its exp (nbf passed when it was cached).
    if (it->second.expires_s >= now_s - options_.jwt_leeway_s) {
      *out = it->second.principal;
      return true;
    }
    cache_.erase(it);
  }
  int64_t expires_s = std::numeric_limits<int64_t>::max();
  const bool jwt = std::count(token.begin(), token.end(), '.') == 2;
  if (!(jwt ? Jwt(token, now_s, out, &expires_s, why) : ApiKey(token, out, why))) return false;
  if (cache_.size() >= kCacheMax) cache_.clear();  // bounded; refilled by the next requests
  cache_.emplace(std::string(token), Cached{*out, expires_s});
  return true;
}

bool Authenticator::ApiKey(std::string_view key, Principal* out, std::string* why) const {
  const std::string hash = Sha256Hex(key);
  for (const eddy::ApiKey& k : options_.keys) {
    if (CRYPTO_memcmp(hash.data(), k.sha256.data(), hash.size()) == 0) {
      out->id = k.id;
      out->scopes = k.scopes;
      return true;
    }
  }
  *why = "invalid API key";
  return false;
}

bool Authenticator::Jwt(std::string_view token, int64_t now_s, Principal* out,
                        int64_t* expires_s, std::string* why) const {
  if (options_.jwt_secret.empty()) {
    *why = "JWTs are not accepted here (auth.jwt_secret is not set)";
    return false;
  }
  jwt_t* raw = nullptr;
  const std::string t(token);
  const int rc = jwt_decode(&raw, t.c_str(),
                            reinterpret_cast<const unsigned char*>(options_.jwt_secret.data()),
                            static_cast<int>(options_.jwt_secret.size()));
  std::unique_ptr<jwt_t, JwtFree> jwt(raw);
  if (rc != 0 || !jwt) {
    *why = "invalid JWT: malformed or bad signature";
    return false;
  }
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    *why = std::string("invalid JWT: algorithm ") + jwt_alg_str(jwt_get_alg(jwt.get())) +
           ", only HS256 is accepted";
    return false;
  }
  std::optional<int64_t> exp, nbf;
  if (!GrantTime(jwt.get(), "exp", &exp) || !GrantTime(jwt.get(), "nbf", &nbf)) {
    *why = "invalid JWT: exp and nbf must be numbers (Unix seconds)";
    return false;
  }
  if (!exp) {
    *why = "invalid JWT: no exp (tokens must expire)";
    return false;
  }
  if (*exp + options_.jwt_leeway_s < now_s) {
    *why = "JWT expired at " + std::to_string(*exp) + " (now " + std::to_string(now_s) + ")";
    return false;
  }
  if (nbf && *nbf - options_.jwt_leeway_s > now_s) {
    *why = "JWT not valid before " + std::to_string(*nbf) + " (now " + std::to_string(now_s) + ")";
    return false;
  }
  std::vector<std::string> aud;
  if (!GrantStrings(jwt.get(), "aud", &aud) ||
      std::find(aud.begin(), aud.end(), options_.jwt_audience) == aud.end()) {
    *why = "JWT audience is not \"" + options_.jwt_audience + "\"";
    return false;
  }
  if (!options_.jwt_issuer.empty()) {
    const char* iss = jwt_get_grant(jwt.get(), "iss");
    if (iss == nullptr || options_.jwt_issuer != iss) {
      *why = "JWT issuer is not \"" + options_.jwt_issuer + "\"";
      return false;
    }
  }
  std::vector<std::string> scopes;
  if (const char* s = jwt_get_grant(jwt.get(), "scope")) {
    std::string_view rest(s);
    while (!rest.empty()) {
      const size_t sp = rest.find(' ');
      if (sp != 0) scopes.emplace_back(rest.substr(0, sp));
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    }
  } else if (!GrantStrings(jwt.get(), "scopes", &scopes)) {
    *why = "invalid JWT: scopes must be an array of strings";
    return false;
  }
  out->scopes = 0;
  for (const std::string& s : scopes) out->scopes |= AuthScopeOf(s);  // others ignored
  const char* sub = jwt_get_grant(jwt.get(), "sub");
  out->id = "jwt:" + std::string(sub != nullptr ? sub : "");
  *expires_s = *exp;
  out->expires_s = *exp + options_.jwt_leeway_s;
  return true;
}

}  // namespace eddy
