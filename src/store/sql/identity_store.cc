#include <map>
#include <set>

#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::string_view kTokenColumns =
    "id, principal_id, hash, created_s, created_ns, expires_s, expires_ns, revoked_s, revoked_ns";

TokenRecord ReadToken(Statement& stmt) {
  TokenRecord token;
  token.id = stmt.ReadText();
  token.principal_id = stmt.ReadGuid();
  token.hash = stmt.ReadBlob();
  token.created_at = stmt.ReadTime();
  token.expires_at = stmt.ReadTime();
  token.revoked_at = stmt.ReadOptionalTime();
  return token;
}

Principal ReadPrincipal(Statement& stmt) {
  Principal principal;
  principal.object_id = stmt.ReadGuid();
  principal.directory_id = stmt.ReadGuid();
  principal.name = stmt.ReadText();
  principal.kind = ReadEnum<PrincipalKind>(stmt);
  return principal;
}

RoleAssignment ReadRoleAssignment(Statement& stmt) {
  RoleAssignment assignment;
  assignment.id = stmt.ReadText();
  assignment.principal_id = stmt.ReadGuid();
  assignment.role = ReadEnum<Role>(stmt);
  assignment.scope = stmt.ReadText();
  return assignment;
}

absl::Status DirectoryNotFound(const Guid& id) {
  return NotFoundError("DirectoryNotFound", Cat("directory ", id.ToString(), " not found"));
}

absl::Status PrincipalNotFound(const Guid& id) {
  return NotFoundError("PrincipalNotFound", Cat("principal ", id.ToString(), " not found"));
}

class SqlIdentityStore final : public IdentityStore {
 public:
  explicit SqlIdentityStore(Database& database) : db_(database) {}

