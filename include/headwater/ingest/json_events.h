#pragma once
// Decodes JSON messages (one object per message) into Arrow record batches with a source's
// columns. A message that does not fit — not JSON, not an object, a key or time missing or null,
// a value of the wrong type — is refused whole with a reason naming the field, and nothing of it
// is appended; the caller dead-letters it and goes on.
//
// Values follow the one rule set of ingest/json_rows.h, as pushed rows do; event and created
// times must also lie within the EventTimeBounds. Members that are not columns are ignored; a
// missing non-key column is null. Messages are bounded like every JSON input
// (core/json_reader.h).

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/ingest/event_time_bounds.h"

namespace headwater::ingest {

class JsonEventDecoder {
 public:
  /// `schema`: the columns to fill (a batch source's). `required`: columns that may not be
  /// missing or null (join keys and the event time). `event_times`: timestamp columns whose
  /// values must lie within the bounds given to Append (the event and created times).
  static Result<std::unique_ptr<JsonEventDecoder>> Make(std::shared_ptr<arrow::Schema> schema,
                                                        std::vector<std::string> required,
                                                        std::vector<std::string> event_times);
  ~JsonEventDecoder();

  /// Appends one message, or returns Invalid with the reason and appends nothing.
  Status Append(std::string_view message, const EventTimeBounds& bounds);
  int64_t rows() const { return rows_; }
  /// The rows appended since the last Flush.
  Result<std::shared_ptr<arrow::RecordBatch>> Flush();

 private:
  struct Impl;
  explicit JsonEventDecoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int64_t rows_ = 0;
};

}  // namespace headwater::ingest
