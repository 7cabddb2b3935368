#pragma once
// Source columns read as the features they are declared (core CastsOnRead says which are
// accepted): the one conversion the offline reader, materialization and writes share.

#include <arrow/type_fwd.h>

#include <memory>

#include "headwater/core/status.h"
#include "headwater/core/types.h"

namespace headwater::engine {

/// `column` as ToArrowType(declared), for a column CastsOnRead accepts: numbers cast safely (a
/// value that does not fit is Invalid; nanosecond times keep their microseconds); for Json,
/// structs and maps become JSON text and JSON text is checked (Invalid naming the first row
/// that is not a JSON document).
Result<std::shared_ptr<arrow::Array>> ReadAsFeature(const std::shared_ptr<arrow::Array>& column,
                                                    FeatureType declared);

}  // namespace headwater::engine
