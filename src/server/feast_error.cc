#include "headwater/server/feast_error.h"

#include "headwater/core/json_writer.h"
#include "headwater/core/text.h"

namespace headwater::server {

std::string FeastErrorClass(int http_status, std::optional<Missing> missing) {
  if (http_status == 401 || http_status == 403) return "FeastPermissionError";
  switch (missing.value_or(Missing::kFeature)) {
    case Missing::kFeatureView:
      return "FeatureViewNotFoundException";
    case Missing::kOnDemandFeatureView:
      return "OnDemandFeatureViewNotFoundException";
    case Missing::kFeatureService:
      return "FeatureServiceNotFoundException";
    case Missing::kPushSource:
      return "PushSourceNotFoundException";
    case Missing::kFeature:
      break;
  }
  return http_status == 404 ? "FeastObjectNotFoundException" : "FeastError";
}

std::string FeastErrorDetail(int http_status, std::optional<Missing> missing,
                             std::string_view message) {
  JsonWriter writer;
  writer.BeginObject().Key("module").String("feast.errors");
  writer.Key("class").String(FeastErrorClass(http_status, missing));
  writer.Key("message").String(PrintableText(message)).EndObject();
  return writer.Take();
}

}  // namespace headwater::server
