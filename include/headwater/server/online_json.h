#pragma once
// Feast's JSON for online reads, both ways: the `entities` of a request to entity rows, and an
// online read's answer (online::OnlineFeatures, rendered from its values by type) to the
// feature server's response,
//
//   {"metadata": {"feature_names": ["driver_id", "conv_rate", ...]},
//    "results": [{"values": [...], "statuses": [...], "event_timestamps": [...]}, ...]}
//
// one result per column: entity columns first (as given, status PRESENT, time 1970-01-01; the
// request values of on-demand views are not echoed, as in Feast), then the features in request
// order. `headwater serve` and `headwater get-online-features` answer
// with exactly this text.

#include <arrow/type_fwd.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>

#include "headwater/core/types.h"
#include "headwater/online/online_reader.h"

namespace headwater::server {

/// The `entities` object ({"driver_id": [1001, 1002], ...}) as entity rows, a column per member
/// in order (a repeated name counts once): the join keys and request values in `column_types`
/// read as their types by the rules of ingest/json_rows.h, other members kept when every value is
/// an integer or every value a string, and null otherwise (they are only echoed). Invalid, naming
/// the member and row, for anything else ("entities.driver_id[1]: expected an integer, got the
/// string \"7\""). The rows point into `entities`, which must outlive them.
Result<online::EntityRows> EntitiesFromJson(const rapidjson::Value& entities,
                                            const std::map<std::string, FeatureType>& column_types);

/// The response text of an online read of `entities`.
std::string OnlineFeaturesJson(const online::EntityRows& entities,
                               const online::OnlineFeatures& features);

}  // namespace headwater::server
