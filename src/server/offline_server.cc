#include "headwater/server/offline_server.h"

#include <arrow/api.h>
#include <arrow/flight/api.h>
#include <arrow/util/align_util.h>
#include <arrow/util/byte_size.h>
#include <rapidjson/document.h>

#include <csignal>

#include "headwater/core/json_reader.h"
#include "headwater/core/time.h"
#include "headwater/server/api_token.h"
#include "headwater/server/feast_error.h"
#include "headwater/store/feature_store.h"

namespace headwater::server {
namespace {

namespace flight = arrow::flight;

// The scopes the caller's token grants, found by the middleware before any handler runs.
class Grant : public flight::ServerMiddleware {
 public:
  explicit Grant(uint32_t scopes) : scopes_(scopes) {}
  std::string name() const override { return "Grant"; }
  void SendingHeaders(flight::AddCallHeaders*) override {}
  void CallCompleted(const Status&) override {}
  uint32_t scopes() const { return scopes_; }

 private:
  uint32_t scopes_;
};

class GrantFactory : public flight::ServerMiddlewareFactory {
 public:
  explicit GrantFactory(const registry::AuthConfig& auth) : auth_(auth) {}
  Status StartCall(const flight::CallInfo&, const flight::ServerCallContext& context,
                   std::shared_ptr<flight::ServerMiddleware>* middleware) override {
    auto header = context.incoming_headers().find("authorization");
    const std::string_view authorization =
        header == context.incoming_headers().end() ? std::string_view() : header->second;
    *middleware =
        std::make_shared<Grant>(authorization.empty() ? 0u : GrantedScopes(auth_, authorization));
    return Status::OK();
  }

