#pragma once

// The Store of every SQL backend (internal to store/sql and the backends):
// the area stores of store/sql on one Database.

#include <memory>

#include "store/sql/database.h"
#include "store/store.h"

namespace stackbill::sql {

// A Store whose area stores all run on `database`, which it owns.
std::unique_ptr<Store> NewSqlStore(std::unique_ptr<Database> database);

}  // namespace stackbill::sql
