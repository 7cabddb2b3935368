#pragma once
// The registry file format: a registry as JSON text and back (also `registry-dump`'s output).

#include <string>

#include "headwater/core/status.h"
#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// Serialises a registry as JSON (the registry file format and `registry-dump` output). With
/// `indent` > 0 the text is pretty-printed. Source locations are stored for people to read;
/// plan and apply do not compare them.
std::string RegistryToJson(const Registry& registry, int indent = 2);

/// Parses what RegistryToJson wrote. `what` names the text in errors. Bounded like every JSON
/// input (core/json_reader.h); every object name must pass CheckName.
Result<Registry> RegistryFromJson(const std::string& text, const std::string& what);

}  // namespace headwater::registry
