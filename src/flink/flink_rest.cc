#include "headwater/flink/flink_rest.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"

namespace headwater::flink {
namespace {

struct Response {
  long code = 0;
  std::string body;
};

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One HTTP exchange. `body` empty: no request body.
Result<Response> Http(const std::string& method, const std::string& url, const std::string& body,
                      long timeout_ms = 10'000) {
  static std::once_flag initialized;
  std::call_once(initialized, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::OutOfMemory("cannot start an HTTP client");
  Response response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return Status::IOError("Flink at ", url, " is unreachable: ", curl_easy_strerror(code));
  }
  return response;
}

// The first cause in a Flink error that is not the REST layer wrapping it: what the user did.
std::string FlinkError(const std::string& text) {
  std::string found;
  size_t at = 0;
  while ((at = text.find("Caused by: ", at)) != std::string::npos) {
    at += 11;
    const size_t end = text.find('\n', at);
    std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.find("SqlGatewayException") == std::string::npos &&
        line.find("SqlExecutionException") == std::string::npos &&
        line.find("RestHandlerException") == std::string::npos) {
      return line;
    }
    found = line;
  }
  if (!found.empty()) return found;
  return text.substr(0, std::min<size_t>(text.size(), 500));
}

// Parses a JSON answer; a status >= 400 becomes an error with Flink's own message.
Result<rapidjson::Document> Json(const Response& response, std::string_view what) {
  rapidjson::Document document;
  Status parsed = ParseJson(response.body, what, &document);
  if (response.code >= 400) {
    std::string detail;
    if (parsed.ok() && document.IsObject() && document.HasMember("errors") &&
        document["errors"].IsArray()) {
      for (const auto& error : document["errors"].GetArray()) {
        if (error.IsString()) detail = FlinkError(error.GetString());
      }
    }
    return Status::IOError(what, ": HTTP ", response.code, detail.empty() ? "" : ": ", detail);
  }
  ARROW_RETURN_NOT_OK(parsed);
  if (!document.IsObject()) return Status::IOError(what, ": not a JSON object");
  return document;
}

std::string String(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

int64_t Int(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

}  // namespace

bool JobInfo::alive() const {
  return state != "FINISHED" && state != "FAILED" && state != "CANCELED" && state != "SUSPENDED";
}

Status FlinkRest::Ping() const {
  ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/overview", ""));
  return Json(response, "Flink JobManager " + rest_).status();
}

Result<std::vector<JobInfo>> FlinkRest::ListJobs() const {
  ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/jobs/overview", ""));
  ARROW_ASSIGN_OR_RAISE(auto document, Json(response, "Flink JobManager " + rest_));
  std::vector<JobInfo> jobs;
  if (!document.HasMember("jobs") || !document["jobs"].IsArray()) return jobs;
  for (const auto& job : document["jobs"].GetArray()) {
    if (!job.IsObject()) continue;
    jobs.push_back(
        {String(job, "jid"), String(job, "name"), String(job, "state"), Int(job, "start-time")});
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const JobInfo& a, const JobInfo& b) { return a.start_time > b.start_time; });
  return jobs;
}

Status FlinkRest::Cancel(const std::string& job_id) const {
  ARROW_ASSIGN_OR_RAISE(auto response,
                        Http("PATCH", rest_ + "/jobs/" + job_id + "?mode=cancel", ""));
  if (response.code >= 400) {
    return Json(response, "cancelling Flink job " + job_id).status();
  }
  return Status::OK();
}

Result<std::string> FlinkRest::StopWithSavepoint(const std::string& job_id,
                                                 const std::string& directory) const {
  JsonWriter body;
  body.BeginObject().Key("drain").Bool(false).Key("targetDirectory").String(directory);
  body.Key("formatType").String("CANONICAL").EndObject();
  const std::string what = "stopping Flink job " + job_id;
  ARROW_ASSIGN_OR_RAISE(auto response,
                        Http("POST", rest_ + "/jobs/" + job_id + "/stop", body.Take()));
  ARROW_ASSIGN_OR_RAISE(auto trigger, Json(response, what));
  const std::string id = String(trigger, "request-id");
  if (id.empty()) return Status::IOError(what, ": no request id in ", response.body);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    ARROW_ASSIGN_OR_RAISE(auto polled,
                          Http("GET", rest_ + "/jobs/" + job_id + "/savepoints/" + id, ""));
    ARROW_ASSIGN_OR_RAISE(auto status, Json(polled, what));
    if (status.HasMember("status") && status["status"].IsObject() &&
        String(status["status"], "id") == "COMPLETED") {
      const auto& operation = status["operation"];
      if (operation.IsObject() && operation.HasMember("location")) {
        return String(operation, "location");
      }
      std::string cause = operation.IsObject() && operation.HasMember("failure-cause")
                              ? String(operation["failure-cause"], "stack-trace")
                              : polled.body;
      return Status::IOError(what, ": the savepoint failed: ", FlinkError(cause));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::IOError(what, ": no savepoint after 5 minutes");
}

Result<CheckpointInfo> FlinkRest::Checkpoints(const std::string& job_id) const {
  ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/jobs/" + job_id + "/checkpoints", ""));
  ARROW_ASSIGN_OR_RAISE(auto document, Json(response, "checkpoints of Flink job " + job_id));
  CheckpointInfo info;
  if (document.HasMember("counts") && document["counts"].IsObject()) {
    info.completed = Int(document["counts"], "completed");
    info.failed = Int(document["counts"], "failed");
  }
  if (document.HasMember("latest") && document["latest"].IsObject()) {
    const auto& latest = document["latest"];
    if (latest.HasMember("completed") && latest["completed"].IsObject()) {
      info.latest_time = Int(latest["completed"], "latest_ack_timestamp");
      info.latest_path = String(latest["completed"], "external_path");
    }
  }
  return info;
}

Result<bool> FlinkRest::AllTasksRunning(const std::string& job_id) const {
  ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/jobs/" + job_id, ""));
  ARROW_ASSIGN_OR_RAISE(auto document, Json(response, "Flink job " + job_id));
  if (!document.HasMember("vertices") || !document["vertices"].IsArray()) return false;
  for (const auto& vertex : document["vertices"].GetArray()) {
    if (!vertex.IsObject() || String(vertex, "status") != "RUNNING") return false;
  }
  return !document["vertices"].Empty();
}

Status FlinkRest::WaitForJob(const std::string& job_id) const {
  const std::string what = "Flink job " + job_id;
  auto pause = std::chrono::milliseconds(20);
  while (true) {
    ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/jobs/" + job_id, ""));
    ARROW_ASSIGN_OR_RAISE(auto document, Json(response, what));
    const std::string state = String(document, "state");
    if (state == "FINISHED") return Status::OK();
    if (state == "FAILED" || state == "CANCELED" || state == "SUSPENDED") {
      ARROW_ASSIGN_OR_RAISE(std::string cause, RootException(job_id));
      return Status::IOError(what, " ", state == "FAILED" ? "failed" : state,
                             cause.empty() ? "" : ": ", cause);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

Result<std::string> FlinkRest::RootException(const std::string& job_id) const {
  ARROW_ASSIGN_OR_RAISE(auto response, Http("GET", rest_ + "/jobs/" + job_id + "/exceptions", ""));
  ARROW_ASSIGN_OR_RAISE(auto parsed, Json(response, "exceptions of Flink job " + job_id));
  const rapidjson::Value& document = parsed;
  auto history = document.FindMember("exceptionHistory");
  if (history != document.MemberEnd() && history->value.IsObject() &&
      history->value.HasMember("entries") && history->value["entries"].IsArray() &&
      !history->value["entries"].Empty()) {
    const auto& entry = history->value["entries"][0];
    if (entry.IsObject()) {
      std::string trace = String(entry, "stacktrace");
      std::string first = trace.substr(0, trace.find('\n'));
      std::string cause = FlinkError(trace);
      return cause == trace.substr(0, std::min<size_t>(trace.size(), 500)) ? first : cause;
    }
  }
  return std::string();
}

Result<std::string> FlinkRest::Execute(const std::vector<std::string>& statements) const {
  if (gateway_.empty()) {
    return Status::Invalid(
        "stream_engine.sql_gateway is not set: Headwater submits Flink jobs "
        "through the SQL Gateway");
  }
  const std::string what = "Flink SQL Gateway " + gateway_;
  ARROW_ASSIGN_OR_RAISE(auto opened, Http("POST", gateway_ + "/v1/sessions", "{}"));
  ARROW_ASSIGN_OR_RAISE(auto session_json, Json(opened, what));
  const std::string session = gateway_ + "/v1/sessions/" + String(session_json, "sessionHandle");
  std::string job;
  Status status = Status::OK();
  for (const std::string& statement : statements) {
    JsonWriter body;
    body.BeginObject().Key("statement").String(statement).EndObject();
    auto submitted = Http("POST", session + "/statements", body.Take());
    if (!submitted.ok()) {
      status = submitted.status();
      break;
    }
    auto operation = Json(*submitted, what);
    if (!operation.ok()) {
      status = operation.status();
      break;
    }
    const std::string result =
        session + "/operations/" + String(*operation, "operationHandle") + "/result/0";
    // Poll until the statement has run (an INSERT: until its job is submitted).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (true) {
      auto fetched = Http("GET", result, "", 60'000);
      if (!fetched.ok()) {
        status = fetched.status();
        break;
      }
      auto answer = Json(*fetched, what);
      if (!answer.ok()) {
        status =
            Status::Invalid("Flink refused `", statement.substr(0, 80),
                            statement.size() > 80 ? "...`" : "`", ": ", answer.status().message());
        break;
      }
      if (String(*answer, "resultType") != "NOT_READY") {
        if (!String(*answer, "jobID").empty()) job = String(*answer, "jobID");
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        status = Status::IOError(what, ": no answer to a statement after 2 minutes");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!status.ok()) break;
  }
  (void)Http("DELETE", session, "");
  ARROW_RETURN_NOT_OK(status);
  return job;
}

}  // namespace headwater::flink