 private:
  const registry::AuthConfig& auth_;
};

// A failure as Feast's client reads it: "Flight error: " and its error document, as Feast's own
// server answers a FeastError (pyarrow sends it as an unknown error with that prefix).
Status FeastFailure(int http_status, const Status& status) {
  return Status::UnknownError("Flight error: ",
                              FeastErrorDetail(http_status, MissingOf(status), status.message()));
}

Result<std::string> String(const rapidjson::Value& command, const char* key, bool required) {
  auto it = command.FindMember(key);
  if (it == command.MemberEnd() || it->value.IsNull()) {
    if (required) return Status::Invalid("the command has no \"", key, "\"");
    return std::string();
  }
  if (!it->value.IsString()) return Status::Invalid("\"", key, "\" must be a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<std::vector<std::string>> Strings(const rapidjson::Value& command, const char* key) {
  std::vector<std::string> out;
  auto it = command.FindMember(key);
  if (it == command.MemberEnd() || it->value.IsNull()) return out;
  if (!it->value.IsArray()) return Status::Invalid("\"", key, "\" must be a list of strings");
  for (const auto& element : it->value.GetArray()) {
    if (!element.IsString()) return Status::Invalid("\"", key, "\" must be a list of strings");
    out.emplace_back(element.GetString(), element.GetStringLength());
  }
  return out;
}

Result<std::optional<Timestamp>> Time(const rapidjson::Value& command, const char* key) {
  ARROW_ASSIGN_OR_RAISE(auto text, String(command, key, false));
  if (text.empty()) return std::nullopt;
  auto parsed = ParseTimestamp(text);
  if (!parsed.ok()) return Status::Invalid("\"", key, "\": ", parsed.status().message());
  return *parsed;
}

// The entity rows' timestamp column: "event_timestamp", or else the one timestamp column (as
// Feast infers it).
Result<std::string> EventTimestampColumn(const arrow::Schema& schema) {
  if (schema.GetFieldByName("event_timestamp") != nullptr) return std::string("event_timestamp");
  std::string found;
  for (const auto& field : schema.fields()) {
    if (field->type()->id() != arrow::Type::TIMESTAMP) continue;
    if (!found.empty()) {
      return Status::Invalid("the entity rows have several timestamp columns ('", found, "', '",
                             field->name(), "'); name the one to join at 'event_timestamp'");
    }
    found = field->name();
  }
  if (found.empty()) return Status::Invalid("the entity rows have no timestamp column");
  return found;
}

// Everything a client sent, its buffers aligned for their types: buffers read off the wire can
// start at any byte, and every reader below loads values as their type (UBSan reported a
// misaligned int64 load on a put).
Result<std::shared_ptr<arrow::Table>> Received(flight::FlightMessageReader& reader) {
  ARROW_ASSIGN_OR_RAISE(auto table, reader.ToTable());
  return arrow::util::EnsureAlignment(std::move(table), arrow::util::kValueAlignment,
                                      arrow::default_memory_pool());
}

// Reads and drops what a client is still sending before the server answers with an error. Feast's
// client writes its whole upload before it reads the answer, and only the read turns an error into
// a Feast exception: refused early, its write fails first with a bare Flight error, sooner or later
// depending on timing. Bounded, so a refused client cannot make the server read forever.
void Drain(flight::FlightMessageReader& reader) {
  constexpr int64_t kMaxDrainedBytes = int64_t{64} << 20;
  int64_t drained = 0;
  while (drained < kMaxDrainedBytes) {
    auto chunk = reader.Next();
    if (!chunk.ok() || chunk->data == nullptr) return;
    drained += arrow::util::TotalBufferSize(*chunk->data);
  }
}

class OfflineServer : public flight::FlightServerBase {
 public:
  OfflineServer(std::unique_ptr<store::FeatureStore> store) : store_(std::move(store)) {}

  Status DoExchange(const flight::ServerCallContext& context,
                    std::unique_ptr<flight::FlightMessageReader> reader,
                    std::unique_ptr<flight::FlightMessageWriter> writer) override {
    auto run = [&]() -> Result<std::shared_ptr<arrow::Table>> {
      rapidjson::Document command;
      ARROW_ASSIGN_OR_RAISE(auto api, Command(reader->descriptor(), &command));
      ARROW_RETURN_NOT_OK(Allow(context, registry::kReadOffline, api));
      ARROW_ASSIGN_OR_RAISE(auto input, Received(*reader));
      if (api == "get_historical_features") return Historical(command, std::move(input));
      if (api == "pull_latest_from_table_or_query") return Pull(command, true);
      if (api == "pull_all_from_table_or_query") return Pull(command, false);
      if (api == "get_table_column_names_and_types_from_data_source") return Columns(command);
      return Status::Invalid("unsupported offline API '", api,
                             "' (get_historical_features, pull_latest_from_table_or_query, "
                             "pull_all_from_table_or_query; offline_write_batch by DoPut)");
    };
    auto table = run();
    if (!table.ok()) {
      Drain(*reader);
      return Fail(table.status());
    }
    ARROW_RETURN_NOT_OK(writer->Begin((*table)->schema()));
    ARROW_RETURN_NOT_OK(writer->WriteTable(**table));
    return writer->Close();
  }

  Status DoPut(const flight::ServerCallContext& context,
               std::unique_ptr<flight::FlightMessageReader> reader,
               std::unique_ptr<flight::FlightMetadataWriter>) override {
    auto run = [&]() -> Status {
      rapidjson::Document command;
      ARROW_ASSIGN_OR_RAISE(auto api, Command(reader->descriptor(), &command));
      if (api == "validate_data_source") {
        ARROW_RETURN_NOT_OK(Allow(context, registry::kReadOffline, api));
        return reader->ToTable().status();
      }
      if (api != "offline_write_batch") {
        return Status::Invalid("unsupported offline API '", api, "' for a put");
      }
      ARROW_RETURN_NOT_OK(Allow(context, registry::kWriteOffline, api));
      ARROW_ASSIGN_OR_RAISE(auto views, Strings(command, "feature_view_names"));
      if (views.size() != 1) {
        return Status::Invalid("offline_write_batch writes one feature view, not ", views.size());
      }
      ARROW_ASSIGN_OR_RAISE(auto rows, Received(*reader));  // all of it before any write
      return store_->WriteToOfflineStore(views[0], *rows).status();
    };
    Status status = run();
    if (status.ok()) return status;
    Drain(*reader);
    return Fail(status);
  }

 private:
  Result<std::string> Command(const flight::FlightDescriptor& descriptor,
                              rapidjson::Document* command) {
    if (descriptor.type != flight::FlightDescriptor::CMD) {
      return Status::Invalid("the descriptor must be a command");
    }
    ARROW_RETURN_NOT_OK(ParseJson(descriptor.cmd, "the command", command));
    if (!command->IsObject()) return Status::Invalid("the command must be a JSON object");
    return String(*command, "api", true);
  }

  Status Allow(const flight::ServerCallContext& context, uint32_t scope, const std::string& api) {
    if (!store_->config().auth.enabled) return Status::OK();
    auto* grant = static_cast<Grant*>(context.GetMiddleware("grant"));
    const uint32_t scopes = grant == nullptr ? 0 : grant->scopes();
    if (scopes == 0) {
      return Status::Invalid("unauthorized: send an API token (authorization: Bearer <token>)")
          .WithDetail(std::make_shared<flight::FlightStatusDetail>(
              flight::FlightStatusCode::Unauthenticated));
    }
    if ((scopes & scope) == 0) {
      return Status::Invalid("forbidden: the API token lacks the scope ", api, " needs")
          .WithDetail(
              std::make_shared<flight::FlightStatusDetail>(flight::FlightStatusCode::Unauthorized));
    }
    return Status::OK();
  }

  static Status Fail(const Status& status) {
    int http = 500;
    if (auto detail = flight::FlightStatusDetail::UnwrapStatus(status)) {
      if (detail->code() == flight::FlightStatusCode::Unauthenticated) http = 401;
      if (detail->code() == flight::FlightStatusCode::Unauthorized) http = 403;
    }
    if (http == 500 && status.IsKeyError()) http = 404;
    if (http == 500 && (status.IsInvalid() || status.IsTypeError())) http = 400;
    return FeastFailure(http, status);
  }

  Result<std::shared_ptr<arrow::Table>> Historical(const rapidjson::Value& command,
                                                   std::shared_ptr<arrow::Table> entity_rows) {
    ARROW_ASSIGN_OR_RAISE(auto sql, String(command, "entity_df_sql", false));
    if (!sql.empty()) {
      return Status::Invalid("entity rows as SQL are not supported here; send a DataFrame");
    }
    store::FeatureSelection selection;
    ARROW_ASSIGN_OR_RAISE(selection.references, Strings(command, "feature_refs"));
    offline::HistoricalRetrievalOptions options;
    auto full = command.FindMember("full_feature_names");
    if (full != command.MemberEnd() && !full->value.IsNull()) {
      if (!full->value.IsBool()) return Status::Invalid("\"full_feature_names\" must be a bool");
      options.full_feature_names = full->value.GetBool();
    }
    entity_rows = entity_rows->ReplaceSchemaMetadata(nullptr);  // pandas' metadata
    ARROW_ASSIGN_OR_RAISE(options.timestamp_column, EventTimestampColumn(*entity_rows->schema()));
    return store_->GetHistoricalFeatures(entity_rows, selection, options);
  }

  Result<std::shared_ptr<arrow::Table>> Pull(const rapidjson::Value& command, bool latest) {
    offline::PullRequest request;
    ARROW_ASSIGN_OR_RAISE(auto source, String(command, "data_source_name", true));
    ARROW_ASSIGN_OR_RAISE(request.join_keys, Strings(command, "join_key_columns"));
    ARROW_ASSIGN_OR_RAISE(request.features, Strings(command, "feature_name_columns"));
    ARROW_ASSIGN_OR_RAISE(request.timestamp_field, String(command, "timestamp_field", true));
    ARROW_ASSIGN_OR_RAISE(request.created_timestamp_column,
                          String(command, "created_timestamp_column", false));
    ARROW_ASSIGN_OR_RAISE(request.start, Time(command, "start_date"));
    ARROW_ASSIGN_OR_RAISE(request.end, Time(command, "end_date"));
    return store_->PullFromSource(source, request, latest);
  }

  // A source's columns as Feast's file source lists them: name and Arrow type text.
  Result<std::shared_ptr<arrow::Table>> Columns(const rapidjson::Value& command) {
    // The data source as Feast's client sends it: its protobuf message as JSON text.
    ARROW_ASSIGN_OR_RAISE(auto text, String(command, "data_source_proto", true));
    rapidjson::Document source;
    ARROW_RETURN_NOT_OK(ParseJson(text, "data_source_proto", &source));
    if (!source.IsObject()) return Status::Invalid("data_source_proto must be a JSON object");
    ARROW_ASSIGN_OR_RAISE(auto name, String(source, "name", true));
    ARROW_ASSIGN_OR_RAISE(auto schema, store_->SourceSchema(name));
    arrow::StringBuilder names, types;
    for (const auto& field : schema->fields()) {
      ARROW_RETURN_NOT_OK(names.Append(field->name()));
      ARROW_RETURN_NOT_OK(types.Append(field->type()->ToString()));
    }
    ARROW_ASSIGN_OR_RAISE(auto name_column, names.Finish());
    ARROW_ASSIGN_OR_RAISE(auto type_column, types.Finish());
    return arrow::Table::Make(
        arrow::schema({arrow::field("name", arrow::utf8()), arrow::field("type", arrow::utf8())}),
        {name_column, type_column});
  }

  std::unique_ptr<store::FeatureStore> store_;
};

}  // namespace

Status ServeOffline(const registry::RepoConfig& config, const OfflineServerOptions& options,
                    const std::function<void()>& on_listening) {
  store::OpenOptions open;
  open.online = store::OnlineAccess::kOnDemand;  // training data needs no online store
  open.refresh_on_use = true;                    // each call sees the latest apply
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(config, std::move(open)));
  ARROW_RETURN_NOT_OK(store->Applied().status());  // nothing to serve before an apply
  ARROW_ASSIGN_OR_RAISE(auto location, flight::Location::ForGrpcTcp(options.host, options.port));
  flight::FlightServerOptions server_options(location);
  server_options.middleware.emplace_back("grant", std::make_shared<GrantFactory>(config.auth));
  OfflineServer server(std::move(store));
  ARROW_RETURN_NOT_OK(server.Init(server_options));
  ARROW_RETURN_NOT_OK(server.SetShutdownOnSignals({SIGINT, SIGTERM}));
  if (on_listening) on_listening();
  return server.Serve();
}

}  // namespace headwater::server
