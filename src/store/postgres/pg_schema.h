#pragma once

// The PostgreSQL schema of the store (internal to store/postgres) as an
// ordered list of migrations, the twin of store/sqlite's SchemaMigrations():
// the same tables and columns, because the area stores in store/sql run one
// SQL text on both backends. Column types follow store/sql/database.h's
// encodings on PostgreSQL: Guids and blobs bytea, integers, timestamps and
// booleans bigint, decimals numeric, other text `text COLLATE "C"` (bytewise,
// as SQLite's BINARY).

#include <span>
#include <string_view>

namespace stackbill::postgres {

// Migration i takes the schema from version i to i + 1. Each is one text of
// several statements, including PL/pgSQL bodies in $$ quotes: send it whole
// (a simple-query PQexec) inside the migration transaction, never split on
// ';'. Never edit a migration that has shipped: append a new one.
std::span<const std::string_view> PostgresSchemaMigrations();

}  // namespace stackbill::postgres
