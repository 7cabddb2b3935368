#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "commands.h"

namespace headwater::cli {
namespace {

std::variant<Invocation, int> Parse(std::vector<std::string> words) {
  words.insert(words.begin(), "headwater");
  std::vector<const char*> argv;
  for (const std::string& word : words) argv.push_back(word.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

Invocation Parsed(std::vector<std::string> words) {
  auto parsed = Parse(std::move(words));
  EXPECT_TRUE(std::holds_alternative<Invocation>(parsed));
  return std::holds_alternative<Invocation>(parsed) ? std::get<Invocation>(parsed) : Invocation{};
}

int ExitCode(std::vector<std::string> words) {
  auto parsed = Parse(std::move(words));
  EXPECT_TRUE(std::holds_alternative<int>(parsed));
  return std::holds_alternative<int>(parsed) ? std::get<int>(parsed) : -1;
}

TEST(CommandLineTest, MaterializeTakesStartEndViewsAndThreads) {
  Invocation invocation = Parsed({"-c", "/repo", "materialize", "2024-01-01T00:00:00",
                                  "2024-02-01T00:00:00", "-v", "a,b", "--threads", "3"});
  EXPECT_EQ(invocation.command, "materialize");
  EXPECT_EQ(invocation.global.repo, "/repo");
  EXPECT_EQ(invocation.materialize.start, "2024-01-01T00:00:00");
  EXPECT_EQ(invocation.materialize.end, "2024-02-01T00:00:00");
  EXPECT_EQ(invocation.materialize.views, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(invocation.materialize.threads, 3);
}

TEST(CommandLineTest, IncrementalTakesOnlyAnEnd) {
  Invocation invocation = Parsed({"materialize-incremental", "2024-02-01T00:00:00"});
  EXPECT_EQ(invocation.materialize.end, "2024-02-01T00:00:00");
  EXPECT_TRUE(invocation.materialize.start.empty());
  EXPECT_EQ(invocation.global.repo, ".");
  EXPECT_EQ(ExitCode({"materialize-incremental", "2024-01-01", "2024-02-01"}), 2);
}

TEST(CommandLineTest, RetrievalNeedsFeaturesOrAServiceButNotBoth) {
  Invocation online = Parsed({"get-online-features", "--features", "v:a,v:b", "--entities",
                              R"({"id": [1]})", "--full-feature-names"});
  EXPECT_EQ(online.online.features, (std::vector<std::string>{"v:a", "v:b"}));
  EXPECT_TRUE(online.online.full_feature_names);
  EXPECT_EQ(ExitCode({"get-online-features", "--entities", "{}"}), 2);
  EXPECT_EQ(ExitCode({"get-historical-features", "--entities", "e.csv", "--output", "o.parquet",
                      "--features", "v:a", "--feature-service", "s"}),
            2);
  Invocation historical = Parsed({"get-historical-features", "--entities", "e.csv", "--output",
                                  "o.parquet", "--feature-service", "s", "--threads", "2"});
  EXPECT_EQ(historical.historical.feature_service, "s");
  EXPECT_EQ(historical.historical.output, "o.parquet");
  EXPECT_EQ(historical.historical.threads, 2);
}

TEST(CommandLineTest, ServeOptionsAreRangeChecked) {
  Invocation serve = Parsed({"serve", "--port", "7000", "--workers", "2", "--host", "0.0.0.0"});
  EXPECT_EQ(serve.serve.port, 7000);
  EXPECT_EQ(serve.serve.workers, 2);
  EXPECT_EQ(serve.serve.host, "0.0.0.0");
  EXPECT_EQ(ExitCode({"serve", "--port", "0"}), 2);
  EXPECT_EQ(ExitCode({"serve", "--port", "70000"}), 2);
  EXPECT_EQ(ExitCode({"serve", "--port", "http"}), 2);
  EXPECT_EQ(ExitCode({"serve", "--io-timeout", "0"}), 2);
  EXPECT_EQ(ExitCode({"materialize", "a", "b", "--threads", "-1"}), 2);
}

TEST(CommandLineTest, OperandsLandInOnePlace) {
  EXPECT_EQ(Parsed({"init", "my_repo"}).operand, "my_repo");
  EXPECT_EQ(Parsed({"online-dump", "--view", "stats"}).operand, "stats");
  EXPECT_EQ(Parsed({"hash-token", "secret"}).operand, "secret");
  EXPECT_EQ(ExitCode({"init"}), 2);
}

TEST(CommandLineTest, UsageErrorsExitTwoAndHelpZero) {
  EXPECT_EQ(ExitCode({}), 2);                    // a subcommand is required
  EXPECT_EQ(ExitCode({"frobnicate"}), 2);        // unknown subcommand
  EXPECT_EQ(ExitCode({"apply", "--bogus"}), 2);  // unknown option
  EXPECT_EQ(ExitCode({"apply", "plan"}), 2);     // two subcommands
  EXPECT_EQ(ExitCode({"--help"}), 0);
  EXPECT_EQ(ExitCode({"--version"}), 0);
}

TEST(CommandLineTest, RunRefusesWhatParsingNeverProduces) {
  Invocation invocation;
  invocation.command = "frobnicate";
  Status status = cli::Run(invocation);
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_NE(status.message().find("frobnicate"), std::string::npos);
}

}  // namespace
}  // namespace headwater::cli
