#pragma once
// Errors in the shape Feast's clients read. Feast's remote online store, its remote offline
// store and its feature server pass errors as one JSON document,
//
//   {"module": "feast.errors", "class": "FeatureViewNotFoundException", "message": "..."}
//
// which the client turns back into that exception class (`FeastError.from_error_detail`). Over
// HTTP the document is the response body as a JSON *string*; over Arrow Flight it is the error
// message. The class follows the kind of object a NotFound status names (core/status.h) and the
// HTTP status.

#include <optional>
#include <string>
#include <string_view>

#include "headwater/core/status.h"

namespace headwater::server {

/// The Feast class for an error answered with `http_status` (401 and 403 are
/// FeastPermissionError, other 404s FeastObjectNotFoundException) about a `missing` object.
std::string FeastErrorClass(int http_status, std::optional<Missing> missing);

/// The error document as JSON object text.
std::string FeastErrorDetail(int http_status, std::optional<Missing> missing,
                             std::string_view message);

}  // namespace headwater::server
