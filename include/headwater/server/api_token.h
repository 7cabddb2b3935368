#pragma once
// API tokens: only their SHA-256 is stored (feature_store.yaml `auth.tokens[].sha256`).

#include <string>
#include <string_view>

#include "headwater/registry/repo_config.h"

namespace headwater::server {

/// Tokens are stored as their Sha256Hex (core/text.h); `headwater hash-token` prints it.

/// The scopes the bearer token in an Authorization header value ("Bearer <token>") grants:
/// 0 for a missing, malformed or unknown token. Compares digests in constant time.
uint32_t GrantedScopes(const registry::AuthConfig& auth, std::string_view authorization);

}  // namespace headwater::server
