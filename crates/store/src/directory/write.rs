//! The operator's writes to the directory (agencies, certificates, roles, sharing groups)
//! and what access control reads back (revoked certificates, group members).
//!
//! Every write runs in one transaction with its idempotency key and its audit record, like
//! the exchanges' writes: a retried `request_id` changes nothing twice, and no change exists
//! without its record. After each commit the directory's version is bumped, so that open
//! streams re-check their callers at once (see [`Store::watch_directory`]).

use liaison_core::{AgencyId, GroupId, PrincipalId, Role, Timestamp};

use crate::{AgencyRecord, Store, StoreError, tx::WritePool, with_pool};

/// What a directory write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryWrite {
    /// Applied now.
    Done,
    /// The request_id was seen before for this method: nothing changed again.
    Repeated,
    /// The object to change does not exist (its kind).
    Missing(&'static str),
    /// The object to create exists already (its kind).
    Exists(&'static str),
}

/// Who makes a directory change, and its audit record.
#[derive(Debug, Clone)]
pub struct DirectoryChange<'a> {
    /// The operator.
    pub actor: &'a PrincipalId,
    /// The client's idempotency key.
    pub request_id: &'a str,
    /// Full gRPC method, for the idempotency key.
    pub method: &'static str,
    /// The object changed, for the idempotency key and the audit index.
    pub object_id: String,
    /// The canonical audit record, committed with the change.
    pub audit_record: Vec<u8>,
    /// When.
    pub now: Timestamp,
}

/// A sharing group with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingGroupRecord {
    /// Group id.
    pub id: GroupId,
    /// Name.
    pub name: String,
    /// Member agencies, in id order.
    pub members: Vec<AgencyId>,
}

/// A bound value of a statement.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// One statement of a write; `must_change` names the object when zero affected rows
/// means it does not exist.
#[derive(Debug)]
struct Statement {
    sql: &'static str,
    args: Vec<Arg>,
    must_change: Option<&'static str>,
}

impl Statement {
    fn new(sql: &'static str, args: Vec<Arg>) -> Self {
        Self {
            sql,
            args,
            must_change: None,
        }
    }

    fn must_change(mut self, what: &'static str) -> Self {
        self.must_change = Some(what);
        self
    }
}