  absl::StatusOr<std::string> ServerSecret(std::string_view name,
                                           std::string_view candidate) override {
    if (candidate.empty()) return absl::InvalidArgumentError("a server secret cannot be empty");
    std::string secret;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(
          c.Run("INSERT INTO server_secrets (name, secret) VALUES (?, ?) ON CONFLICT DO NOTHING",
                {TextValue(name), BlobValue(candidate)}));
      STACKBILL_ASSIGN_OR_RETURN(Statement get,
                                 c.Prepare("SELECT secret FROM server_secrets WHERE name = ?"));
      get.BindText(name);
      STACKBILL_ASSIGN_OR_RETURN(bool row, get.Step());
      if (!row) return absl::InternalError("server secret neither stored nor found");
      secret = get.ReadBlob();
      return absl::OkStatus();
    }));
    return secret;
  }

  absl::Status CreateDirectory(const Directory& directory) override {
    STACKBILL_RETURN_IF_ERROR(CheckDomains(directory));
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool exists, RowExists(c, "SELECT 1 FROM directories WHERE id = ?",
                                                        {GuidValue(directory.id)}));
      if (exists) {
        return AlreadyExistsError("DirectoryAlreadyExists",
                                  Cat("directory ", directory.id.ToString(), " already exists"));
      }
      STACKBILL_RETURN_IF_ERROR(CheckOwner(c, directory));
      STACKBILL_RETURN_IF_ERROR(CheckDomainsFree(c, directory));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare(
              "INSERT INTO directories (id, display_name, owner_partner_id) VALUES (?, ?, ?)"));
      insert.BindGuid(directory.id)
          .BindText(directory.display_name)
          .BindOptionalText(directory.owner_partner_id);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      return InsertDomains(c, directory);
    });
  }

  absl::Status UpdateDirectory(const Directory& directory) override {
    STACKBILL_RETURN_IF_ERROR(CheckDomains(directory));
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE directories SET display_name = ?, owner_partner_id = ? WHERE id = ?"));
      STACKBILL_RETURN_IF_ERROR(CheckOwner(c, directory));
      update.BindText(directory.display_name)
          .BindOptionalText(directory.owner_partner_id)
          .BindGuid(directory.id);
      STACKBILL_RETURN_IF_ERROR(update.Run());
      if (c.changes() == 0) return DirectoryNotFound(directory.id);
      STACKBILL_RETURN_IF_ERROR(
          c.Run("DELETE FROM directory_domains WHERE directory_id = ?", {GuidValue(directory.id)}));
      STACKBILL_RETURN_IF_ERROR(CheckDomainsFree(c, directory));
      return InsertDomains(c, directory);
    });
  }

  absl::StatusOr<Directory> GetDirectory(const Guid& id) override {
    Directory directory;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(directory, ReadDirectory(c, id));
      return absl::OkStatus();
    }));
    return directory;
  }

  absl::StatusOr<Directory> FindDirectoryByDomain(std::string_view domain) override {
    Directory directory;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT directory_id FROM directory_domains WHERE domain_key = ?"));
      stmt.BindText(Lower(domain));
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return NotFoundError("DirectoryNotFound",
                             Cat("no directory has the domain '", domain, "'"));
      }
      const Guid id = stmt.ReadGuid();
      STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      STACKBILL_ASSIGN_OR_RETURN(directory, ReadDirectory(c, id));
      return absl::OkStatus();
    }));
    return directory;
  }

  absl::StatusOr<std::vector<Directory>> ListDirectories() override {
    std::vector<Directory> directories;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT id, display_name, owner_partner_id FROM directories ORDER BY id"));
      std::map<Guid, std::size_t> index;
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        Directory directory;
        directory.id = stmt.ReadGuid();
        directory.display_name = stmt.ReadText();
        directory.owner_partner_id = stmt.ReadOptionalText();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        index[directory.id] = directories.size();
        directories.push_back(std::move(directory));
      }
      STACKBILL_ASSIGN_OR_RETURN(Statement domains,
                                 c.Prepare("SELECT directory_id, domain FROM directory_domains "
                                           "ORDER BY directory_id, position"));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, domains.Step());
        if (!row) break;
        const Guid id = domains.ReadGuid();
        std::string domain = domains.ReadText();
        STACKBILL_RETURN_IF_ERROR(domains.read_status());
        auto it = index.find(id);
        if (it != index.end()) directories[it->second].domains.push_back(std::move(domain));
      }
      return absl::OkStatus();
    }));
    return directories;
  }

  absl::Status CreatePrincipal(const Principal& principal) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool exists,
                                 RowExists(c, "SELECT 1 FROM principals WHERE object_id = ?",
                                           {GuidValue(principal.object_id)}));
      if (exists) {
        return AlreadyExistsError(
            "PrincipalAlreadyExists",
            Cat("principal ", principal.object_id.ToString(), " already exists"));
      }
      STACKBILL_ASSIGN_OR_RETURN(bool directory,
                                 RowExists(c, "SELECT 1 FROM directories WHERE id = ?",
                                           {GuidValue(principal.directory_id)}));
      if (!directory) return DirectoryNotFound(principal.directory_id);
      STACKBILL_ASSIGN_OR_RETURN(
          bool name_taken,
          RowExists(c, "SELECT 1 FROM principals WHERE directory_id = ? AND name_key = ?",
                    {GuidValue(principal.directory_id), TextValue(Lower(principal.name))}));
      if (name_taken) {
        return AlreadyExistsError("PrincipalAlreadyExists",
                                  Cat("directory ", principal.directory_id.ToString(),
                                      ": a principal named '", principal.name, "' already exists"));
      }
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare("INSERT INTO principals (object_id, directory_id, name, name_key, kind) "
                    "VALUES (?, ?, ?, ?, ?)"));
      insert.BindGuid(principal.object_id)
          .BindGuid(principal.directory_id)
          .BindText(principal.name)
          .BindText(Lower(principal.name));
      BindEnum(insert, principal.kind);
      return insert.Run();
    });
  }

  absl::StatusOr<Principal> GetPrincipal(const Guid& object_id) override {
    return ReadOnePrincipal(
        "SELECT object_id, directory_id, name, kind FROM principals WHERE object_id = ?",
        {GuidValue(object_id)}, [&] { return PrincipalNotFound(object_id); });
  }

  absl::StatusOr<Principal> FindPrincipalByName(const Guid& directory_id,
                                                std::string_view name) override {
    return ReadOnePrincipal(
        "SELECT object_id, directory_id, name, kind FROM principals "
        "WHERE directory_id = ? AND name_key = ?",
        {GuidValue(directory_id), TextValue(Lower(name))}, [&] {
          return NotFoundError("PrincipalNotFound", Cat("directory ", directory_id.ToString(),
                                                        ": no principal named '", name, "'"));
        });
  }

  absl::StatusOr<std::vector<Principal>> ListPrincipals(
      const std::optional<Guid>& directory_id) override {
    Where where;
    if (directory_id) where.Add("directory_id = ?", {GuidValue(*directory_id)});
    std::vector<Principal> principals;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare(Cat("SELECT object_id, directory_id, name, kind FROM principals", where.Sql(),
                        " ORDER BY object_id")));
      stmt.BindValues(where.values());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        principals.push_back(ReadPrincipal(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return principals;
  }

  absl::Status CreateToken(const TokenRecord& token) override {
    if (token.id.empty() || token.hash.empty() || token.revoked_at) {
      return absl::InvalidArgumentError(
          "a new token needs an id and a hash, and cannot be revoked already");
    }
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool principal,
                                 RowExists(c, "SELECT 1 FROM principals WHERE object_id = ?",
                                           {GuidValue(token.principal_id)}));
      if (!principal) return PrincipalNotFound(token.principal_id);
      STACKBILL_ASSIGN_OR_RETURN(bool taken,
                                 RowExists(c, "SELECT 1 FROM tokens WHERE id = ? OR hash = ?",
                                           {TextValue(token.id), BlobValue(token.hash)}));
      if (taken) {
        return AlreadyExistsError("TokenAlreadyExists",
                                  Cat("token ", token.id, ": id or hash already taken"));
      }
      STACKBILL_ASSIGN_OR_RETURN(Statement insert,
                                 c.Prepare(Cat("INSERT INTO tokens (", kTokenColumns,
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")));
      insert.BindText(token.id)
          .BindGuid(token.principal_id)
          .BindBlob(token.hash)
          .BindTime(token.created_at)
          .BindTime(token.expires_at)
          .BindOptionalTime(token.revoked_at);
      return insert.Run();
    });
  }

  absl::StatusOr<TokenRecord> GetToken(std::string_view id) override {
    std::optional<TokenRecord> token;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(token, ReadTokenWhere(c, "id = ?", TextValue(id)));
      return absl::OkStatus();
    }));
    if (!token) return NotFoundError("TokenNotFound", Cat("token ", id, " not found"));
    return *token;
  }

  absl::StatusOr<TokenRecord> FindTokenByHash(std::string_view hash, Timestamp now) override {
    std::optional<TokenRecord> token;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(token, ReadTokenWhere(c, "hash = ?", BlobValue(hash)));
      return absl::OkStatus();
    }));
    if (!token || !token->IsActiveAt(now)) {
      return NotFoundError(store_errors::kInvalidToken, "no active token has this hash");
    }
    return *token;
  }

  absl::StatusOr<std::vector<TokenRecord>> ListTokens(const Guid& principal_id) override {
    std::vector<TokenRecord> tokens;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT ", kTokenColumns,
                                               " FROM tokens WHERE principal_id = ? "
                                               "ORDER BY created_s, created_ns, id")));
      stmt.BindGuid(principal_id);
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        tokens.push_back(ReadToken(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return tokens;
  }

  absl::StatusOr<TokenRecord> RevokeToken(std::string_view id, Timestamp at) override {
    std::optional<TokenRecord> token;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(token, ReadTokenWhere(c, "id = ?", TextValue(id)));
      if (!token || token->revoked_at) return absl::OkStatus();
      token->revoked_at = at;
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE tokens SET revoked_s = ?, revoked_ns = ? WHERE id = ?"));
      update.BindTime(at).BindText(id);
      return update.Run();
    }));
    if (!token) return NotFoundError("TokenNotFound", Cat("token ", id, " not found"));
    return *token;
  }

  absl::StatusOr<bool> PutRoleAssignment(const RoleAssignment& assignment) override {
    if (assignment.id.empty()) {
      return absl::InvalidArgumentError("a role assignment needs an id");
    }
    bool created = false;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(bool principal,
                                 RowExists(c, "SELECT 1 FROM principals WHERE object_id = ?",
                                           {GuidValue(assignment.principal_id)}));
      if (!principal) return PrincipalNotFound(assignment.principal_id);
      STACKBILL_ASSIGN_OR_RETURN(
          bool exists,
          RowExists(c, "SELECT 1 FROM role_assignments WHERE id = ?", {TextValue(assignment.id)}));
      created = !exists;
      STACKBILL_ASSIGN_OR_RETURN(
          Statement put, c.Prepare("INSERT INTO role_assignments (principal_id, role, scope, id) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                                   "principal_id = excluded.principal_id, role = excluded.role, "
                                   "scope = excluded.scope"));
      put.BindGuid(assignment.principal_id);
      BindEnum(put, assignment.role);
      put.BindText(assignment.scope).BindText(assignment.id);
      return put.Run();
    }));
    return created;
  }

  absl::StatusOr<RoleAssignment> GetRoleAssignment(std::string_view id) override {
    std::optional<RoleAssignment> assignment;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT id, principal_id, role, scope FROM role_assignments WHERE id = ?"));
      stmt.BindText(id);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) {
        assignment = ReadRoleAssignment(stmt);
        return stmt.read_status();
      }
      return absl::OkStatus();
    }));
    if (!assignment) {
      return NotFoundError("RoleAssignmentNotFound", Cat("role assignment ", id, " not found"));
    }
    return *assignment;
  }

  absl::StatusOr<std::vector<RoleAssignment>> ListRoleAssignments(
      const std::optional<Guid>& principal_id) override {
    Where where;
    if (principal_id) where.Add("principal_id = ?", {GuidValue(*principal_id)});
    std::vector<RoleAssignment> assignments;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare(Cat("SELECT id, principal_id, role, scope FROM role_assignments", where.Sql(),
                        " ORDER BY id")));
      stmt.BindValues(where.values());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        assignments.push_back(ReadRoleAssignment(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return assignments;
  }

  absl::Status DeleteRoleAssignment(std::string_view id) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(
          c.Run("DELETE FROM role_assignments WHERE id = ?", {TextValue(id)}));
      if (c.changes() == 0) {
        return NotFoundError("RoleAssignmentNotFound", Cat("role assignment ", id, " not found"));
      }
      return absl::OkStatus();
    });
  }

 private:
  static absl::Status CheckDomains(const Directory& directory) {
    std::set<std::string> seen;
    for (const auto& domain : directory.domains) {
      if (domain.empty() || !seen.insert(Lower(domain)).second) {
        return absl::InvalidArgumentError(Cat("directory ", directory.id.ToString(), ": domain '",
                                              domain, "' is empty or listed twice"));
      }
    }
    return absl::OkStatus();
  }

  static absl::Status CheckOwner(Connection& c, const Directory& directory) {
    if (!directory.owner_partner_id) return absl::OkStatus();
    STACKBILL_ASSIGN_OR_RETURN(bool partner, RowExists(c, "SELECT 1 FROM partners WHERE id = ?",
                                                       {TextValue(*directory.owner_partner_id)}));
    if (!partner) {
      return NotFoundError("PartnerNotFound",
                           Cat("partner ", *directory.owner_partner_id, " not found"));
    }
    return absl::OkStatus();
  }

  static absl::Status CheckDomainsFree(Connection& c, const Directory& directory) {
    for (const auto& domain : directory.domains) {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT directory_id FROM directory_domains WHERE domain_key = ?"));
      stmt.BindText(Lower(domain));
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) {
        const Guid owner = stmt.ReadGuid();
        return AlreadyExistsError(
            "DomainAlreadyExists",
            Cat("domain '", domain, "' belongs to directory ", owner.ToString()));
      }
    }
    return absl::OkStatus();
  }

  static absl::Status InsertDomains(Connection& c, const Directory& directory) {
    std::int64_t position = 0;
    for (const auto& domain : directory.domains) {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare("INSERT INTO directory_domains (domain_key, domain, directory_id, position) "
                    "VALUES (?, ?, ?, ?)"));
      insert.BindText(Lower(domain)).BindText(domain).BindGuid(directory.id).BindInt(position++);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<Directory> ReadDirectory(Connection& c, const Guid& id) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt,
        c.Prepare("SELECT display_name, owner_partner_id FROM directories WHERE id = ?"));
    stmt.BindGuid(id);
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return DirectoryNotFound(id);
    Directory directory;
    directory.id = id;
    directory.display_name = stmt.ReadText();
    directory.owner_partner_id = stmt.ReadOptionalText();
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    STACKBILL_ASSIGN_OR_RETURN(
        Statement domains,
        c.Prepare("SELECT domain FROM directory_domains WHERE directory_id = ? ORDER BY position"));
    domains.BindGuid(id);
    while (true) {
      STACKBILL_ASSIGN_OR_RETURN(bool domain_row, domains.Step());
      if (!domain_row) break;
      directory.domains.push_back(domains.ReadText());
    }
    return directory;
  }

  static absl::StatusOr<std::optional<TokenRecord>> ReadTokenWhere(Connection& c,
                                                                   std::string_view condition,
                                                                   const SqlValue& value) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement stmt, c.Prepare(Cat("SELECT ", kTokenColumns, " FROM tokens WHERE ", condition)));
    stmt.BindValue(value);
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<TokenRecord>();
    TokenRecord token = ReadToken(stmt);
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());
    return std::optional<TokenRecord>(std::move(token));
  }

  template <typename NotFoundFn>
  absl::StatusOr<Principal> ReadOnePrincipal(std::string_view sql,
                                             const std::vector<SqlValue>& values,
                                             NotFoundFn not_found) {
    std::optional<Principal> principal;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
      stmt.BindValues(values);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      principal = ReadPrincipal(stmt);
      return stmt.read_status();
    }));
    if (!principal) return not_found();
    return *principal;
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<IdentityStore> NewSqlIdentityStore(Database& database) {
  return std::make_unique<SqlIdentityStore>(database);
}

}  // namespace stackbill::sql
