#include "headwater/server/api_token.h"

#include "headwater/core/text.h"

namespace headwater::server {

uint32_t GrantedScopes(const registry::AuthConfig& auth, std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return 0;
  }
  const std::string digest = Sha256Hex(authorization.substr(kBearer.size()));
  uint32_t granted = 0;
  for (const registry::ApiToken& token : auth.tokens) {
    // Constant-time comparison: every byte is looked at whatever matches.
    unsigned char difference = token.sha256.size() == digest.size() ? 0 : 1;
    for (size_t i = 0; i < digest.size() && i < token.sha256.size(); ++i) {
      difference |= static_cast<unsigned char>(token.sha256[i] ^ digest[i]);
    }
    if (difference == 0) granted |= token.scopes;
  }
  return granted;
}

}  // namespace headwater::server