fn text(value: &str) -> Arg {
    Arg::Text(value.to_owned())
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

macro_rules! bound {
    ($sql:expr, $args:expr) => {{
        let mut query = sqlx::query($sql);
        for arg in $args {
            query = match arg {
                Arg::Text(value) => query.bind(value.clone()),
                Arg::OptText(value) => query.bind(value.clone()),
                Arg::Int(value) => query.bind(*value),
            };
        }
        query
    }};
}

impl Store {
    /// Runs `statements` in one transaction with the idempotency key and audit record of
    /// `change`, then tells directory watchers.
    async fn directory_write(
        &self,
        change: &DirectoryChange<'_>,
        statements: Vec<Statement>,
    ) -> Result<DirectoryWrite, StoreError> {
        let principal_key = change.actor.to_string();
        let result: Result<DirectoryWrite, StoreError> = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let earlier: Option<String> = sqlx::query_scalar(
                "SELECT method FROM idempotency_keys WHERE principal = $1 AND request_id = $2",
            )
            .bind(&principal_key)
            .bind(change.request_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(method) = earlier {
                tx.rollback().await?;
                return if method == change.method {
                    Ok(DirectoryWrite::Repeated)
                } else {
                    Err(StoreError::RequestIdReused(method))
                };
            }
            let mut outcome = DirectoryWrite::Done;
            for statement in &statements {
                let done = bound!(statement.sql, &statement.args).execute(&mut *tx).await;
                match done {
                    Ok(done) if done.rows_affected() == 0 && statement.must_change.is_some() => {
                        outcome = DirectoryWrite::Missing(statement.must_change.unwrap_or("object"));
                        break;
                    }
                    Ok(_) => {}
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        outcome = DirectoryWrite::Exists(statement.must_change.unwrap_or("object"));
                        break;
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            if outcome != DirectoryWrite::Done {
                tx.rollback().await?;
                return Ok(outcome);
            }
            sqlx::query(
                "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&principal_key)
            .bind(change.request_id)
            .bind(change.method)
            .bind(&change.object_id)
            .bind(change.now.as_micros())
            .execute(&mut *tx)
            .await?;
            let record = String::from_utf8_lossy(&change.audit_record).into_owned();
            crate::outbox::write_outbox!(
                tx, pool, crate::audit::TOPIC, "record", change.object_id.as_str(), change.now, Some(record)
            );
            tx.commit().await?;
            Ok(DirectoryWrite::Done)
        });
        if result
            .as_ref()
            .is_ok_and(|outcome| *outcome == DirectoryWrite::Done)
        {
            self.signals.outbox.notify_one();
            self.signals.directory.send_modify(|version| *version += 1);
        }
        result
    }

    /// Follows the directory's version in this process: it changes after every operator
    /// write. Open streams wait on it to re-check their callers.
    pub fn watch_directory(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signals.directory.subscribe()
    }

    /// Registers a new agency, active.
    pub async fn register_agency(
        &self,
        change: &DirectoryChange<'_>,
        agency: &AgencyRecord,
    ) -> Result<DirectoryWrite, StoreError> {
        let (native_name, native_language) = agency.native_name.clone().unzip();
        self.directory_write(
            change,
            vec![
                Statement::new(
                    "INSERT INTO agencies (id, name, native_name, native_language, kind, state_code, status)
                     VALUES ($1, $2, $3, $4, $5, $6, 'active')",
                    vec![
                        text(agency.id.as_str()),
                        text(&agency.name),
                        Arg::OptText(native_name),
                        Arg::OptText(native_language),
                        text(agency.kind.as_str()),
                        Arg::OptText(agency.state.as_ref().map(|state| state.code.clone())),
                    ],
                )
                .must_change("agency"),
            ],
        )
        .await
    }

    /// Suspends an agency or lifts its suspension.
    pub async fn set_agency_suspended(
        &self,
        change: &DirectoryChange<'_>,
        agency: &AgencyId,
        suspended: bool,
    ) -> Result<DirectoryWrite, StoreError> {
        let status = if suspended { "suspended" } else { "active" };
        self.directory_write(
            change,
            vec![
                Statement::new(
                    "UPDATE agencies SET status = $1 WHERE id = $2",
                    vec![text(status), text(agency.as_str())],
                )
                .must_change("agency"),
            ],
        )
        .await
    }

    /// Records a certificate of `principal` and creates the principal with `roles`, or
    /// replaces its roles.
    pub async fn register_certificate(
        &self,
        change: &DirectoryChange<'_>,
        principal: &PrincipalId,
        roles: &[Role],
        sha256: &str,
        not_after: Timestamp,
    ) -> Result<DirectoryWrite, StoreError> {
        let principal_args = || {
            vec![
                text(principal.agency().as_str()),
                text(principal.kind().as_str()),
                text(principal.name().as_str()),
            ]
        };
        let mut principal_row = principal_args();
        principal_row.push(Arg::Text(roles_text(roles)));
        let mut certificate_row = vec![text(sha256)];
        certificate_row.extend(principal_args());
        certificate_row.push(Arg::Int(not_after.as_micros()));
        certificate_row.push(Arg::Int(change.now.as_micros()));
        self.directory_write(
            change,
            vec![
                Statement::new(
                    "INSERT INTO principals (agency_id, kind, name, roles) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (agency_id, kind, name) DO UPDATE SET roles = excluded.roles",
                    principal_row,
                ),
                Statement::new(
                    "INSERT INTO certificates (sha256, agency_id, kind, name, not_after_us, registered_us)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    certificate_row,
                )
                .must_change("certificate"),
            ],
        )
        .await
    }

    /// Revokes a certificate by fingerprint, registered or not. Revoking twice keeps the
    /// first time and reason.
    pub async fn revoke_certificate(
        &self,
        change: &DirectoryChange<'_>,
        sha256: &str,
        reason: &str,
    ) -> Result<DirectoryWrite, StoreError> {
        self.directory_write(
            change,
            vec![Statement::new(
                "INSERT INTO certificates (sha256, revoked_us, revoke_reason) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256) DO UPDATE
                    SET revoked_us = COALESCE(certificates.revoked_us, excluded.revoked_us),
                        revoke_reason = COALESCE(certificates.revoke_reason, excluded.revoke_reason)",
                vec![text(sha256), Arg::Int(change.now.as_micros()), text(reason)],
            )],
        )
        .await
    }

    /// Replaces the roles of a principal the directory knows.
    pub async fn assign_roles(
        &self,
        change: &DirectoryChange<'_>,
        principal: &PrincipalId,
        roles: &[Role],
    ) -> Result<DirectoryWrite, StoreError> {
        self.directory_write(
            change,
            vec![
                Statement::new(
                    "UPDATE principals SET roles = $1 WHERE agency_id = $2 AND kind = $3 AND name = $4",
                    vec![
                        Arg::Text(roles_text(roles)),
                        text(principal.agency().as_str()),
                        text(principal.kind().as_str()),
                        text(principal.name().as_str()),
                    ],
                )
                .must_change("principal"),
            ],
        )
        .await
    }

    /// Creates a sharing group (`create`) or replaces an existing one's name and members.
    /// Members must be agencies the directory knows; the caller checks.
    pub async fn put_sharing_group(
        &self,
        change: &DirectoryChange<'_>,
        group: &SharingGroupRecord,
        create: bool,
    ) -> Result<DirectoryWrite, StoreError> {
        let mut statements = vec![if create {
            Statement::new(
                "INSERT INTO sharing_groups (id, name) VALUES ($1, $2)",
                vec![text(group.id.as_str()), text(&group.name)],
            )
            .must_change("sharing group")
        } else {
            Statement::new(
                "UPDATE sharing_groups SET name = $2 WHERE id = $1",
                vec![text(group.id.as_str()), text(&group.name)],
            )
            .must_change("sharing group")
        }];
        statements.push(Statement::new(
            "DELETE FROM sharing_group_members WHERE group_id = $1",
            vec![text(group.id.as_str())],
        ));
        for member in &group.members {
            statements.push(Statement::new(
                "INSERT INTO sharing_group_members (group_id, agency_id) VALUES ($1, $2)",
                vec![text(group.id.as_str()), text(member.as_str())],
            ));
        }
        self.directory_write(change, statements).await
    }

    /// Sharing groups in id order: all of them, or those `member` belongs to.
    pub async fn list_sharing_groups(
        &self,
        member: Option<&AgencyId>,
    ) -> Result<Vec<SharingGroupRecord>, StoreError> {
        let rows: Vec<(String, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT g.id, g.name, m.agency_id FROM sharing_groups g
                 LEFT JOIN sharing_group_members m ON m.group_id = g.id
                 WHERE $1 = '' OR g.id IN (SELECT group_id FROM sharing_group_members WHERE agency_id = $1)
                 ORDER BY g.id, m.agency_id",
            )
            .bind(member.map(AgencyId::as_str).unwrap_or(""))
            .fetch_all(pool)
            .await?
        });
        let mut groups: Vec<SharingGroupRecord> = Vec::new();
        for (id, name, agency) in rows {
            if groups.last().is_none_or(|group| group.id.as_str() != id) {
                groups.push(SharingGroupRecord {
                    id: GroupId::parse(&id)
                        .map_err(|_| StoreError::Corrupt(format!("group id {id:?}")))?,
                    name,
                    members: Vec::new(),
                });
            }
            if let (Some(agency), Some(group)) = (agency, groups.last_mut()) {
                group.members.push(
                    AgencyId::parse(&agency)
                        .map_err(|_| StoreError::Corrupt(format!("agency id {agency:?}")))?,
                );
            }
        }
        Ok(groups)
    }

    /// One sharing group.
    pub async fn get_sharing_group(
        &self,
        id: &GroupId,
    ) -> Result<Option<SharingGroupRecord>, StoreError> {
        let name: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT name FROM sharing_groups WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        let Some(name) = name else { return Ok(None) };
        Ok(Some(SharingGroupRecord {
            id: id.clone(),
            name,
            members: self.group_members(id).await?,
        }))
    }

    /// Fingerprints (SHA-256, hex) of every revoked certificate.
    pub async fn revoked_certificates(&self) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT sha256 FROM certificates WHERE revoked_us IS NOT NULL ORDER BY sha256")
                .fetch_all(pool)
                .await?
        }))
    }

    /// True when the certificate with this fingerprint is revoked.
    pub async fn is_certificate_revoked(&self, sha256: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT revoked_us FROM certificates WHERE sha256 = $1 AND revoked_us IS NOT NULL")
                .bind(sha256)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}

impl Store {
    /// A state's treaty position, if the directory knows the state.
    pub async fn get_state(&self, code: &str) -> Result<Option<crate::StateRecord>, StoreError> {
        let row: Option<(String, String, bool, bool, bool)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT code, name, budapest_convention, second_protocol, osce_participating_state
                 FROM states WHERE code = $1",
            )
            .bind(code)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(code, name, budapest_convention, second_protocol, osce_participating_state)| {
                crate::StateRecord {
                    code,
                    name,
                    budapest_convention,
                    second_protocol,
                    osce_participating_state,
                }
            },
        ))
    }
}
