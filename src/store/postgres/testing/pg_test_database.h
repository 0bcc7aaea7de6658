#pragma once

// The PostgreSQL server of the tests (tests/postgres/server.sh, started by
// ctest's postgres_server fixture) and fresh schemas on it, for the tests of
// the PostgreSQL backend and of the layers above it run on that backend.
//
// The server's DSN is STACKBILL_TEST_POSTGRES_DSN, else the contents of the
// file named by STACKBILL_TEST_POSTGRES_DSN_FILE, else of the fixture's file
// in the build tree. With none of them there, the calls fail: not a skip, as
// CI always provides the server.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct pg_conn;

namespace stackbill::postgres_testing {

// The DSN of the test server.
absl::StatusOr<std::string> TestServerDsn();

// A new, empty schema t_<pid>_<n> on the test server, dropped when the test
// program ends, and a DSN whose sessions use it (search_path).
absl::StatusOr<std::string> NewTestSchema();

struct FinishConn {
  void operator()(pg_conn* conn) const;
};
using RawConn = std::unique_ptr<pg_conn, FinishConn>;

// A plain libpq connection (no store), for looking into the server.
absl::StatusOr<RawConn> ConnectRaw(const std::string& dsn);

// The first column of the first row of `sql` ("" when there is no row).
absl::StatusOr<std::string> QueryValue(pg_conn* conn, const std::string& sql);

}  // namespace stackbill::postgres_testing
