#include "store/postgres/testing/pg_test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status_macros.h"
#include "gtest/gtest.h"
#include "store/postgres/pg_store.h"

namespace stackbill::postgres_testing {
namespace {

std::string Trim(std::string text) {
  const auto not_space = text.find_last_not_of(" \t\r\n");
  text.erase(not_space == std::string::npos ? 0 : not_space + 1);
  return text.substr(std::min(text.size(), text.find_first_not_of(" \t\r\n")));
}

}  // namespace

absl::StatusOr<std::string> TestServerDsn() {
  if (const char* dsn = std::getenv("STACKBILL_TEST_POSTGRES_DSN"); dsn != nullptr && *dsn) {
    return std::string(dsn);
  }
  const char* file = std::getenv("STACKBILL_TEST_POSTGRES_DSN_FILE");
  if (file == nullptr || *file == '\0') file = STACKBILL_TEST_POSTGRES_DSN_FILE_DEFAULT;
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string dsn = Trim(text.str());
  if (dsn.empty()) {
    return absl::FailedPreconditionError(
        std::string("no PostgreSQL DSN in ") + file +
        ": no PostgreSQL server for the test; ctest starts one (the postgres_server fixture: "
        "run the tests through ctest), or set STACKBILL_TEST_POSTGRES_DSN");
  }
  return dsn;
}

void FinishConn::operator()(PGconn* conn) const { PQfinish(conn); }

absl::StatusOr<RawConn> ConnectRaw(const std::string& dsn) {
  RawConn conn(PQconnectdb(dsn.c_str()));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(std::string("cannot connect to the test server: ") +
                                  (conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

absl::StatusOr<std::string> QueryValue(PGconn* conn, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn, sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return absl::InternalError(sql + ": " + PQresultErrorMessage(result.get()));
  }
  if (status != PGRES_TUPLES_OK || PQntuples(result.get()) == 0) return std::string();
  return std::string(PQgetvalue(result.get(), 0, 0));
}

namespace {

// `dsn` selecting `schema` as the session's search_path.
std::string WithSearchPath(const std::string& dsn, const std::string& schema) {
  if (IsPostgresLocation(dsn)) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema;
  }
  return dsn + " options='-c search_path=" + schema + "'";
}

// Drops the schemas this process made, when it ends.
class Schemas : public ::testing::Environment {
 public:
  void Add(std::string schema) {
    std::lock_guard<std::mutex> lock(mu_);
    names_.push_back(std::move(schema));
  }
  void TearDown() override {
    std::vector<std::string> names;
    {
      std::lock_guard<std::mutex> lock(mu_);
      names.swap(names_);
    }
    if (names.empty()) return;
    auto dsn = TestServerDsn();
    if (!dsn.ok()) return;
    auto conn = ConnectRaw(*dsn);
    if (!conn.ok()) return;
    for (const auto& name : names) {
      (void)QueryValue(conn->get(), "DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::string> names_;  // guarded by mu_
};

// Registered before main() runs the tests; googletest owns it.
Schemas* const registered_schemas =
    static_cast<Schemas*>(::testing::AddGlobalTestEnvironment(new Schemas));

}  // namespace

absl::StatusOr<std::string> NewTestSchema() {
  static std::atomic<int> counter{0};
  STACKBILL_ASSIGN_OR_RETURN(std::string server, TestServerDsn());
  STACKBILL_ASSIGN_OR_RETURN(RawConn conn, ConnectRaw(server));
  const std::string schema =
      "t_" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1));
  STACKBILL_RETURN_IF_ERROR(QueryValue(conn.get(), "CREATE SCHEMA " + schema).status());
  registered_schemas->Add(schema);
  return WithSearchPath(server, schema);
}

}  // namespace stackbill::postgres_testing
